// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package snapshot

import (
	"context"
	"time"
)

// Kind is the state of a snapshot.
type Kind int

const (
	// KindUnknown is the zero Kind; no stored snapshot has it.
	KindUnknown Kind = iota
	// KindView is a read-only snapshot of a committed parent, made by View.
	KindView
	// KindActive is a writable snapshot made by Prepare; Commit turns it
	// into a committed one.
	KindActive
	// KindCommitted is an immutable snapshot made by Commit; it can be the
	// parent of others but cannot be mounted itself.
	KindCommitted
)

// String returns the lower-case name of k ("view", "active", "committed").
func (k Kind) String() string {
	switch k {
	case KindView:
		return "view"
	case KindActive:
		return "active"
	case KindCommitted:
		return "committed"
	}
	return "unknown"
}

// Info describes a snapshot.
type Info struct {
	Kind Kind
	// Name is the snapshot's key: the key given to Prepare or View, or the
	// name given to Commit.
	Name string
	// Parent is the key of the committed parent, "" for none.
	Parent string
	// Labels are the caller's; nil when there are none.
	Labels  map[string]string
	Created time.Time
	Updated time.Time
}

// Usage is the disk space a snapshot takes by itself, without its parents.
type Usage struct {
	// Inodes counts files, directories and other inodes; hardlinks count
	// once.
	Inodes int64
	// Size is in bytes of allocated blocks (st_blocks * 512).
	Size int64
}

// Mount is one mount(2): Type is the file system type ("overlay") or
// "bind", Source the device or directory, Options the comma-separated
// option list, mount flags ("ro", "rbind") and file system data alike.
// Mount.Mount and MountAll know how to pass them to the kernel.
type Mount struct {
	Type    string
	Source  string
	Options []string
}

// Snapshotter manages snapshots; see the package documentation for the
// contract every implementation keeps.
type Snapshotter interface {
	// Stat returns the Info of the snapshot key.
	Stat(ctx context.Context, key string) (Info, error)
	// Usage returns the space the snapshot key takes by itself. It is
	// computed for active and view snapshots and recorded at Commit for
	// committed ones.
	Usage(ctx context.Context, key string) (Usage, error)
	// Mounts returns the mounts of an active or view snapshot again.
	Mounts(ctx context.Context, key string) ([]Mount, error)
	// Prepare makes the active (writable) snapshot key on top of the
	// committed snapshot parent ("" for an empty one) and returns its mounts.
	Prepare(ctx context.Context, key, parent string, labels map[string]string) ([]Mount, error)
	// View makes the read-only snapshot key of the committed snapshot
	// parent and returns its mounts.
	View(ctx context.Context, key, parent string, labels map[string]string) ([]Mount, error)
	// Commit turns the active snapshot key into the committed snapshot
	// name, labelled with labels; key is gone afterwards. The snapshot must
	// not be mounted any more.
	Commit(ctx context.Context, name, key string, labels map[string]string) error
	// Remove deletes the snapshot key. A snapshot that is the parent of
	// another is refused with errdefs.ErrFailedPrecondition.
	Remove(ctx context.Context, key string) error
	// Walk calls fn for every snapshot, in no particular order, until fn
	// returns an error.
	Walk(ctx context.Context, fn func(context.Context, Info) error) error
	// Close releases the snapshotter's resources (the metadata database).
	Close() error
}
