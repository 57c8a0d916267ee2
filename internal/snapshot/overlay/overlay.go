// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package overlay is berth's overlayfs snapshotter: a snapshot is a
// directory, and an active snapshot is mounted as an overlay of its own
// directory (upperdir) on its parents' (lowerdir).
//
// # On-disk layout
//
//	<root>/metadata.db             bbolt, format in package storage
//	<root>/snapshots/<id>/fs       the snapshot's files: a layer's tree, or
//	                               a container's changes (overlay upperdir)
//	<root>/snapshots/<id>/work     overlay workdir
//	<root>/snapshots/new-<random>/ being made; deleted by New if left over
//
// <id> is a short decimal number given by the metadata; it stays the same
// when an active snapshot is committed. Layers are unpacked into fs with
// archive.Apply and archive.OverlayWhiteouts.
//
// # Mounts
//
//   - active, no parent: a read-write bind of fs
//   - active on parents: overlay lowerdir=<parent fs>:<grandparent fs>…,
//     upperdir=fs,workdir=work
//   - view of one layer: a read-only bind of that layer's fs
//   - view of several: overlay with only lowerdir= (overlayfs makes that
//     read-only)
//   - view with no parent: a read-only bind of its own, empty, fs
//
// Every overlay is mounted with index=off,redirect_dir=off,metacopy=off:
// the index ties a layer to the upper it was first mounted with, and a
// redirected directory or a metadata-only copy-up cannot be written as a
// layer tar (archive.WriteDiff refuses them).
//
// # Layer limit
//
// mount(2) copies the option string into one page: 4095 bytes. With the
// absolute paths above, an overlay runs out of room after a few dozen
// layers, so snapshot.Mount.Mount rewrites a long lowerdir= relative to
// <root>/snapshots and mounts from that directory, as containerd does.
// Each layer then costs len(id)+4 bytes ("4711/fs:"): ids are short
// decimal numbers, so that leaves room for 400 to 500 layers; overlayfs
// itself stacks at most 500. Prepare and View refuse a longer chain with
// errdefs.ErrInvalidArgument ("too many layers") before anything is made.
// (Docker limits images to 125 layers; a kernel with fsconfig(2)
// "lowerdir+" would lift the page limit, a later change.)
package overlay

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-project/berth/internal/snapshot"
	"github.com/berth-project/berth/internal/snapshot/storage"
)

// New opens the overlay snapshotter rooted at root (created if needed)
// and deletes the snapshot directories a crash left behind. The file
// system of root must support overlayfs upper directories (not overlayfs
// itself, for instance).
func New(ctx context.Context, root string) (snapshot.Snapshotter, error) {
	return storage.Open(ctx, root, driver{})
}

type driver struct{}

func (driver) Populate(ctx context.Context, dir string, kind snapshot.Kind, parents []string) error {
	return os.Mkdir(filepath.Join(dir, "work"), 0o700)
}

func (driver) Mounts(dir string, kind snapshot.Kind, parents []string) []snapshot.Mount {
	fs := filepath.Join(dir, "fs")
	switch {
	case len(parents) == 0 && kind == snapshot.KindView:
		return []snapshot.Mount{{Type: "bind", Source: fs, Options: []string{"ro", "rbind"}}}
	case len(parents) == 0:
		return []snapshot.Mount{{Type: "bind", Source: fs, Options: []string{"rw", "rbind"}}}
	case len(parents) == 1 && kind == snapshot.KindView:
		return []snapshot.Mount{{Type: "bind", Source: parents[0], Options: []string{"ro", "rbind"}}}
	}
	opts := []string{"index=off", "redirect_dir=off", "metacopy=off"}
	if kind == snapshot.KindActive {
		opts = append(opts, "upperdir="+fs, "workdir="+filepath.Join(dir, "work"))
	}
	opts = append(opts, "lowerdir="+strings.Join(parents, ":"))
	return []snapshot.Mount{{Type: "overlay", Source: "overlay", Options: opts}}
}
