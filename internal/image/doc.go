// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package image is berth's image store: it names images, brings them in
// (Import, Pull), sends them out (Push), unpacks their layers into
// snapshots, gives containers their writable layer (Mounts), and removes
// what no image needs any more (GC). Both the daemon and the CLI call this
// Go API; it knows nothing about HTTP.
//
// # Model
//
// An image is a manifest (or an index choosing one per platform), a config
// and an ordered stack of layers, all blobs in the content store
// (package content). A name is a normalized reference, as
// distribution.ParseRef makes it: "docker.io/library/busybox:latest"
// (a tag) or "localhost:5000/app@sha256:…" (a digest reference); each
// name is one record in the metadata database (package metadata) pointing
// at the manifest or index. Names are kept and returned in this normalized
// form; the API layer shows them with reference.FamiliarString.
//
// The image ID is the digest of the config, as in Docker, so the same
// image pulled by tag, by digest, through an index or imported by load
// has one ID. An image with no name left (its tag moved to another image,
// or imported without one) is dangling: it keeps a record named
// "moby-dangling@<target digest>", as Docker's containerd store does,
// until it is removed or pruned.
//
// The builder's cache keeps records too: "berth-build-cache@<cache key>"
// points at the manifest of the image a build step made (see
// CommitStep). They keep the images of the steps from GC across restarts;
// an image named only by them is intermediate (List sets
// Image.Intermediate; `images` shows it with -a only) and
// PruneBuildCache deletes them all.
//
// Layers are unpacked once, into committed snapshots (package snapshot)
// keyed by chain ID (image-spec identity: chainID(L1) = diffID(L1),
// chainID(Ln) = sha256(chainID(Ln-1) + " " + diffID(Ln))), and shared by
// every image that has them. A layer is unpacked into an active snapshot
// "extract-<random>" and committed under its chain ID only once its
// uncompressed digest has been checked against the config's diff_id. A
// layer on a parent is written into the snapshot's overlay upper
// directory directly, with overlay whiteouts: overlayfs does not let
// whiteouts be made through its mount. Load and Pull unpack each layer
// while its blob is being stored, into a directory of its own that is
// renamed onto the snapshot's directory (see stager); the checks are the
// same.
//
// # On-disk layout
//
//	<root>/metadata.db          image records, format in package metadata
//	<root>/content/             blobs, format in package content
//	<root>/snapshots/overlay/   layers and writable layers, package overlay
//	<root>/unpack/              layers unpacked while their blobs are
//	                            stored, until renamed into a snapshot;
//	                            emptied by New
//
// # Garbage collection
//
// Removing an image removes records only. GC marks what the records
// reach: each target, the manifests of an index that are stored, each
// manifest's config and layers, and the snapshots of every chain ID of
// each config; active and view snapshots other than "extract-…" ones (the
// writable layers of containers) and their parents are kept too. It then
// deletes every other blob and removes every other snapshot, children
// before parents. GC excludes Import, Pull, Push and Mounts while it runs,
// so it never takes what one of them is writing or about to record.
//
// A crash at any point leaves at worst blobs and snapshots that no record
// names (which the next GC removes) and, from an interrupted unpack, an
// "extract-…" snapshot, which GC removes too; a record is written only
// after everything it reaches is stored.
package image
