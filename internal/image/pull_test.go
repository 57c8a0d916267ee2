// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package image_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/berth-project/berth/internal/content"
	"github.com/berth-project/berth/internal/distribution"
	"github.com/berth-project/berth/internal/snapshot"
	"github.com/berth-project/berth/internal/testutil"
)

// put stores b in cs and returns its descriptor.
func put(t *testing.T, cs *content.Store, mediaType string, b []byte) ocispec.Descriptor {
	t.Helper()
	d := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(b), Size: int64(len(b))}
	assert.NilError(t, content.WriteBlob(t.Context(), cs, d.Digest.String(), bytes.NewReader(b), d.Size, d.Digest))
	return d
}

// gzLayer is a gzipped layer holding one file, and its diff ID.
func gzLayer(t *testing.T, name, body string) ([]byte, digest.Digest) {
	t.Helper()
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	assert.NilError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}))
	_, err := tw.Write([]byte(body))
	assert.NilError(t, err)
	assert.NilError(t, tw.Close())
	var gb bytes.Buffer
	zw := gzip.NewWriter(&gb)
	_, err = zw.Write(tb.Bytes())
	assert.NilError(t, err)
	assert.NilError(t, zw.Close())
	return gb.Bytes(), digest.FromBytes(tb.Bytes())
}

// pushImage pushes an image of the given gzipped layers and diff IDs to
// ref from a content store of its own.
func pushImage(t *testing.T, ref string, layers [][]byte, diffIDs []digest.Digest) ocispec.Manifest {
	t.Helper()
	cs, err := content.New(t.TempDir())
	assert.NilError(t, err)
	cfg := ocispec.Image{Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"}}
	cfg.RootFS = ocispec.RootFS{Type: "layers", DiffIDs: diffIDs}
	cb, err := json.Marshal(cfg)
	assert.NilError(t, err)
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: put(t, cs, ocispec.MediaTypeImageConfig, cb)}
	m.SchemaVersion = 2
	for _, l := range layers {
		m.Layers = append(m.Layers, put(t, cs, ocispec.MediaTypeImageLayerGzip, l))
	}
	mb, err := json.Marshal(m)
	assert.NilError(t, err)
	named, err := distribution.ParseRef(ref)
	assert.NilError(t, err)
	assert.NilError(t, (&distribution.Client{}).Push(t.Context(), cs, named, mb, ocispec.MediaTypeImageManifest, distribution.PushOptions{}))
	return m
}

// A three-layer image unpacks into a chain of snapshots: each layer on
// the one below, with the whiteout of the third hiding a file of the first.
func TestPullLayers(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	host := testutil.StartRegistry(t)
	ref := host + "/test/layers:1"
	l1, d1 := gzLayer(t, "a", "1")
	l2, d2 := gzLayer(t, "b", "2")
	l3, d3 := gzLayer(t, ".wh.a", "")
	pushImage(t, ref, [][]byte{l1, l2, l3}, []digest.Digest{d1, d2, d3})

	img, err := s.Pull(ctx, ref, &distribution.Client{}, nil)
	assert.NilError(t, err)
	assert.Check(t, is.Equal(img.ChainID, identity.ChainID([]digest.Digest{d1, d2, d3})))
	assert.Check(t, is.DeepEqual(img.Config.RootFS.DiffIDs, []digest.Digest{d1, d2, d3}))
	assert.Check(t, is.Len(snapshots(t, s), 3))
	info, err := s.Snapshotter().Stat(ctx, img.ChainID.String())
	assert.NilError(t, err)
	assert.Check(t, is.Equal(info.Parent, identity.ChainID([]digest.Digest{d1, d2}).String()))

	mounts := prepare(t, s, img.ID.String(), "ctr")
	assert.NilError(t, snapshot.WithTempMount(ctx, mounts, func(root string) error {
		b, err := os.ReadFile(filepath.Join(root, "b"))
		assert.Check(t, err)
		assert.Check(t, is.Equal(string(b), "2"))
		_, err = os.Lstat(filepath.Join(root, "a"))
		assert.Check(t, os.IsNotExist(err), "%v", err)
		return nil
	}))
}

// A registry image whose second layer does not match its diff_id fails to
// pull, and the pull leaves no record, blob or snapshot behind.
func TestPullDiffIDMismatch(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	host := testutil.StartRegistry(t)
	ref := host + "/test/corrupt:1"

	l1, d1 := gzLayer(t, "a", "good")
	l2, _ := gzLayer(t, "b", "bad")
	m := pushImage(t, ref, [][]byte{l1, l2}, []digest.Digest{d1, digest.FromString("something else")})

	_, err := s.Pull(ctx, ref, &distribution.Client{}, nil)
	assert.Check(t, errdefs.IsFailedPrecondition(err), "%v", err)
	assert.Check(t, is.ErrorContains(err, "layer "+m.Layers[1].Digest.String()+": uncompressed content has digest "))
	assert.Check(t, is.ErrorContains(err, "but the image config's diff_id is "+digest.FromString("something else").String()))
	list, err := s.List(ctx)
	assert.NilError(t, err)
	assert.Check(t, is.Len(list, 0))
	assert.Check(t, is.Len(blobs(t, s), 0))
	assert.Check(t, is.Len(snapshots(t, s), 0))
}
