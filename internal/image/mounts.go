// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package image

import (
	"context"

	"github.com/berth-project/berth/internal/snapshot"
)

// Mounts prepares key, a writable snapshot on top of the image ref's
// layers (any form Get takes), and returns its mounts: a container's root
// filesystem. The snapshot is the caller's to remove (Snapshotter().Remove)
// when the container goes; until then GC keeps it and the image's layers.
func (s *Store) Mounts(ctx context.Context, ref, key string) ([]snapshot.Mount, error) {
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()
	img, err := s.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	return s.sn.Prepare(ctx, key, img.ChainID.String(), nil)
}
