// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package image

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-project/berth/internal/distribution"
)

// Pull fetches the image ref names from its registry into the content
// store, unpacks its layers and records it under ref, and, for a tag,
// under its digest reference too (Docker's RepoDigests). progress, if not
// nil, gets the fetch's per-layer events, then "Extracting" and "Pull
// complete" for each layer unpacked.
//
// A layer whose uncompressed digest differs from the config's diff_id
// fails the pull with errdefs.ErrFailedPrecondition; then nothing is
// recorded, and what the pull stored is garbage-collected.
func (s *Store) Pull(ctx context.Context, ref string, client *distribution.Client, progress func(distribution.Progress)) (Image, error) {
	n, err := distribution.ParseRef(ref)
	if err != nil {
		return Image{}, err
	}
	img, stored, err := s.pull(ctx, n, client, progress)
	if err != nil && stored {
		// Remove the blobs and snapshots no image needs; the pull's error
		// is what matters.
		_, _ = s.GC(context.WithoutCancel(ctx))
	}
	return img, err
}

// pull is Pull under s.gcMu; stored says whether it got as far as
// storing anything.
func (s *Store) pull(ctx context.Context, n reference.Named, client *distribution.Client, progress func(distribution.Progress)) (_ Image, stored bool, _ error) {
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()

	r, err := client.Resolve(ctx, n)
	if err != nil {
		return Image{}, false, err
	}
	st := s.newStager(ctx)
	defer st.close()
	layer := func(desc ocispec.Descriptor) (io.Writer, func(error)) {
		g := st.layer()
		return g, func(err error) { g.finish(desc.Digest, err) }
	}
	if err := client.FetchWith(ctx, s.content, r, distribution.FetchOptions{Progress: progress, Layer: layer}); err != nil {
		return Image{}, true, err
	}
	raw, err := s.readBlob(ctx, r.Config.Digest)
	if err != nil {
		return Image{}, true, err
	}
	var cfg ocispec.Image
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return Image{}, true, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("config %s: %v", r.Config.Digest, err))
	}
	if err := s.unpack(ctx, r.Layers, cfg.RootFS.DiffIDs, progress, st); err != nil {
		return Image{}, true, fmt.Errorf("pull %s: %w", reference.FamiliarString(n), err)
	}

	names := []string{n.String()}
	if _, ok := n.(reference.Canonical); !ok {
		dn, err := reference.WithDigest(reference.TrimNamed(n), r.Target.Digest)
		if err != nil {
			return Image{}, true, err
		}
		names = append(names, dn.String())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, name := range names {
		if err := s.setName(ctx, name, r.Target); err != nil {
			return Image{}, true, err
		}
	}
	img, err := s.Get(ctx, r.Config.Digest.String())
	return img, true, err
}
