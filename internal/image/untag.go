// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package image

import (
	"context"
	"slices"
)

// Untag is Remove that never deletes the image: it removes the names
// Remove would, and an image left without a name stays, dangling. The
// daemon uses it for `rmi --force` of an image that containers still use,
// which Docker untags but keeps.
func (s *Store) Untag(ctx context.Context, ref string, force bool) ([]Removed, error) {
	// GC must not run between the record's removal and the dangling
	// record's creation, or it would take the image's blobs.
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()
	img, err := s.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	removed, err := s.Remove(ctx, ref, force)
	i := slices.IndexFunc(removed, func(r Removed) bool { return r.Deleted != "" })
	if i < 0 {
		return removed, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if kerr := s.keepDangling(ctx, img.Target); kerr != nil {
		return removed, kerr
	}
	return slices.Delete(removed, i, i+1), err
}
