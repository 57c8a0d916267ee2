// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package image

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-project/berth/internal/archive"
	"github.com/berth-project/berth/internal/metadata"
	"github.com/berth-project/berth/internal/snapshot"
)

// cachePrefix names the records of the build cache: "berth-build-cache@"
// followed by a cache key (a digest of what a build step depends on),
// pointing at the manifest of the image the step made. The records keep
// the builder's images (and so their blobs and snapshots) from GC, live
// in the metadata database with the names, and so survive restarts;
// PruneBuildCache deletes them all. An image that only such records name
// is an intermediate image: List marks it so.
const cachePrefix = "berth-build-cache@"

// BuildStep is one build step for CommitStep: a writable layer and the
// image configuration that follow the parent.
type BuildStep struct {
	// Parent is the image the step runs on (an ID); "" is scratch.
	Parent string
	// Key is the active snapshot holding the step's changes; "" for a
	// step that changes no files.
	Key string
	// Config is the new image's runtime configuration, Docker's extended
	// form (with Healthcheck, Shell, OnBuild).
	Config dockerspec.DockerOCIImageConfig
	// CreatedBy is the history entry's command.
	CreatedBy string
	// Author is the image's author (MAINTAINER of the step's stage), as
	// Docker sets it: not inherited from the parent.
	Author string
	// CacheKey, when set, records the image in the build cache.
	CacheKey digest.Digest
	// Created is the image's creation time; zero is now.
	Created time.Time
	// TakeSnapshot lets CommitStep commit the snapshot Key itself as the
	// new layer's (it is gone afterwards), instead of unpacking the new
	// layer blob into a snapshot of its own: for a step whose container
	// is removed anyway.
	TakeSnapshot bool
	// Ran says the step ran a container (RUN): the runtime's mountpoints
	// are left out of its layer.
	Ran bool
}

// CommitStep makes the image of one build step: the parent's layers plus
// the changes under Key as one new layer (none when Key is "" or its
// upper directory is empty, "empty_layer" in the history, as Docker
// records metadata-only steps), with Config. The image is recorded under
// its cache key only: Tag names it.
func (s *Store) CommitStep(ctx context.Context, st BuildStep) (Image, error) {
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()
	var parent Image
	var parentCfg dockerspec.DockerOCIImage
	if st.Parent != "" {
		var err error
		if parent, err = s.Get(ctx, st.Parent); err != nil {
			return Image{}, err
		}
		if err := s.readJSON(ctx, parent.ID, &parentCfg); err != nil {
			return Image{}, err
		}
	} else {
		parentCfg.OS, parentCfg.Architecture = "linux", runtime.GOARCH
		parentCfg.RootFS.Type = "layers"
	}
	layers := slices.Clone(parent.Layers)
	diffIDs := slices.Clone(parentCfg.RootFS.DiffIDs)
	empty := true
	if st.Key != "" {
		mounts, err := s.sn.Mounts(ctx, st.Key)
		if err != nil {
			return Image{}, fmt.Errorf("commit %s: %w", st.Key, err)
		}
		upper, lower, err := snapshot.DiffDirs(mounts)
		if err != nil {
			return Image{}, fmt.Errorf("commit %s: %w", st.Key, err)
		}
		if !emptyDir(upper) {
			layer, diffID, err := s.writeDiff(ctx, upper, lower, st.Ran)
			if err != nil {
				return Image{}, fmt.Errorf("commit %s: %w", st.Key, err)
			}
			empty = false
			diffIDs = append(diffIDs, diffID)
			layers = append(layers, layer)
			chain := identity.ChainID(slices.Clone(diffIDs))
			if _, err := s.sn.Stat(ctx, chain.String()); errdefs.IsNotFound(err) {
				// The upper directory the diff was written from is the
				// layer's tree, whiteouts and all: committing it saves
				// unpacking the blob again.
				err = errdefs.ErrNotImplemented
				if st.TakeSnapshot {
					// without the runtime's mountpoints, which
					// the layer leaves out too
					err = nil
					if st.Ran {
						err = archive.RemoveMountpoints(upper, lower)
					}
					if err == nil {
						err = s.sn.Commit(ctx, chain.String(), st.Key, nil)
					}
				}
				if err != nil && !errdefs.IsAlreadyExists(err) {
					if err := s.applyLayer(ctx, layer, diffID, chain.String(), parent.ChainID.String(), nil); err != nil {
						return Image{}, fmt.Errorf("commit %s: unpack the new layer: %w", st.Key, err)
					}
				}
			} else if err != nil {
				return Image{}, err
			}
		}
	}
	created := st.Created
	if created.IsZero() {
		created = time.Now().UTC()
	}
	cfg := parentCfg
	cfg.Created = &created
	cfg.Author = st.Author
	cfg.Config = st.Config
	cfg.RootFS = ocispec.RootFS{Type: "layers", DiffIDs: diffIDs}
	if diffIDs == nil {
		cfg.RootFS.DiffIDs = []digest.Digest{}
	}
	cfg.History = append(slices.Clone(parentCfg.History), ocispec.History{Created: &created, CreatedBy: st.CreatedBy, Author: cfg.Author, EmptyLayer: empty})
	cfgDesc, err := s.writeJSON(ctx, ocispec.MediaTypeImageConfig, cfg)
	if err != nil {
		return Image{}, err
	}
	name := ""
	if st.CacheKey != "" {
		name = cachePrefix + st.CacheKey.String()
	}
	if layers == nil {
		layers = []ocispec.Descriptor{}
	}
	return s.storeImage(ctx, name, cfgDesc, layers)
}

