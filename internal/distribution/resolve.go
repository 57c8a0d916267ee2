// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package distribution

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Media types of Docker's manifests; the OCI ones are in ocispec.
const (
	MediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	mediaTypeDockerSchema1      = "application/vnd.docker.distribution.manifest.v1+json"
	mediaTypeDockerSchema1Sig   = "application/vnd.docker.distribution.manifest.v1+prettyjws"
)

// Resolved is a reference resolved to one platform's image manifest.
type Resolved struct {
	// Name is the reference that was resolved.
	Name reference.Named
	// Target is what the reference points at in the registry: an index
	// or manifest list, or the manifest itself. Its digest is the one
	// Docker records in RepoDigests.
	Target ocispec.Descriptor
	// Index holds the raw index or manifest list when Target is one.
	Index []byte
	// Manifest describes the chosen image manifest (with its platform
	// when it came from an index); Manifest.MediaType is Docker schema2
	// or OCI.
	Manifest ocispec.Descriptor
	// Raw is the manifest exactly as the registry sent it; its digest is
	// Manifest.Digest.
	Raw []byte
	// Config and Layers are parsed from Raw.
	Config ocispec.Descriptor
	Layers []ocispec.Descriptor
}

// Resolve finds the image manifest ref names for the client's platform,
// following an OCI index or Docker manifest list.
func (c *Client) Resolve(ctx context.Context, ref reference.Named) (Resolved, error) {
	if err := c.init(); err != nil {
		return Resolved{}, err
	}
	n, err := toName(ref)
	if err != nil {
		return Resolved{}, err
	}
	if n, err = c.name(n); err != nil {
		return Resolved{}, errdefs.ErrInvalidArgument.WithMessage(err.Error())
	}
	what := "manifest for " + reference.FamiliarString(ref)
	desc, err := c.puller.Get(ctx, n)
	if err != nil {
		return Resolved{}, classify(err, what)
	}
	r := Resolved{
		Name:   ref,
		Target: ocispec.Descriptor{MediaType: string(desc.MediaType), Digest: digest.Digest(desc.Digest.String()), Size: desc.Size},
	}
	raw, mediaType := desc.Manifest, string(desc.MediaType)
	if isIndex(raw, mediaType) {
		r.Index = raw
		r.Target.MediaType = mediaTypeOf(raw, mediaType)
		child, err := pickManifest(raw, c.platform())
		if err != nil {
			return Resolved{}, fmt.Errorf("%s: %w", what, err)
		}
		r.Manifest = child
		d, err := c.puller.Get(ctx, n.Context().Digest(child.Digest.String()))
		if err != nil {
			return Resolved{}, classify(err, what)
		}
		raw, mediaType = d.Manifest, string(d.MediaType)
	} else {
		r.Manifest = r.Target
	}
	r.Raw = raw
	r.Manifest.MediaType = mediaTypeOf(raw, mediaType)
	switch r.Manifest.MediaType {
	case MediaTypeDockerManifest, ocispec.MediaTypeImageManifest:
	case mediaTypeDockerSchema1, mediaTypeDockerSchema1Sig:
		return Resolved{}, errdefs.ErrNotImplemented.WithMessage(what + ": Docker Image manifest version 2, schema 1 is not supported; push the image again with a current client")
	default:
		return Resolved{}, errdefs.ErrNotImplemented.WithMessage(fmt.Sprintf("%s: unsupported manifest media type %q", what, r.Manifest.MediaType))
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return Resolved{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("%s: %v", what, err))
	}
	r.Config, r.Layers = m.Config, m.Layers
	return r, nil
}

// mediaTypeOf is the media type the registry sent or, when it sent
// none, the one in the document.
func mediaTypeOf(raw []byte, sent string) string {
	if sent != "" && sent != "application/json" && sent != "text/plain" {
		return sent
	}
	var v struct {
		MediaType string `json:"mediaType"`
		Manifests json.RawMessage
	}
	if json.Unmarshal(raw, &v) == nil {
		if v.MediaType != "" {
			return v.MediaType
		}
		if v.Manifests != nil {
			return ocispec.MediaTypeImageIndex
		}
	}
	return ocispec.MediaTypeImageManifest
}

func isIndex(raw []byte, sent string) bool {
	mt := mediaTypeOf(raw, sent)
	return mt == ocispec.MediaTypeImageIndex || mt == MediaTypeDockerManifestList
}

// pickManifest chooses the manifest for want from an index: same OS and
// architecture, the variant too when both name one; the first match wins,
// as in Docker. Attestation manifests (platform unknown/unknown) never match.
func pickManifest(raw []byte, want ocispec.Platform) (ocispec.Descriptor, error) {
	var idx ocispec.Index
	if err := json.Unmarshal(raw, &idx); err != nil {
		return ocispec.Descriptor{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("index: %v", err))
	}
	for _, d := range idx.Manifests {
		p := d.Platform
		if p == nil || p.OS != want.OS || p.Architecture != want.Architecture {
			continue
		}
		if want.Variant != "" && p.Variant != "" && want.Variant != p.Variant {
			continue
		}
		return d, nil
	}
	return ocispec.Descriptor{}, errdefs.ErrNotFound.WithMessage(fmt.Sprintf(
		"no matching manifest for %s in the manifest list entries", platformString(want)))
}

func platformString(p ocispec.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}
