// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package archive

// WhiteoutMode says how Apply represents the deletions a layer carries.
type WhiteoutMode int

const (
	// OverlayWhiteouts writes deletions the way overlayfs reads them from a
	// lower or upper directory: ".wh.<name>" becomes a character device 0:0
	// named <name> and ".wh..wh..opq" sets trusted.overlay.opaque=y on its
	// directory. This needs root (CAP_MKNOD and CAP_SYS_ADMIN).
	OverlayWhiteouts WhiteoutMode = iota
	// RemoveWhiteouts deletes what the whiteouts name from dir, and an
	// opaque marker deletes everything in its directory that this archive
	// did not write: for flattening layers onto one plain directory (import,
	// the builder's COPY sources, a non-overlay snapshotter).
	RemoveWhiteouts
)

// ApplyOptions changes how Apply writes a layer.
type ApplyOptions struct {
	// Whiteouts chooses how deletions are written; OverlayWhiteouts by
	// default.
	Whiteouts WhiteoutMode
	// NoSameOwner leaves files owned by the caller instead of the uid and
	// gid of the archive (for tests and callers that are not root).
	NoSameOwner bool
}

// TarOptions changes what Tar writes.
type TarOptions struct {
	// Prefix, when set, names the entries: the tree's root is written as an
	// entry named Prefix and everything below it as Prefix/<path>, which is
	// what `cp` sends for a copied directory or file. When empty, the root
	// itself is not written and entries are named by their path relative to
	// it, as `export` writes a container's filesystem.
	Prefix string
}