// emptyDir reports whether dir has no entries (or cannot be read, which
// the diff would report).
func emptyDir(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	names, _ := f.Readdirnames(1)
	return len(names) == 0
}

// DockerConfig reads the config of image id with Docker's extensions
// (Healthcheck, Shell, OnBuild), which Image.Config leaves out.
func (s *Store) DockerConfig(ctx context.Context, id digest.Digest) (dockerspec.DockerOCIImage, error) {
	var img dockerspec.DockerOCIImage
	err := s.readJSON(ctx, id, &img)
	return img, err
}

// CachedStep returns the image recorded under the cache key, or
// errdefs.ErrNotFound.
func (s *Store) CachedStep(ctx context.Context, key digest.Digest) (Image, error) {
	rec, err := s.db.GetImage(ctx, cachePrefix+key.String())
	if err != nil {
		return Image{}, err
	}
	r, err := s.resolve(ctx, rec.Target)
	if err != nil {
		return Image{}, err
	}
	return *newImage(rec.Target, r), nil
}

// RecordStep records img under the cache key too (a cached step reached
// another way, such as the last step of a build under a new key).
func (s *Store) RecordStep(ctx context.Context, key digest.Digest, img Image) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.db.CreateImage(ctx, metadata.Image{Name: cachePrefix + key.String(), Target: img.Target})
	if errdefs.IsAlreadyExists(err) {
		_, err = s.db.UpdateImage(ctx, metadata.Image{Name: cachePrefix + key.String(), Target: img.Target})
	}
	return err
}

// KeepDangling records the image id as dangling (shown by `images`) when
// no tag or dangling record names it: the result of a build without a
// tag, as Docker shows it.
func (s *Store) KeepDangling(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	img, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	if !img.Intermediate {
		return nil
	}
	_, err = s.db.CreateImage(ctx, metadata.Image{Name: danglingPrefix + img.Target.Digest.String(), Target: img.Target})
	if errdefs.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// PruneBuildCache deletes every build cache record and returns the IDs
// of the images that were intermediate (named by nothing else); GC then
// removes what no other image needs.
func (s *Store) PruneBuildCache(ctx context.Context) ([]string, error) {
	imgs, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, img := range imgs {
		if img.Intermediate {
			ids = append(ids, img.ID.String())
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	recs, err := s.db.ListImages(ctx)
	if err != nil {
		return nil, err
	}
	for _, rec := range recs {
		if strings.HasPrefix(rec.Name, cachePrefix) {
			if err := s.db.DeleteImage(ctx, rec.Name); err != nil && !errdefs.IsNotFound(err) {
				return ids, err
			}
		}
	}
	return ids, nil
}
