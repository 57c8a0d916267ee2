// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package distribution_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"gotest.tools/v3/assert"

	"github.com/berth-project/berth/internal/content"
	"github.com/berth-project/berth/internal/distribution"
)

// testImage is an image made in memory and stored in a content store.
type testImage struct {
	Manifest     []byte
	ManifestDesc ocispec.Descriptor
	Config       ocispec.Descriptor
	Layers       []ocispec.Descriptor
}

func newStore(t *testing.T) *content.Store {
	t.Helper()
	s, err := content.New(t.TempDir())
	assert.NilError(t, err)
	return s
}

// putBlob stores b and returns its descriptor.
func putBlob(t *testing.T, s *content.Store, mediaType string, b []byte) ocispec.Descriptor {
	t.Helper()
	d := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(b), Size: int64(len(b))}
	assert.NilError(t, content.WriteBlob(t.Context(), s, "test-"+d.Digest.String(), bytes.NewReader(b), d.Size, d.Digest))
	return d
}

// layerTar is a gzipped tar holding the given files.
func layerTar(t *testing.T, files map[string]string) (gz []byte, diffID digest.Digest) {
	t.Helper()
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	for name, body := range files {
		assert.NilError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte(body))
		assert.NilError(t, err)
	}
	assert.NilError(t, tw.Close())
	var gzBuf bytes.Buffer
	zw := gzip.NewWriter(&gzBuf)
	_, err := zw.Write(tarBuf.Bytes())
	assert.NilError(t, err)
	assert.NilError(t, zw.Close())
	return gzBuf.Bytes(), digest.FromBytes(tarBuf.Bytes())
}

// buildImage stores an image of the given architecture with one layer per
// element of layers, as an OCI manifest.
func buildImage(t *testing.T, s *content.Store, arch string, layers ...map[string]string) testImage {
	t.Helper()
	var img testImage
	cfg := ocispec.Image{Platform: ocispec.Platform{OS: "linux", Architecture: arch}}
	cfg.Config.Cmd = []string{"/bin/sh"}
	cfg.RootFS.Type = "layers"
	for _, files := range layers {
		gz, diffID := layerTar(t, files)
		img.Layers = append(img.Layers, putBlob(t, s, ocispec.MediaTypeImageLayerGzip, gz))
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, diffID)
	}
	cb, err := json.Marshal(cfg)
	assert.NilError(t, err)
	img.Config = putBlob(t, s, ocispec.MediaTypeImageConfig, cb)
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: img.Config, Layers: img.Layers}
	m.SchemaVersion = 2
	img.Manifest, err = json.Marshal(m)
	assert.NilError(t, err)
	img.ManifestDesc = putBlob(t, s, ocispec.MediaTypeImageManifest, img.Manifest)
	return img
}

// statuses records the last status of each layer (the callback is
// serialized by the client).
type statuses map[string]string

func (s statuses) add(p distribution.Progress) { s[p.ID] = p.Status }
