// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package metadata is berth's bbolt metadata database, <root>/metadata.db:
// the image records that name images (references and tags) and point at
// their content. Blobs themselves live in package content and layers in
// package snapshot; this database only says which of them are wanted.
//
// # Images
//
// An image record maps a name to a target descriptor. The name is a
// normalized reference string: "docker.io/library/busybox:latest",
// "localhost:5000/app@sha256:…", or another unique string the image store
// chooses (it keeps dangling images under "moby-dangling@sha256:…", as
// Docker does). The target is the manifest or index the name points at,
// stored in the content store. Records carry labels and their creation and
// update times.
//
// Errors are classed with github.com/containerd/errdefs: ErrNotFound for an
// unknown name, ErrAlreadyExists for Create of an existing one,
// ErrInvalidArgument for an empty name or a target without a valid digest.
//
// # Bucket tree, version 1
//
//	v1                                  schema version 1
//	├── version: "1"                    minor version of the v1 tree
//	└── images
//	    └── <name>
//	        ├── createdat: time         time.Time.MarshalBinary
//	        ├── updatedat: time
//	        ├── target
//	        │   ├── mediatype: string
//	        │   ├── digest: string      "sha256:…"
//	        │   └── size: varint
//	        └── labels
//	            └── <key>: <value>
//
// (after containerd's core/metadata/buckets.go). Every change is one bbolt
// transaction, fsynced on commit, so a crash (kill -9) keeps a record whole
// or not at all.
//
// # Migrations
//
// Additive changes (a new key or bucket that old code can ignore) raise
// the minor version in v1/version; Open runs the migrations from the stored
// version up to the current one in the transaction that writes the new
// version, so a crash leaves the old version or the new, never a mix.
// An incompatible change starts a new top-level bucket (v2): Open copies and
// converts v1 into it and deletes v1 in one transaction. A database whose
// version is newer than this code knows is refused with
// errdefs.ErrFailedPrecondition, never written.
//
// One process opens the database at a time (bbolt's flock); another gets
// errdefs.ErrUnavailable after a short wait.
package metadata
