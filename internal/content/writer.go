// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package content

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
)

// Writer writes one blob into an ingest and commits it. Bytes are hashed
// as they are written. A Writer is not safe for concurrent use.
type Writer interface {
	// Write appends to the ingest.
	io.Writer
	// Close releases the ref and keeps what was written, for a later
	// Writer with the same ref to resume. Close after Commit does nothing.
	io.Closer
	// Digest is the digest of everything written so far.
	Digest() digest.Digest
	// Offset is the number of bytes written so far, including those
	// written before a resume.
	Offset() int64
	// Commit checks the size (when size > 0) and the digest (when expected
	// is set; both default to what Writer was given), makes the data
	// durable and moves it into blobs/, then removes the ingest and
	// releases the ref. A blob already stored under that digest is an
	// errdefs.ErrAlreadyExists error, which callers treat as success; the
	// ingest is removed then too. A size or digest mismatch is an
	// errdefs.ErrFailedPrecondition error that leaves no blob and leaves
	// the Writer open with its ingest as it was: Truncate(0) and write
	// again, or Close and Abort. Any other failure closes the Writer and
	// keeps the ingest for a resume.
	Commit(ctx context.Context, size int64, expected digest.Digest) error
	// Truncate discards everything written after size bytes; size must
	// not exceed Offset. Truncate(0) restarts the ingest.
	Truncate(size int64) error
}

// Writer starts the ingest named ref, or resumes it where an earlier
// Writer left it (Offset tells where). A ref names one download, for
// example the blob's digest; concurrent writers of one ref exclude each
// other: a second Writer while one is open, in this process or another,
// gets an errdefs.ErrUnavailable error, so it can wait and then find the
// blob committed.
//
// expected and expectedSize may be zero when unknown. When expected is
// already stored, Writer returns an errdefs.ErrAlreadyExists error without
// touching the ingest. A resumed ingest must have been started with the
// same expected digest, or none; one that is longer than expectedSize is
// restarted.
func (s *Store) Writer(ctx context.Context, ref string, expected digest.Digest, expectedSize int64) (Writer, error) {
	if ref == "" {
		return nil, fmt.Errorf("ingest ref is empty: %w", errdefs.ErrInvalidArgument)
	}
	alg := digest.Canonical
	if expected != "" {
		if _, err := s.Info(ctx, expected); err == nil {
			return nil, fmt.Errorf("blob %s: %w", expected, errdefs.ErrAlreadyExists)
		} else if !errdefs.IsNotFound(err) {
			return nil, err
		}
		alg = expected.Algorithm()
	}
	l, err := s.lockIngest(ref, true)
	if err != nil {
		return nil, err
	}
	w, err := openIngest(l, ref, alg, expected, expectedSize)
	if err != nil {
		l.release()
		return nil, err
	}
	return w, nil
}

// openIngest opens the locked ingest, starting it if it has no
// ingest.json yet. The states a crash can leave are all handled: a
// directory without ingest.json (start over), ingest.json without data
// (offset 0), both (resume after hashing what is there).
func openIngest(l *ingestLock, ref string, alg digest.Algorithm, expected digest.Digest, expectedSize int64) (*writer, error) {
	info, err := readIngestInfo(l.dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		info = ingestInfo{Ref: ref, Expected: expected, ExpectedSize: expectedSize, StartedAt: time.Now().UTC()}
		b, err := json.Marshal(info)
		if err != nil {
			return nil, err
		}
		os.Remove(filepath.Join(l.dir, "data")) // of a start that died before ingest.json
		if err := writeFileAtomic(filepath.Join(l.dir, "ingest.json"), b); err != nil {
			return nil, fmt.Errorf("ingest %q: %w", ref, err)
		}
	case err != nil:
		return nil, fmt.Errorf("ingest %q: %w", ref, err)
	case expected != "" && info.Expected != "" && expected != info.Expected:
		return nil, fmt.Errorf("ingest %q was started for %s, not %s: %w", ref, info.Expected, expected, errdefs.ErrFailedPrecondition)
	}
	if expected == "" {
		expected = info.Expected
		if expected != "" {
			alg = expected.Algorithm()
		}
	}
	if expectedSize == 0 {
		expectedSize = info.ExpectedSize
	}
	if !alg.Available() {
		return nil, fmt.Errorf("digest algorithm %q: %w", alg, errdefs.ErrNotImplemented)
	}

	name := filepath.Join(l.dir, "data")
	os.Chmod(name, 0o600) // a commit that failed after making it read-only
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("ingest %q: %w", ref, err)
	}
	w := &writer{l: l, f: f, expected: expected, expectedSize: expectedSize, alg: alg}
	fi, err := f.Stat()
	if err == nil {
		size := fi.Size()
		if expectedSize > 0 && size > expectedSize {
			size = 0
		}
		err = w.reset(size)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("ingest %q: %w", ref, err)
	}
	return w, nil
}

