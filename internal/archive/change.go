// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package archive

// ChangeKind says how a path changed. The values are those of the Engine
// API's container.ChangeType, so they can be sent as they are.
type ChangeKind uint8

const (
	// ChangeModify is a path that exists in the lower layers and was changed
	// (content, metadata or type) or has changed children ("C").
	ChangeModify ChangeKind = iota
	// ChangeAdd is a path that no lower layer has ("A").
	ChangeAdd
	// ChangeDelete is a path deleted from the lower layers ("D").
	ChangeDelete
)

// String returns the letter `docker diff` prints: "C", "A" or "D".
func (k ChangeKind) String() string {
	switch k {
	case ChangeModify:
		return "C"
	case ChangeAdd:
		return "A"
	case ChangeDelete:
		return "D"
	}
	return "?"
}

// Change is one changed path of a layer, as `docker diff` lists it.
type Change struct {
	Kind ChangeKind
	// Path is absolute, as seen from inside the container: "/etc/passwd".
	Path string
}

// Whiteout names, as the OCI image spec and Docker write them.
const (
	whiteoutPrefix     = ".wh."
	whiteoutMetaPrefix = ".wh..wh."
	whiteoutOpaque     = ".wh..wh..opq"

	overlayXattrPrefix = "trusted.overlay."
	overlayOpaqueXattr = "trusted.overlay.opaque"
)
