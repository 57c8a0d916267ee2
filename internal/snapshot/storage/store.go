// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/containerd/errdefs"

	"github.com/berth-project/berth/internal/fsutil"
	"github.com/berth-project/berth/internal/snapshot"
)

// Driver is what a snapshotter adds to Store: how a new snapshot's
// directory is filled and how a snapshot is mounted.
type Driver interface {
	// Populate fills dir, a new snapshot directory that already holds an
	// empty fs/, for a snapshot of kind on the parents whose fs
	// directories are given nearest first. It runs before the snapshot is
	// recorded and may take long (a copy).
	Populate(ctx context.Context, dir string, kind snapshot.Kind, parents []string) error
	// Mounts returns the mounts of the active or view snapshot whose
	// directory is dir.
	Mounts(dir string, kind snapshot.Kind, parents []string) []snapshot.Mount
}

// Store implements snapshot.Snapshotter over a Driver: metadata in
// <root>/metadata.db, snapshot directories in <root>/snapshots/<id>, each
// with the snapshot's tree in fs/.
//
// Directories follow the metadata, never the other way round: a new
// directory is made under a temporary name ("new-…"), populated, and
// renamed to its id inside the transaction that records it; a removed
// snapshot's directory is deleted after the transaction that forgets it
// has committed. A crash therefore leaves at most a directory that no
// record names, which Open deletes (ids are never reused, so no later
// snapshot can claim it).
type Store struct {
	root   string
	ms     *MetaStore
	driver Driver
}

