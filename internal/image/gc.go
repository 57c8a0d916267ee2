// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package image

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-project/berth/internal/content"
	"github.com/berth-project/berth/internal/snapshot"
)

// GCResult says what GC removed.
type GCResult struct {
	Blobs     int
	BlobBytes int64
	Snapshots int
}

// GC deletes the blobs and snapshots no recorded image reaches, keeping
// containers' writable layers and their parents (see the package
// documentation). Import, Pull, Push and Mounts wait while it runs.
func (s *Store) GC(ctx context.Context) (GCResult, error) {
	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()

	blobs, chains, err := s.mark(ctx)
	if err != nil {
		return GCResult{}, err
	}
	var res GCResult
	var errs []error
	err = s.content.Walk(ctx, func(info content.Info) error {
		if blobs[info.Digest] {
			return nil
		}
		if err := s.content.Delete(ctx, info.Digest); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, err)
			return nil
		}
		s.manifests.Delete(info.Digest)
		res.Blobs++
		res.BlobBytes += info.Size
		return nil
	})
	if err != nil {
		return res, err
	}
	res.Snapshots, err = s.sweepSnapshots(ctx, chains)
	return res, errors.Join(append(errs, err)...)
}

// mark returns the blobs and chain IDs the records reach.
func (s *Store) mark(ctx context.Context) (map[digest.Digest]bool, map[string]bool, error) {
	recs, err := s.db.ListImages(ctx)
	if err != nil {
		return nil, nil, err
	}
	blobs := map[digest.Digest]bool{}
	chains := map[string]bool{}
	var walk func(d ocispec.Descriptor) error
	walk = func(d ocispec.Descriptor) error {
		if blobs[d.Digest] {
			return nil
		}
		var probe struct {
			Manifests []ocispec.Descriptor `json:"manifests"`
			Config    ocispec.Descriptor   `json:"config"`
			Layers    []ocispec.Descriptor `json:"layers"`
		}
		if err := s.readJSON(ctx, d.Digest, &probe); err != nil {
			if errdefs.IsNotFound(err) {
				return nil // an index's manifests for other platforms
			}
			return err
		}
		blobs[d.Digest] = true
		for _, m := range probe.Manifests {
			if err := walk(m); err != nil {
				return err
			}
		}
		if probe.Config.Digest == "" {
			return nil
		}
		blobs[probe.Config.Digest] = true
		for _, l := range probe.Layers {
			blobs[l.Digest] = true
		}
		var cfg ocispec.Image
		if err := s.readJSON(ctx, probe.Config.Digest, &cfg); err != nil {
			return err
		}
		for _, c := range identity.ChainIDs(slices.Clone(cfg.RootFS.DiffIDs)) {
			chains[c.String()] = true
		}
		return nil
	}
	for _, rec := range recs {
		if err := walk(rec.Target); err != nil {
			return nil, nil, err
		}
	}
	return blobs, chains, nil
}

// sweepSnapshots removes the snapshots that are neither in keep, nor
// containers' layers, nor parents of either; children first.
func (s *Store) sweepSnapshots(ctx context.Context, keep map[string]bool) (int, error) {
	infos := map[string]snapshot.Info{}
	err := s.sn.Walk(ctx, func(_ context.Context, info snapshot.Info) error {
		infos[info.Name] = info
		return nil
	})
	if err != nil {
		return 0, err
	}
	keepAll := map[string]bool{}
	for name, info := range infos {
		if keep[name] || (info.Kind != snapshot.KindCommitted && !strings.HasPrefix(name, "extract-")) {
			for n := name; n != "" && !keepAll[n]; n = infos[n].Parent {
				keepAll[n] = true
			}
		}
	}
	depth := func(name string) int {
		d := 0
		for n := infos[name].Parent; n != ""; n = infos[n].Parent {
			d++
		}
		return d
	}
	var doomed []string
	for name := range infos {
		if !keepAll[name] {
			doomed = append(doomed, name)
		}
	}
	slices.SortFunc(doomed, func(a, b string) int { return depth(b) - depth(a) })
	var errs []error
	n := 0
	for _, name := range doomed {
		if err := s.sn.Remove(ctx, name); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}
