// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package image_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/berth-project/berth/internal/content"
	"github.com/berth-project/berth/internal/distribution"
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

// A registry image whose second layer does not match its diff_id fails to
// pull, and the pull leaves no record, blob or snapshot behind.
func TestPullDiffIDMismatch(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	host := testutil.StartRegistry(t)
	ref := host + "/test/corrupt:1"

	cs, err := content.New(t.TempDir())
	assert.NilError(t, err)
	l1, d1 := gzLayer(t, "a", "good")
	l2, _ := gzLayer(t, "b", "bad")
	cfg := ocispec.Image{Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"}}
	cfg.RootFS = ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{d1, digest.FromString("something else")}}
	cb, err := json.Marshal(cfg)
	assert.NilError(t, err)
	m := ocispec.Manifest{
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    put(t, cs, ocispec.MediaTypeImageConfig, cb),
		Layers:    []ocispec.Descriptor{put(t, cs, ocispec.MediaTypeImageLayerGzip, l1), put(t, cs, ocispec.MediaTypeImageLayerGzip, l2)},
	}
	m.SchemaVersion = 2
	mb, err := json.Marshal(m)
	assert.NilError(t, err)
	named, err := distribution.ParseRef(ref)
	assert.NilError(t, err)
	client := &distribution.Client{}
	assert.NilError(t, client.Push(ctx, cs, named, mb, ocispec.MediaTypeImageManifest, distribution.PushOptions{}))

	_, err = s.Pull(ctx, ref, client, nil)
	assert.Check(t, errdefs.IsFailedPrecondition(err), "%v", err)
	assert.Check(t, is.ErrorContains(err, "layer "+m.Layers[1].Digest.String()+": uncompressed content has digest "))
	assert.Check(t, is.ErrorContains(err, "but the image config's diff_id is "+digest.FromString("something else").String()))
	list, err := s.List(ctx)
	assert.NilError(t, err)
	assert.Check(t, is.Len(list, 0))
	assert.Check(t, is.Len(blobs(t, s), 0))
	assert.Check(t, is.Len(snapshots(t, s), 0))
}
