// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Annotations of index.json entries, as Docker writes them.
const (
	annotationImageName = "io.containerd.image.name"
	annotationRefName   = ocispec.AnnotationRefName
)

// legacyManifest is one entry of Docker's manifest.json.
type legacyManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// Save writes the images refs name (any form Get takes) to w as one tar
// in Docker's image archive format, as `docker save` of Docker 25 does: an
// OCI image layout (oci-layout, index.json, blobs/sha256/…) with Docker's
// legacy manifest.json and repositories beside it. Each blob is written
// once, in the order the images first reach it; an image saved by name
// carries that name, one saved by ID none. The same images give the same
// bytes.
func (s *Store) Save(ctx context.Context, w io.Writer, refs []string) error {
	type saved struct {
		img   Image
		names []reference.NamedTagged
	}
	var imgs []*saved
	byID := map[digest.Digest]*saved{}
	for _, ref := range refs {
		img, name, err := s.lookup(ctx, ref)
		if err != nil {
			return err
		}
		sv := byID[img.ID]
		if sv == nil {
			sv = &saved{img: img}
			byID[img.ID] = sv
			imgs = append(imgs, sv)
		}
		if kind, n := nameKind(name); kind == kindTag {
			if nt, ok := n.(reference.NamedTagged); ok && !slices.ContainsFunc(sv.names, func(o reference.NamedTagged) bool { return o.String() == nt.String() }) {
				sv.names = append(sv.names, nt)
			}
		}
	}

	tw := tar.NewWriter(w)
	var blobs []ocispec.Descriptor
	seen := map[digest.Digest]bool{}
	index := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{}}
	index.SchemaVersion = 2
	manifests := []legacyManifest{}
	repositories := map[string]map[string]string{}
	add := func(d ocispec.Descriptor) {
		if !seen[d.Digest] {
			seen[d.Digest] = true
			blobs = append(blobs, d)
		}
	}
	for _, sv := range imgs {
		img := sv.img
		m := img.Manifest
		m.Annotations, m.Platform = nil, nil
		add(m)
		cfg := ocispec.Descriptor{Digest: img.ID}
		add(cfg)
		lm := legacyManifest{Config: blobPath(img.ID), RepoTags: []string{}}
		for _, l := range img.Layers {
			add(l)
			lm.Layers = append(lm.Layers, blobPath(l.Digest))
		}
		if len(sv.names) == 0 {
			index.Manifests = append(index.Manifests, m)
		}
		for _, n := range sv.names {
			d := m
			d.Annotations = map[string]string{annotationImageName: n.String(), annotationRefName: n.Tag()}
			index.Manifests = append(index.Manifests, d)
			lm.RepoTags = append(lm.RepoTags, reference.FamiliarString(n))
			repo := reference.FamiliarName(n)
			if repositories[repo] == nil {
				repositories[repo] = map[string]string{}
			}
			repositories[repo][n.Tag()] = img.ID.Encoded()
		}
		manifests = append(manifests, lm)
	}

	if err := writeDir(tw, "blobs/"); err != nil {
		return err
	}
	if err := writeDir(tw, "blobs/sha256/"); err != nil {
		return err
	}
	for _, b := range blobs {
		if err := s.writeBlobEntry(ctx, tw, b.Digest); err != nil {
			return err
		}
	}
	files := []struct {
		name string
		v    any
	}{
		{ocispec.ImageIndexFile, index},
		{"manifest.json", manifests},
		{ocispec.ImageLayoutFile, ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion}},
	}
	if len(repositories) > 0 {
		files = append(files, struct {
			name string
			v    any
		}{"repositories", repositories})
	}
	for _, f := range files {
		b, err := json.Marshal(f.v)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(fileHeader(f.name, int64(len(b)))); err != nil {
			return err
		}
		if _, err := tw.Write(b); err != nil {
			return err
		}
	}
	return tw.Close()
}

// blobPath is where the blob d is in an OCI image layout.
func blobPath(d digest.Digest) string {
	return path.Join(ocispec.ImageBlobsDir, d.Algorithm().String(), d.Encoded())
}

func (s *Store) writeBlobEntry(ctx context.Context, tw *tar.Writer, d digest.Digest) error {
	ra, err := s.content.ReaderAt(ctx, d)
	if err != nil {
		return fmt.Errorf("save: blob %s: %w", d, err)
	}
	defer ra.Close()
	if err := tw.WriteHeader(fileHeader(blobPath(d), ra.Size())); err != nil {
		return err
	}
	_, err = io.Copy(tw, io.NewSectionReader(ra, 0, ra.Size()))
	return err
}

// epoch is the modification time of every entry, so that an archive
// depends on its images only.
var epoch = time.Unix(0, 0)

func fileHeader(name string, size int64) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o444, ModTime: epoch, Format: tar.FormatUSTAR}
}

func writeDir(tw *tar.Writer, name string) error {
	return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimSuffix(name, "/") + "/", Mode: 0o755, ModTime: epoch, Format: tar.FormatUSTAR})
}
