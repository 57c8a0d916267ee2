// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package image

import (
	"context"
	"fmt"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-project/berth/internal/distribution"
)

// Push uploads the image named ref (a name it has, "busybox" or
// "localhost:5000/app:1") to ref's registry and repository, and records
// the pushed digest reference, as Docker adds it to RepoDigests. It returns
// the descriptor of what was pushed: the image's index when every
// manifest of it is stored, its platform manifest otherwise. progress, if
// not nil, gets Docker's per-layer push events.
func (s *Store) Push(ctx context.Context, ref string, client *distribution.Client, progress func(distribution.Progress)) (ocispec.Descriptor, error) {
	n, err := distribution.ParseRef(ref)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()
	rec, err := s.db.GetImage(ctx, n.String())
	if errdefs.IsNotFound(err) {
		return ocispec.Descriptor{}, errdefs.ErrNotFound.WithMessage("An image does not exist locally with the tag: " + reference.FamiliarName(n))
	}
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	target := rec.Target
	if isIndex(target.MediaType) && !s.complete(ctx, target.Digest) {
		r, err := s.resolve(ctx, target)
		if err != nil {
			return ocispec.Descriptor{}, err
		}
		target = r.manifest
	}
	raw, err := s.readBlob(ctx, target.Digest)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if err := client.Push(ctx, s.content, n, raw, target.MediaType, distribution.PushOptions{Progress: progress}); err != nil {
		return ocispec.Descriptor{}, err
	}
	dn, err := reference.WithDigest(reference.TrimNamed(n), target.Digest)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.setName(ctx, dn.String(), target); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("record %s: %w", dn, err)
	}
	return target, nil
}

// complete says whether every manifest of the index idx is stored.
func (s *Store) complete(ctx context.Context, idx digest.Digest) bool {
	var index ocispec.Index
	if err := s.readJSON(ctx, idx, &index); err != nil {
		return false
	}
	for _, m := range index.Manifests {
		if _, err := s.content.Info(ctx, m.Digest); err != nil {
			return false
		}
	}
	return true
}
