// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package content is berth's content-addressed blob store: image layers,
// configs, manifests and indexes, each stored once under its digest.
//
// # Contract
//
// A blob is a byte sequence named by its digest
// (github.com/opencontainers/go-digest, sha256 unless the expected digest
// says otherwise). The store promises one thing above all: a blob that
// Info, ReaderAt or Walk can see is complete and its content hashes to its
// name. Nothing else in berth checks a stored blob again.
//
// Blobs get in through an ingest, named by a ref the caller chooses (the
// digest, or "pull-<digest>"). Store.Writer opens it; Write hashes bytes as
// they arrive; Writer.Commit checks size and digest and publishes the blob
// in one atomic step. An ingest outlives its Writer: Close, a failed
// download or a killed process leave it on disk, and the next Writer for
// the ref resumes at Offset. Store.Abort drops it; Store.ListIngests finds
// the ones left behind. One Writer per ref at a time, in this process and
// across processes: another gets errdefs.ErrUnavailable, which lets
// concurrent pulls of one layer share one download (the loser waits and
// then finds the blob). A blob that already exists is
// errdefs.ErrAlreadyExists, from Writer when the expected digest is known
// and from Commit otherwise; callers treat it as success.
//
// The store has no labels, leases or garbage collection: the metadata
// layer decides which blobs are referenced and calls Delete. Walk and
// Delete are safe while writes are under way.
//
// Errors are classed with github.com/containerd/errdefs: ErrNotFound (no
// such blob or ingest), ErrAlreadyExists, ErrUnavailable (ref in use),
// ErrFailedPrecondition (size or digest mismatch; the message names both
// digests), ErrInvalidArgument (malformed digest or empty ref).
//
// # Example
//
// Store a layer as it streams in, then read it back:
//
//	s, err := content.New("/var/lib/berth/content")
//	...
//	err = content.WriteBlob(ctx, s, "pull-"+desc.Digest.String(), body, desc.Size, desc.Digest)
//	if errdefs.IsUnavailable(err) {
//		// another pull is fetching it: wait, then s.Info(ctx, desc.Digest)
//	}
//	ra, err := s.ReaderAt(ctx, desc.Digest)
//	...
//	defer ra.Close()
//	layer := io.NewSectionReader(ra, 0, ra.Size())
//
// Or drive the ingest directly, which WriteBlob does for you:
//
//	w, err := s.Writer(ctx, ref, dgst, size) // ErrAlreadyExists: done
//	...
//	defer w.Close()
//	// resume: skip w.Offset() bytes of the source, or w.Truncate(0)
//	_, err = io.Copy(w, src)
//	...
//	err = w.Commit(ctx, size, dgst) // ErrAlreadyExists: done too
//
// # On-disk layout, version 1
//
//	<root>/version                      "1\n"
//	<root>/blobs/<alg>/<hex>            committed blobs, mode 0444
//	<root>/ingest/<sha256(ref)>/        one ingest; flock(2)ed by its Writer
//	<root>/ingest/<sha256(ref)>/ingest.json
//	                                    {"ref":…,"expected":…,"expectedsize":…,"startedat":…}
//	<root>/ingest/<sha256(ref)>/data    the bytes written so far
//
// <alg> is a go-digest algorithm ("sha256"), <hex> the encoded digest. The
// rule: a file under blobs/ is always complete and verified. It is
// reached only by Commit, which verifies the digest it computed while
// writing, fsyncs data, renames it to blobs/<alg>/<hex> (same file system,
// renameat2(2) with RENAME_NOREPLACE, so an existing blob is never
// replaced) and fsyncs that directory before removing the ingest. A crash
// at any point leaves either no blob or the complete one, and at worst an
// ingest, which is resumed (its data is hashed again on open) or aborted.
// ingest.json is written by temporary file and rename. Nothing but blobs
// is ever written under blobs/.
//
// New writes the version file into an empty root and refuses a root with
// another version. A future layout bumps the version and New migrates
// version 1 in place before serving, crash-safely (each step idempotent).
//
// Linux only: locking and the no-replace rename use Linux system calls;
// elsewhere they return errdefs.ErrNotImplemented.
package content
