// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package snapshot

import (
	"fmt"
	"strings"

	"github.com/containerd/errdefs"
)

// DiffDirs returns the directories archive.WriteDiff needs for the mounts
// of an active snapshot: the directory that holds its changes (overlay's
// upperdir, or the bound directory) and the lower layers, topmost first
// (none for a bind mount, whose directory holds the whole tree).
func DiffDirs(mounts []Mount) (upper string, lower []string, _ error) {
	if len(mounts) != 1 {
		return "", nil, fmt.Errorf("diff dirs: %d mounts, want 1: %w", len(mounts), errdefs.ErrInvalidArgument)
	}
	m := mounts[0]
	switch m.Type {
	case "bind":
		for _, o := range m.Options {
			if o == "ro" {
				return "", nil, fmt.Errorf("diff dirs: read-only bind of %s: %w", m.Source, errdefs.ErrInvalidArgument)
			}
		}
		return m.Source, nil, nil
	case "overlay":
		for _, o := range m.Options {
			if v, ok := strings.CutPrefix(o, "upperdir="); ok {
				upper = v
			}
			if v, ok := strings.CutPrefix(o, "lowerdir="); ok {
				lower = strings.Split(v, ":")
			}
		}
		if upper == "" {
			return "", nil, fmt.Errorf("diff dirs: overlay without upperdir (a view): %w", errdefs.ErrInvalidArgument)
		}
		return upper, lower, nil
	}
	return "", nil, fmt.Errorf("diff dirs: mount type %q: %w", m.Type, errdefs.ErrInvalidArgument)
}
