// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package image

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"io"
	"runtime"
	"time"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-project/berth/internal/archive"
	"github.com/berth-project/berth/internal/content"
	"github.com/berth-project/berth/internal/distribution"
)

// ImageConfigChanges is what `import` (and later `commit`) sets in the new
// image's config. The caller turns --change lines into Config.
type ImageConfigChanges struct {
	// Config is the image's runtime configuration (Cmd, Env, …).
	Config ocispec.ImageConfig
	// Comment is the history entry's comment (`import -m`), also the
	// config's comment.
	Comment string
	// Created is the image's creation time; zero means now.
	Created time.Time
	// Healthcheck, OnBuild and Shell are Docker's extensions of the
	// config, which an OCI config has no fields for (commit keeps the
	// container's).
	Healthcheck *dockerspec.HealthcheckConfig
	OnBuild     []string
	Shell       []string
}

// Import makes a one-layer image from the root filesystem tar read from r
// (uncompressed, gzip or zstd) and names it ref, or leaves it dangling
// when ref is "". The tar is unpacked and stored as a gzip layer in one
// pass; the manifest is an OCI image manifest for linux on this machine's
// architecture.
func (s *Store) Import(ctx context.Context, r io.Reader, ref string, changes ImageConfigChanges) (Image, error) {
	var name string
	if ref != "" {
		n, err := distribution.ParseRef(ref)
		if err != nil {
			return Image{}, err
		}
		if _, ok := n.(reference.Canonical); ok {
			return Image{}, errdefs.ErrInvalidArgument.WithMessage("import: the reference must not hold a digest: " + ref)
		}
		name = n.String()
	}
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()

	layer, diffID, err := s.importLayer(ctx, r)
	if err != nil {
		return Image{}, err
	}
	created := changes.Created
	if created.IsZero() {
		created = time.Now().UTC()
	}
	cfg := ocispec.Image{
		Created:  &created,
		Platform: ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH},
		Config:   changes.Config,
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffID}},
		History:  []ocispec.History{{Created: &created, Comment: changes.Comment}},
	}
	cfgDesc, err := s.writeJSON(ctx, ocispec.MediaTypeImageConfig, cfg)
	if err != nil {
		return Image{}, err
	}
	return s.storeImage(ctx, name, cfgDesc, []ocispec.Descriptor{layer})
}

// importLayer unpacks the tar r into the snapshot of its chain ID and
// stores it gzipped, returning the layer's descriptor and diff ID.
func (s *Store) importLayer(ctx context.Context, r io.Reader) (ocispec.Descriptor, digest.Digest, error) {
	tr, err := archive.Decompress(r)
	if err != nil {
		return ocispec.Descriptor{}, "", fmt.Errorf("import: %w", err)
	}
	defer tr.Close()

	ingest := "import-" + rand.Text()
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
	err = s.extract(ctx, "", func(root string) (digest.Digest, error) {
		if _, err := archive.Apply(ctx, root, io.TeeReader(tr, io.MultiWriter(diff.Hash(), gz)), archive.ApplyOptions{}); err != nil {
			return "", fmt.Errorf("import: %w", err)
		}
		if err := gz.Close(); err != nil {
			return "", err
		}
		return diff.Digest(), nil
	})
	if err != nil {
		return ocispec.Descriptor{}, "", err
	}
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: w.Digest(), Size: w.Offset()}
	if err := w.Commit(ctx, desc.Size, desc.Digest); err != nil && !errdefs.IsAlreadyExists(err) {
		return ocispec.Descriptor{}, "", err
	}
	committed = true
	return desc, diff.Digest(), nil
}

// writeJSON stores v as a blob of mediaType.
func (s *Store) writeJSON(ctx context.Context, mediaType string, v any) (ocispec.Descriptor, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	d := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(b), Size: int64(len(b))}
	if err := content.WriteBlob(ctx, s.content, d.Digest.String(), bytes.NewReader(b), d.Size, d.Digest); err != nil {
		return ocispec.Descriptor{}, err
	}
	return d, nil
}
