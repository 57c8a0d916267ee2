// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package content

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
)

// ingestInfo is the content of ingest/<hash>/ingest.json.
type ingestInfo struct {
	Ref          string        `json:"ref"`
	Expected     digest.Digest `json:"expected,omitempty"`
	ExpectedSize int64         `json:"expectedsize,omitempty"`
	StartedAt    time.Time     `json:"startedat"`
}

// ingestDir is the directory of ref's ingest. Refs are hashed so that any
// string, slashes included, makes one flat, fixed-length name.
func (s *Store) ingestDir(ref string) string {
	return filepath.Join(s.root, "ingest", digest.SHA256.FromString(ref).Encoded())
}

// ingestLock is the exclusive right to use one ref's ingest directory.
type ingestLock struct {
	s   *Store
	ref string
	dir string
	d   *os.File // the directory, flocked
}

// lockIngest takes ref's lock: first in this process (so two Writers here
// never even race for the flock), then across processes with flock(2) on
// the ingest directory. With create it makes the directory when missing;
// without, a missing ingest is an errdefs.ErrNotFound error. A held lock
// is an errdefs.ErrUnavailable error.
func (s *Store) lockIngest(ref string, create bool) (_ *ingestLock, retErr error) {
	s.mu.Lock()
	if _, busy := s.active[ref]; busy {
		s.mu.Unlock()
		return nil, fmt.Errorf("ingest %q is in use: %w", ref, errdefs.ErrUnavailable)
	}
	s.active[ref] = struct{}{}
	s.mu.Unlock()
	defer func() {
		if retErr != nil {
			s.mu.Lock()
			delete(s.active, ref)
			s.mu.Unlock()
		}
	}()

	dir := s.ingestDir(ref)
	for {
		if create {
			if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
				return nil, fmt.Errorf("ingest %q: %w", ref, err)
			}
		}
		d, err := os.Open(dir)
		if errors.Is(err, fs.ErrNotExist) {
			if create {
				continue // removed between Mkdir and Open
			}
			return nil, fmt.Errorf("ingest %q: %w", ref, errdefs.ErrNotFound)
		} else if err != nil {
			return nil, fmt.Errorf("ingest %q: %w", ref, err)
		}
		if err := tryLock(d); err != nil {
			d.Close()
			return nil, fmt.Errorf("ingest %q is in use: %w", ref, err)
		}
		// The holder we waited for may have removed the directory (commit,
		// abort) after we opened it: then our lock is on a dead inode and
		// the ingest, if any, is a new directory. Compare before trusting it.
		held, err1 := d.Stat()
		now, err2 := os.Stat(dir)
		if err := errors.Join(err1, err2); err == nil && os.SameFile(held, now) {
			return &ingestLock{s: s, ref: ref, dir: dir, d: d}, nil
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			d.Close()
			return nil, fmt.Errorf("ingest %q: %w", ref, err)
		}
		d.Close()
		if !create {
			return nil, fmt.Errorf("ingest %q: %w", ref, errdefs.ErrNotFound)
		}
	}
}

// remove deletes the ingest directory while the lock is held.
func (l *ingestLock) remove() error {
	if err := os.RemoveAll(l.dir); err != nil {
		return fmt.Errorf("remove ingest %q: %w", l.ref, err)
	}
	return nil
}

// release drops the lock; the directory, if it still exists, stays.
func (l *ingestLock) release() {
	l.d.Close()
	l.s.mu.Lock()
	delete(l.s.active, l.ref)
	l.s.mu.Unlock()
}

// Abort removes the ingest named ref and whatever was written to it. It
// returns an errdefs.ErrNotFound error when there is no such ingest and an
// errdefs.ErrUnavailable error while a Writer has it open.
func (s *Store) Abort(ctx context.Context, ref string) error {
	l, err := s.lockIngest(ref, false)
	if err != nil {
		return err
	}
	defer l.release()
	return l.remove()
}

// ListIngests returns the refs of the ingests in progress or left behind
// (by a Writer closed without commit, or a process that died), sorted.
// Each can be resumed with Writer or dropped with Abort. It also removes
// the remains of ingests whose process died before recording their ref,
// or while removing them.
func (s *Store) ListIngests(ctx context.Context) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(s.root, "ingest"))
	if err != nil {
		return nil, fmt.Errorf("list ingests: %w", err)
	}
	var refs []string
	for _, e := range entries {
		dir := filepath.Join(s.root, "ingest", e.Name())
		info, err := readIngestInfo(dir)
		if errors.Is(err, fs.ErrNotExist) {
			if err := sweepIngest(dir); err != nil {
				return nil, fmt.Errorf("list ingests: %w", err)
			}
			continue
		} else if err != nil {
			return nil, fmt.Errorf("list ingests: %w", err)
		}
		refs = append(refs, info.Ref)
	}
	slices.Sort(refs)
	return refs, nil
}

// sweepIngest removes dir if it has no ingest.json and nobody holds it. A
// live Writer holds its directory from before it writes ingest.json until
// after the directory is gone, so an unheld directory without one is
// debris. (A Writer that opened dir just before the sweep locked it gets
// ErrUnavailable, as if another writer had the ref.)
func sweepIngest(dir string) error {
	d, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	defer d.Close()
	if err := tryLock(d); errdefs.IsUnavailable(err) {
		return nil
	} else if err != nil {
		return err
	}
	held, err1 := d.Stat()
	now, err2 := os.Stat(dir)
	if err1 != nil || err2 != nil || !os.SameFile(held, now) {
		return nil // removed, and maybe made again, meanwhile
	}
	if _, err := os.Stat(filepath.Join(dir, "ingest.json")); !errors.Is(err, fs.ErrNotExist) {
		return nil // recorded meanwhile, or unreadable: not debris
	}
	return os.RemoveAll(dir)
}

func readIngestInfo(dir string) (ingestInfo, error) {
	var info ingestInfo
	b, err := os.ReadFile(filepath.Join(dir, "ingest.json"))
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return info, fmt.Errorf("%s: %w", filepath.Join(dir, "ingest.json"), err)
	}
	return info, nil
}
