// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package content

import (
	"context"
	_ "crypto/sha256" // registers the hash behind digest.SHA256
	_ "crypto/sha512" // registers the hashes behind digest.SHA384 and SHA512
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
)

// layoutVersion is the version of the on-disk layout described in the
// package documentation, recorded in <root>/version.
const layoutVersion = "1"

// Store is a content-addressed blob store rooted at one directory. It is safe
// for concurrent use by many goroutines, and by several processes sharing
// the root.
type Store struct {
	root string

	mu     sync.Mutex
	active map[string]struct{} // refs with an open Writer or an Abort under way
}

// Info describes a committed blob.
type Info struct {
	Digest digest.Digest
	Size   int64
	// CreatedAt is when the blob's content was last written, that is just
	// before it was committed.
	CreatedAt time.Time
}

// ReaderAt reads a committed blob. It stays readable after the blob is
// deleted, until it is closed.
type ReaderAt interface {
	io.ReaderAt
	io.Closer
	// Size is the blob's length in bytes.
	Size() int64
}

// New opens the store at root, creating the directories it needs. A root
// written by a newer layout version is refused.
func New(root string) (*Store, error) {
	for _, dir := range []string{root, filepath.Join(root, "blobs"), filepath.Join(root, "ingest")} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("content store %s: %w", root, err)
		}
	}
	vfile := filepath.Join(root, "version")
	v, err := os.ReadFile(vfile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := writeFileAtomic(vfile, []byte(layoutVersion+"\n")); err != nil {
			return nil, fmt.Errorf("content store %s: %w", root, err)
		}
	case err != nil:
		return nil, fmt.Errorf("content store %s: %w", root, err)
	case strings.TrimSpace(string(v)) != layoutVersion:
		return nil, fmt.Errorf("content store %s: layout version %q, want %q: %w",
			root, strings.TrimSpace(string(v)), layoutVersion, errdefs.ErrFailedPrecondition)
	}
	return &Store{root: root, active: map[string]struct{}{}}, nil
}

// blobPath returns where the blob dgst lives, after checking that dgst is
// well formed (so it cannot name a path outside the store).
func (s *Store) blobPath(dgst digest.Digest) (string, error) {
	if err := dgst.Validate(); err != nil {
		return "", fmt.Errorf("digest %q: %w: %w", dgst, err, errdefs.ErrInvalidArgument)
	}
	return filepath.Join(s.root, "blobs", string(dgst.Algorithm()), dgst.Encoded()), nil
}

// Info returns the size and time of the committed blob dgst, or an
// errdefs.ErrNotFound error when there is none.
func (s *Store) Info(ctx context.Context, dgst digest.Digest) (Info, error) {
	p, err := s.blobPath(dgst)
	if err != nil {
		return Info{}, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return Info{}, blobError(dgst, err)
	}
	return Info{Digest: dgst, Size: fi.Size(), CreatedAt: fi.ModTime()}, nil
}

// ReaderAt opens the committed blob dgst for reading, or returns an
// errdefs.ErrNotFound error when there is none.
func (s *Store) ReaderAt(ctx context.Context, dgst digest.Digest) (ReaderAt, error) {
	p, err := s.blobPath(dgst)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, blobError(dgst, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, blobError(dgst, err)
	}
	return &blobReader{File: f, size: fi.Size()}, nil
}

type blobReader struct {
	*os.File
	size int64
}

func (r *blobReader) Size() int64 { return r.size }

// Delete removes the committed blob dgst, or returns an errdefs.ErrNotFound
// error when there is none. Readers already open keep working. Deciding
// whether a blob is still needed is the caller's job (garbage collection
// lives in the metadata layer).
func (s *Store) Delete(ctx context.Context, dgst digest.Digest) error {
	p, err := s.blobPath(dgst)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil {
		return blobError(dgst, err)
	}
	return nil
}

// Walk calls fn for every committed blob, in no particular order, and stops
// at the first error fn returns, which Walk returns. Blobs committed or
// deleted while Walk runs may or may not be seen; a blob that is seen is
// complete.
func (s *Store) Walk(ctx context.Context, fn func(Info) error) error {
	blobs := filepath.Join(s.root, "blobs")
	algs, err := os.ReadDir(blobs)
	if err != nil {
		return fmt.Errorf("walk content: %w", err)
	}
	for _, alg := range algs {
		if !alg.IsDir() || !digest.Algorithm(alg.Name()).Available() {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(blobs, alg.Name()))
		if err != nil {
			return fmt.Errorf("walk content: %w", err)
		}
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return err
			}
			dgst := digest.NewDigestFromEncoded(digest.Algorithm(alg.Name()), e.Name())
			if dgst.Validate() != nil || !e.Type().IsRegular() {
				continue // not a blob; nothing else is written here
			}
			fi, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted since ReadDir
			} else if err != nil {
				return fmt.Errorf("walk content: %w", err)
			}
			if err := fn(Info{Digest: dgst, Size: fi.Size(), CreatedAt: fi.ModTime()}); err != nil {
				return err
			}
		}
	}
	return nil
}

// blobError classes a file-system error about blob dgst.
func blobError(dgst digest.Digest, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob %s: %w", dgst, errdefs.ErrNotFound)
	}
	return fmt.Errorf("blob %s: %w", dgst, err)
}
