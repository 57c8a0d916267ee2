// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package distribution

import (
	"context"
	"encoding/json"
	"io"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// maxConfigSize bounds the image config Inspect reads for its platform.
const maxConfigSize = 8 << 20

// Inspect asks the registry what ref names, without pulling anything: the
// descriptor of the manifest or index it points at, and the platforms it
// offers: those of an index's entries, or for a single manifest the
// platform in its image config, when the config names one (as GET
// /distribution/{name}/json answers in Docker).
func (c *Client) Inspect(ctx context.Context, ref reference.Named) (ocispec.Descriptor, []ocispec.Platform, error) {
	if err := c.init(); err != nil {
		return ocispec.Descriptor{}, nil, err
	}
	n, err := toName(ref)
	if err != nil {
		return ocispec.Descriptor{}, nil, err
	}
	if n, err = c.name(n); err != nil {
		return ocispec.Descriptor{}, nil, errdefs.ErrInvalidArgument.WithMessage(err.Error())
	}
	what := "manifest for " + reference.FamiliarString(ref)
	got, err := c.puller.Get(ctx, n)
	if err != nil {
		return ocispec.Descriptor{}, nil, classify(err, what)
	}
	raw := got.Manifest
	desc := ocispec.Descriptor{
		MediaType: mediaTypeOf(raw, string(got.MediaType)),
		Digest:    digest.Digest(got.Digest.String()),
		Size:      got.Size,
	}
	platforms := []ocispec.Platform{}
	if isIndex(raw, string(got.MediaType)) {
		var idx ocispec.Index
		if err := json.Unmarshal(raw, &idx); err != nil {
			return ocispec.Descriptor{}, nil, errdefs.ErrInvalidArgument.WithMessage(what + ": " + err.Error())
		}
		for _, m := range idx.Manifests {
			if m.Platform != nil {
				platforms = append(platforms, *m.Platform)
			}
		}
		return desc, platforms, nil
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil || m.Config.Digest == "" {
		return desc, platforms, nil // no config to read a platform from
	}
	blob, err := c.puller.Layer(ctx, n.Context().Digest(m.Config.Digest.String()))
	if err != nil {
		return ocispec.Descriptor{}, nil, classify(err, what)
	}
	rc, err := blob.Compressed()
	if err != nil {
		return ocispec.Descriptor{}, nil, classify(err, what)
	}
	defer rc.Close()
	cfg, err := io.ReadAll(io.LimitReader(rc, maxConfigSize))
	if err != nil {
		return ocispec.Descriptor{}, nil, classify(err, what)
	}
	var p ocispec.Platform
	if json.Unmarshal(cfg, &p) == nil && (p.OS != "" || p.Architecture != "") {
		platforms = append(platforms, p)
	}
	return desc, platforms, nil
}