// Open opens the store at root, creating it if needed, and deletes the
// directories a crash left behind. One process at a time can open a root;
// another gets errdefs.ErrUnavailable.
func Open(ctx context.Context, root string, driver Driver) (*Store, error) {
	// 0700: layers hold setuid binaries and device nodes that unprivileged
	// users must not reach.
	if err := os.MkdirAll(filepath.Join(root, "snapshots"), 0o700); err != nil {
		return nil, fmt.Errorf("snapshotter: %w", err)
	}
	// A directory per layer and container, made and removed all day:
	// spread them over the file system (fsutil.MarkTopDir). Only an
	// optimisation, so a failure is not one.
	_ = fsutil.MarkTopDir(filepath.Join(root, "snapshots"))
	ms, err := OpenMeta(filepath.Join(root, "metadata.db"))
	if err != nil {
		return nil, err
	}
	s := &Store{root: root, ms: ms, driver: driver}
	if err := s.cleanup(); err != nil {
		ms.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) dir(id string) string { return filepath.Join(s.root, "snapshots", id) }

func (s *Store) fsDirs(ids []string) []string {
	dirs := make([]string, len(ids))
	for i, id := range ids {
		dirs[i] = filepath.Join(s.dir(id), "fs")
	}
	return dirs
}

// cleanup deletes snapshot directories that no record names.
func (s *Store) cleanup() error {
	ids := map[string]bool{}
	err := s.ms.View(func(tx *Tx) error {
		return tx.Walk(func(id string, _ snapshot.Info) error { ids[id] = true; return nil })
	})
	if err != nil {
		return err
	}
	entries, err := os.ReadDir(filepath.Join(s.root, "snapshots"))
	if err != nil {
		return fmt.Errorf("snapshotter: %w", err)
	}
	var errs []error
	for _, e := range entries {
		if ids[e.Name()] {
			continue
		}
		if err := os.RemoveAll(s.dir(e.Name())); err != nil {
			errs = append(errs, fmt.Errorf("snapshotter: remove orphan: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Stat implements snapshot.Snapshotter.
func (s *Store) Stat(ctx context.Context, key string) (info snapshot.Info, err error) {
	err = s.ms.View(func(tx *Tx) error {
		_, info, _, err = tx.Stat(key)
		return err
	})
	return info, err
}

// Usage implements snapshot.Snapshotter: recorded for committed
// snapshots, measured on the snapshot's fs directory otherwise.
func (s *Store) Usage(ctx context.Context, key string) (snapshot.Usage, error) {
	var (
		id    string
		info  snapshot.Info
		usage snapshot.Usage
	)
	err := s.ms.View(func(tx *Tx) (err error) {
		id, info, usage, err = tx.Stat(key)
		return err
	})
	if err != nil || info.Kind == snapshot.KindCommitted {
		return usage, err
	}
	return DiskUsage(ctx, filepath.Join(s.dir(id), "fs"))
}

// Mounts implements snapshot.Snapshotter.
func (s *Store) Mounts(ctx context.Context, key string) ([]snapshot.Mount, error) {
	var sn Snapshot
	err := s.ms.View(func(tx *Tx) (err error) {
		sn, err = tx.Get(key)
		return err
	})
	if err != nil {
		return nil, err
	}
	if sn.Kind == snapshot.KindCommitted {
		return nil, fmt.Errorf("mounts of %s: snapshot is committed: %w", key, errdefs.ErrFailedPrecondition)
	}
	return s.driver.Mounts(s.dir(sn.ID), sn.Kind, s.fsDirs(sn.ParentIDs)), nil
}

// Prepare implements snapshot.Snapshotter.
func (s *Store) Prepare(ctx context.Context, key, parent string, labels map[string]string) ([]snapshot.Mount, error) {
	return s.create(ctx, snapshot.KindActive, key, parent, labels)
}

// View implements snapshot.Snapshotter.
func (s *Store) View(ctx context.Context, key, parent string, labels map[string]string) ([]snapshot.Mount, error) {
	return s.create(ctx, snapshot.KindView, key, parent, labels)
}

func (s *Store) create(ctx context.Context, kind snapshot.Kind, key, parent string, labels map[string]string) (_ []snapshot.Mount, retErr error) {
	// Check what can be checked before the (maybe long) Populate, and
	// learn the parent chain it needs.
	var parentIDs []string
	err := s.ms.View(func(tx *Tx) error {
		if err := checkKey(key); err != nil {
			return err
		}
		if _, err := tx.get(key); err == nil {
			return fmt.Errorf("snapshot %s: %w", key, errdefs.ErrAlreadyExists)
		}
		if parent == "" {
			return nil
		}
		p, err := tx.Get(parent)
		if err != nil {
			return fmt.Errorf("snapshot %s: parent: %w", key, err)
		}
		parentIDs = append([]string{p.ID}, p.ParentIDs...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Join(s.root, "snapshots"), "new-")
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", key, err)
	}
	defer func() {
		if retErr != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o700); err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", key, err)
	}
	if err := os.Mkdir(filepath.Join(tmp, "fs"), 0o755); err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", key, err)
	}
	if err := s.driver.Populate(ctx, tmp, kind, s.fsDirs(parentIDs)); err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", key, err)
	}
	var (
		mounts []snapshot.Mount
		dir    string
	)
	err = s.ms.Update(func(tx *Tx) error {
		sn, err := tx.Create(kind, key, parent, labels)
		if err != nil {
			return err
		}
		if !slices.Equal(sn.ParentIDs, parentIDs) {
			return fmt.Errorf("snapshot %s: parent %s changed while it was prepared: %w", key, parent, errdefs.ErrConflict)
		}
		mounts = s.driver.Mounts(s.dir(sn.ID), kind, s.fsDirs(sn.ParentIDs))
		for _, m := range mounts {
			if err := m.Validate(); err != nil {
				return fmt.Errorf("snapshot %s on %d layers: %w", key, len(parentIDs), err)
			}
		}
		dir = s.dir(sn.ID)
		return os.Rename(tmp, dir)
	})
	if err != nil {
		if dir != "" {
			os.RemoveAll(dir) // renamed, but the record was not committed
		}
		return nil, err
	}
	return mounts, nil
}

// Commit implements snapshot.Snapshotter. The usage recorded is measured
// on the snapshot's fs directory before the commit.
func (s *Store) Commit(ctx context.Context, name, key string, labels map[string]string) error {
	var sn Snapshot
	err := s.ms.View(func(tx *Tx) (err error) {
		sn, err = tx.Get(key)
		return err
	})
	if err != nil {
		return err
	}
	if sn.Kind != snapshot.KindActive {
		return fmt.Errorf("commit %s: snapshot is %s, not active: %w", key, sn.Kind, errdefs.ErrFailedPrecondition)
	}
	usage, err := DiskUsage(ctx, filepath.Join(s.dir(sn.ID), "fs"))
	if err != nil {
		return fmt.Errorf("commit %s: %w", key, err)
	}
	return s.ms.Update(func(tx *Tx) error {
		id, err := tx.Commit(key, name, usage, labels)
		if err == nil && id != sn.ID {
			err = fmt.Errorf("commit %s: snapshot changed during commit: %w", key, errdefs.ErrConflict)
		}
		return err
	})
}

// Remove implements snapshot.Snapshotter.
func (s *Store) Remove(ctx context.Context, key string) error {
	var id string
	err := s.ms.Update(func(tx *Tx) (err error) {
		id, _, err = tx.Remove(key)
		return err
	})
	if err != nil {
		return err
	}
	if err := os.RemoveAll(s.dir(id)); err != nil {
		return fmt.Errorf("remove %s: metadata removed, directory left for the next start: %w", key, err)
	}
	return nil
}

// Walk implements snapshot.Snapshotter. fn runs outside any transaction,
// so it may call the Store.
func (s *Store) Walk(ctx context.Context, fn func(context.Context, snapshot.Info) error) error {
	var infos []snapshot.Info
	err := s.ms.View(func(tx *Tx) error {
		return tx.Walk(func(_ string, info snapshot.Info) error { infos = append(infos, info); return nil })
	})
	if err != nil {
		return err
	}
	for _, info := range infos {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(ctx, info); err != nil {
			return err
		}
	}
	return nil
}

// Close implements snapshot.Snapshotter.
func (s *Store) Close() error { return s.ms.Close() }
