// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package native is berth's snapshotter for file systems without
// overlayfs: every snapshot is a full copy of its parent's tree, made when
// it is prepared, and is mounted with a bind mount.
//
// # On-disk layout
//
//	<root>/metadata.db             bbolt, format in package storage
//	<root>/snapshots/<id>/fs       the snapshot's whole tree
//	<root>/snapshots/new-<random>/ being made; deleted by New if left over
//
// Layers are unpacked into fs with archive.Apply and
// archive.RemoveWhiteouts, on a snapshot prepared from the layer below.
// Usage counts the whole tree, parents' copies included. A container's
// changes cannot be told from the copy it started with, so
// archive.WriteDiff does not work on native snapshots; a diff has to
// compare the tree with its parent's.
package native

import (
	"context"
	"path/filepath"

	"github.com/berth-project/berth/internal/snapshot"
	"github.com/berth-project/berth/internal/snapshot/storage"
)

// New opens the native snapshotter rooted at root (created if needed) and
// deletes the snapshot directories a crash left behind.
func New(ctx context.Context, root string) (snapshot.Snapshotter, error) {
	return storage.Open(ctx, root, driver{})
}

type driver struct{}

func (driver) Populate(ctx context.Context, dir string, kind snapshot.Kind, parents []string) error {
	if len(parents) == 0 {
		return nil
	}
	return copyTree(ctx, filepath.Join(dir, "fs"), parents[0])
}

func (driver) Mounts(dir string, kind snapshot.Kind, parents []string) []snapshot.Mount {
	rw := "rw"
	if kind == snapshot.KindView {
		rw = "ro"
	}
	return []snapshot.Mount{{Type: "bind", Source: filepath.Join(dir, "fs"), Options: []string{rw, "rbind"}}}
}
