// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package image

import (
	"context"
	"crypto/rand"
	"fmt"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"io"
	"slices"
	"time"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-project/berth/internal/archive"
	"github.com/berth-project/berth/internal/distribution"
	"github.com/berth-project/berth/internal/snapshot"
)

// CommitOptions says what Commit makes of a writable layer.
type CommitOptions struct {
	// Parent is the image the writable layer was prepared on (any form
	// Get takes): the new image has its layers plus one.
	Parent string
	// Changes is the new image's runtime configuration (it replaces the
	// parent's), the history comment and the creation time.
	Changes ImageConfigChanges
	// Author is the config's and the history entry's author.
	Author string
	// CreatedBy is the history entry's command, the container's command
	// line in Docker.
	CreatedBy string
	// Ref names the new image ("repo:tag"); "" leaves it dangling.
	Ref string
	// Ran says a container ran on the layer: the runtime's mountpoints
	// are left out of it (archive.WriteRunDiff).
	Ran bool
}

// Commit makes an image of the active snapshot key (a container's writable
// layer made by Mounts), as `docker commit` does: the changes in its upper
// directory become one new gzip layer on top of the parent's layers, which
// is also unpacked as a committed snapshot so that containers can run the
// new image at once. The snapshot key is left as it is. The caller keeps
// the layer from changing while Commit reads it (Docker pauses the
// container).
func (s *Store) Commit(ctx context.Context, key string, opts CommitOptions) (Image, error) {
	var name string
	if opts.Ref != "" {
		n, err := distribution.ParseRef(opts.Ref)
		if err != nil {
			return Image{}, err
		}
		if _, ok := n.(reference.Canonical); ok {
			return Image{}, errdefs.ErrInvalidArgument.WithMessage("commit: the reference must not hold a digest: " + opts.Ref)
		}
		name = n.String()
	}
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()

	parent, err := s.Get(ctx, opts.Parent)
	if err != nil {
		return Image{}, err
	}
	mounts, err := s.sn.Mounts(ctx, key)
	if err != nil {
		return Image{}, fmt.Errorf("commit %s: %w", key, err)
	}
	upper, lower, err := snapshot.DiffDirs(mounts)
	if err != nil {
		return Image{}, fmt.Errorf("commit %s: %w", key, err)
	}
	layer, diffID, err := s.writeDiff(ctx, upper, lower, opts.Ran)
	if err != nil {
		return Image{}, fmt.Errorf("commit %s: %w", key, err)
	}
	diffIDs := append(slices.Clone(parent.Config.RootFS.DiffIDs), diffID)
	chain := identity.ChainID(slices.Clone(diffIDs))
	if _, err := s.sn.Stat(ctx, chain.String()); errdefs.IsNotFound(err) {
		err = s.applyLayer(ctx, layer, diffID, chain.String(), parent.ChainID.String(), nil)
		if err != nil {
			return Image{}, fmt.Errorf("commit %s: unpack the new layer: %w", key, err)
		}
	} else if err != nil {
		return Image{}, err
	}

	created := opts.Changes.Created
	if created.IsZero() {
		created = time.Now().UTC()
	}
	cfg := parent.Config
	cfg.Created = &created
	cfg.Author = opts.Author
	cfg.Config = opts.Changes.Config
	cfg.RootFS = ocispec.RootFS{Type: "layers", DiffIDs: diffIDs}
	cfg.History = append(slices.Clone(parent.Config.History), ocispec.History{
		Created: &created, CreatedBy: opts.CreatedBy, Author: opts.Author, Comment: opts.Changes.Comment,
	})
	// with Docker's extensions (a HEALTHCHECK, ONBUILD or SHELL the
	// container had), as build writes its configs
	dcfg := dockerspec.DockerOCIImage{Image: cfg, Config: dockerspec.DockerOCIImageConfig{ImageConfig: cfg.Config,
		DockerOCIImageConfigExt: dockerspec.DockerOCIImageConfigExt{
			Healthcheck: opts.Changes.Healthcheck, OnBuild: opts.Changes.OnBuild, Shell: opts.Changes.Shell}}}
	cfgDesc, err := s.writeJSON(ctx, ocispec.MediaTypeImageConfig, dcfg)
	if err != nil {
		return Image{}, err
	}
	return s.storeImage(ctx, name, cfgDesc, append(slices.Clone(parent.Layers), layer))
}

// storeImage writes the manifest of the image whose config is cfgDesc and
// layers are layers, names it name (dangling when empty) and returns it:
// the last steps of import and commit.
func (s *Store) storeImage(ctx context.Context, name string, cfgDesc ocispec.Descriptor, layers []ocispec.Descriptor) (Image, error) {
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfgDesc, Layers: layers}
	m.SchemaVersion = 2
	target, err := s.writeJSON(ctx, ocispec.MediaTypeImageManifest, m)
	if err != nil {
		return Image{}, err
	}
	if name == "" {
		name = danglingPrefix + target.Digest.String()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.setName(ctx, name, target); err != nil {
		return Image{}, err
	}
	return s.Get(ctx, cfgDesc.Digest.String())
}

// writeDiff stores the layer tar of upper over lower, gzipped, and returns
// its descriptor and diff ID.
func (s *Store) writeDiff(ctx context.Context, upper string, lower []string, ran bool) (ocispec.Descriptor, digest.Digest, error) {
	ingest := "commit-" + rand.Text()
	w, err := s.content.Writer(ctx, ingest, "", 0)
	if err != nil {
		return ocispec.Descriptor{}, "", err
	}
	committed := false
	defer func() {
		w.Close()
		if !committed {
			s.content.Abort(context.WithoutCancel(ctx), ingest)
		}
	}()
	gz := gzip.NewWriter(w)
	diff := digest.Canonical.Digester()
	write := archive.WriteDiff
	if ran {
		write = archive.WriteRunDiff
	}
	if _, err := write(ctx, io.MultiWriter(diff.Hash(), gz), upper, lower); err != nil {
		return ocispec.Descriptor{}, "", err
	}
	if err := gz.Close(); err != nil {
		return ocispec.Descriptor{}, "", err
	}
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: w.Digest(), Size: w.Offset()}
	if err := w.Commit(ctx, desc.Size, desc.Digest); err != nil && !errdefs.IsAlreadyExists(err) {
		return ocispec.Descriptor{}, "", err
	}
	committed = true
	return desc, diff.Digest(), nil
}
