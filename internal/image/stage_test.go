// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/berth-project/berth/internal/testutil"
)

func layerTar(t *testing.T, name, body string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	assert.NilError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body))}))
	_, err := tw.Write([]byte(body))
	assert.NilError(t, err)
	assert.NilError(t, tw.Close())
	return buf.Bytes()
}

// stageBlob streams b through st as a blob that was then stored.
func stageBlob(t *testing.T, st *stager, b []byte) digest.Digest {
	t.Helper()
	g := st.layer()
	d := digest.FromBytes(b)
	_, err := g.Write(b)
	assert.NilError(t, err)
	g.finish(d, nil)
	return d
}

func TestStager(t *testing.T) {
	testutil.RequiresRoot(t)
	dir := t.TempDir()
	st := &stager{ctx: t.Context(), dir: dir, byBlob: map[digest.Digest]*staging{}}

	plain := layerTar(t, "hello", "hi\n")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err := zw.Write(layerTar(t, "gz", "zipped\n"))
	assert.NilError(t, err)
	assert.NilError(t, zw.Close())

	dPlain := stageBlob(t, st, plain)
	dGzip := stageBlob(t, st, gz.Bytes())
	dJSON := stageBlob(t, st, []byte(`{"config":{}}`))
	dLeft := stageBlob(t, st, layerTar(t, "left", "never taken\n"))

	// A failed store of the blob makes its tree unusable.
	g := st.layer()
	_, err = g.Write(layerTar(t, "partial", "x"))
	assert.NilError(t, err)
	g.finish("", os.ErrClosed)

	tree, diffID, ok, err := st.take(t.Context(), dPlain)
	assert.NilError(t, err)
	assert.Check(t, ok)
	assert.Check(t, is.Equal(diffID, dPlain), "an uncompressed layer's diff_id is its digest")
	b, err := os.ReadFile(filepath.Join(tree, "hello"))
	assert.NilError(t, err)
	assert.Check(t, is.Equal(string(b), "hi\n"))

	tree, diffID, ok, err = st.take(t.Context(), dGzip)
	assert.NilError(t, err)
	assert.Check(t, ok)
	assert.Check(t, is.Equal(diffID, digest.FromBytes(layerTar(t, "gz", "zipped\n"))))
	b, err = os.ReadFile(filepath.Join(tree, "gz"))
	assert.NilError(t, err)
	assert.Check(t, is.Equal(string(b), "zipped\n"))

	_, _, ok, err = st.take(t.Context(), dJSON)
	assert.NilError(t, err)
	assert.Check(t, !ok, "not a layer")
	_, _, ok, err = st.take(t.Context(), digest.FromString("never streamed"))
	assert.NilError(t, err)
	assert.Check(t, !ok)

	// close removes what was not taken, and nothing else.
	assert.NilError(t, st.close())
	des, err := os.ReadDir(dir)
	assert.NilError(t, err)
	assert.Check(t, is.Len(des, 2), "the two trees taken")
	_, _, ok, _ = st.take(t.Context(), dLeft)
	assert.Check(t, !ok)
}

// Load leaves nothing in <root>/unpack, and New empties what a crash left.
func TestLoadStagedCleanup(t *testing.T) {
	testutil.RequiresRoot(t)
	ctx := t.Context()
	root := t.TempDir()
	s, err := New(ctx, root)
	assert.NilError(t, err)
	layer := layerTar(t, "hello", "hi\n")
	cfg := `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["` + digest.FromBytes(layer).String() + `"]}}`
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range []struct{ name, body string }{
		{"l1/layer.tar", string(layer)},
		{"c.json", cfg},
		{"manifest.json", `[{"Config":"c.json","RepoTags":["staged:1"],"Layers":["l1/layer.tar"]}]`},
	} {
		assert.NilError(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: e.name, Mode: 0o644, Size: int64(len(e.body))}))
		_, err := tw.Write([]byte(e.body))
		assert.NilError(t, err)
	}
	assert.NilError(t, tw.Close())
	_, err = s.Load(ctx, &buf, nil)
	assert.NilError(t, err)
	des, err := os.ReadDir(filepath.Join(root, "unpack"))
	assert.NilError(t, err)
	assert.Check(t, is.Len(des, 0))
	assert.NilError(t, s.Close())

	assert.NilError(t, os.MkdirAll(filepath.Join(root, "unpack", "layer-1", "etc"), 0o755))
	s, err = New(ctx, root)
	assert.NilError(t, err)
	defer s.Close()
	des, err = os.ReadDir(filepath.Join(root, "unpack"))
	assert.NilError(t, err)
	assert.Check(t, is.Len(des, 0))
}

func TestChunkPipe(t *testing.T) {
	p := newChunkPipe()
	big := bytes.Repeat([]byte("0123456789abcdef"), chunkSize/4) // 4 chunks
	go func() {
		_, err := p.Write(big)
		p.closeWrite(err)
	}()
	got, err := io.ReadAll(p)
	assert.NilError(t, err)
	assert.Check(t, bytes.Equal(got, big))

	// A reader that stops unblocks the writer, whose error says why.
	p = newChunkPipe()
	p.closeRead()
	_, err = p.Write(bytes.Repeat(big, chunkPipeDepth))
	assert.Check(t, is.ErrorIs(err, errReaderClosed))
	_, err = p.Read(make([]byte, 1))
	assert.Check(t, is.ErrorIs(err, errReaderClosed))

	// The writer's error reaches the reader after the data.
	p = newChunkPipe()
	_, err = p.Write([]byte("abc"))
	assert.NilError(t, err)
	p.closeWrite(os.ErrClosed)
	p.closeWrite(nil) // only the first counts
	got, err = io.ReadAll(p)
	assert.Check(t, is.ErrorIs(err, os.ErrClosed))
	assert.Check(t, is.Equal(string(got), "abc"))
}