type writer struct {
	l            *ingestLock // nil once closed or committed
	f            *os.File
	alg          digest.Algorithm
	digester     digest.Digester
	offset       int64
	expected     digest.Digest
	expectedSize int64
}

var errWriterClosed = fmt.Errorf("content writer is closed: %w", errdefs.ErrFailedPrecondition)

func (w *writer) Write(p []byte) (int, error) {
	if w.l == nil {
		return 0, errWriterClosed
	}
	n, err := w.f.Write(p)
	w.digester.Hash().Write(p[:n])
	w.offset += int64(n)
	return n, err
}

func (w *writer) Digest() digest.Digest { return w.digester.Digest() }
func (w *writer) Offset() int64         { return w.offset }

// Truncate cuts the data to size and hashes what remains again: a hash
// cannot be rewound, and re-reading also recomputes the digest of an
// ingest left by another process.
func (w *writer) Truncate(size int64) error {
	if w.l == nil {
		return errWriterClosed
	}
	if size < 0 || size > w.offset {
		return fmt.Errorf("truncate ingest %q to %d bytes of %d: %w", w.l.ref, size, w.offset, errdefs.ErrInvalidArgument)
	}
	return w.reset(size)
}

// reset cuts the data file to size and hashes it again.
func (w *writer) reset(size int64) error {
	if err := w.f.Truncate(size); err != nil {
		return err
	}
	d := w.alg.Digester()
	if _, err := io.Copy(d.Hash(), io.NewSectionReader(w.f, 0, size)); err != nil {
		return fmt.Errorf("hash ingest %q: %w", w.l.ref, err)
	}
	if _, err := w.f.Seek(size, io.SeekStart); err != nil {
		return err
	}
	w.digester, w.offset = d, size
	return nil
}

func (w *writer) Commit(ctx context.Context, size int64, expected digest.Digest) error {
	if w.l == nil {
		return errWriterClosed
	}
	if size <= 0 {
		size = w.expectedSize
	}
	if expected == "" {
		expected = w.expected
	}
	ref := w.l.ref
	if size > 0 && size != w.offset {
		return fmt.Errorf("commit %q: wrote %d bytes, expected %d: %w", ref, w.offset, size, errdefs.ErrFailedPrecondition)
	}
	dgst := w.Digest()
	if expected != "" && expected != dgst {
		return fmt.Errorf("commit %q: content has digest %s, expected %s: %w", ref, dgst, expected, errdefs.ErrFailedPrecondition)
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	// The order is what makes a crash safe: the data is durable before it
	// gets its name under blobs/, and the rename is atomic, so blobs/
	// never holds a partial file. The directory fsync makes the new name
	// itself durable before the ingest, the only other copy, is removed.
	l := w.l
	defer w.close()
	err := w.f.Chmod(0o444)
	if err == nil {
		err = w.f.Sync()
	}
	if err != nil {
		return fmt.Errorf("commit %q: %w", ref, err)
	}
	dir := filepath.Join(l.s.root, "blobs", string(dgst.Algorithm()))
	if err := os.Mkdir(dir, 0o700); err == nil {
		err = syncDir(filepath.Dir(dir))
	} else if !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("commit %q: %w", ref, err)
	}
	err = renameNoReplace(filepath.Join(l.dir, "data"), filepath.Join(dir, dgst.Encoded()))
	if errors.Is(err, fs.ErrExist) {
		return errors.Join(fmt.Errorf("blob %s: %w", dgst, errdefs.ErrAlreadyExists), l.remove())
	} else if err != nil {
		return fmt.Errorf("commit %q: %w", ref, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("commit %q: %w", ref, err)
	}
	return l.remove()
}

func (w *writer) Close() error {
	if w.l == nil {
		return nil
	}
	return w.close()
}

func (w *writer) close() error {
	err := w.f.Close()
	w.l.release()
	w.l = nil
	return err
}
