// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package image_test

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/berth-project/berth/internal/image"
	"github.com/berth-project/berth/internal/snapshot"
)

// untar returns the entries of the tar b, by name, in order.
func untar(t *testing.T, b []byte) ([]string, map[string][]byte) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	var names []string
	files := map[string][]byte{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names, files
		}
		assert.NilError(t, err)
		names = append(names, hdr.Name)
		body, err := io.ReadAll(tr)
		assert.NilError(t, err)
		files[hdr.Name] = body
	}
}

// hasBusybox checks that a container on ref sees /bin/busybox.
func hasBusybox(t *testing.T, s *image.Store, ref, key string) {
	t.Helper()
	mounts := prepare(t, s, ref, key)
	err := snapshot.WithTempMount(t.Context(), mounts, func(root string) error {
		fi, err := os.Stat(filepath.Join(root, "bin", "busybox"))
		if err == nil {
			assert.Check(t, fi.Mode().IsRegular())
		}
		return err
	})
	assert.NilError(t, err)
}

func TestSaveLoad(t *testing.T) {
	ctx := t.Context()
	src := newStore(t)
	bb := importBusybox(t, src, "busybox", nil)
	app := importBusybox(t, src, "localhost:5000/app:1", map[string]string{"hello": "hi"})
	assert.NilError(t, src.Tag(ctx, "busybox", "busybox:1.36"))

	var buf bytes.Buffer
	refs := []string{"busybox", "localhost:5000/app:1", "busybox:1.36", bb.ID.String()}
	assert.NilError(t, src.Save(ctx, &buf, refs))
	var again bytes.Buffer
	assert.NilError(t, src.Save(ctx, &again, refs))
	assert.Check(t, bytes.Equal(buf.Bytes(), again.Bytes()), "saving twice gives different archives")

	names, files := untar(t, buf.Bytes())
	// 2 manifests, 2 configs, 2 layers: each once.
	assert.Check(t, is.Len(names, 2+6+4), "%v", names)
	assert.Check(t, is.Equal(string(files["oci-layout"]), `{"imageLayoutVersion":"1.0.0"}`))
	var legacy []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	assert.NilError(t, json.Unmarshal(files["manifest.json"], &legacy))
	assert.Assert(t, is.Len(legacy, 2))
	assert.Check(t, is.Equal(legacy[0].Config, "blobs/sha256/"+bb.ID.Encoded()))
	assert.Check(t, is.DeepEqual(legacy[0].RepoTags, []string{"busybox:latest", "busybox:1.36"}))
	assert.Check(t, is.DeepEqual(legacy[0].Layers, []string{"blobs/sha256/" + bb.Layers[0].Digest.Encoded()}))
	assert.Check(t, is.DeepEqual(legacy[1].RepoTags, []string{"localhost:5000/app:1"}))
	for _, l := range legacy {
		for _, p := range append([]string{l.Config}, l.Layers...) {
			assert.Check(t, files[p] != nil, p)
		}
	}
	var repos map[string]map[string]string
	assert.NilError(t, json.Unmarshal(files["repositories"], &repos))
	assert.Check(t, is.DeepEqual(repos, map[string]map[string]string{
		"busybox":            {"latest": bb.ID.Encoded(), "1.36": bb.ID.Encoded()},
		"localhost:5000/app": {"1": app.ID.Encoded()},
	}))
	var index struct {
		Manifests []struct {
			Digest      string
			Annotations map[string]string
		}
	}
	assert.NilError(t, json.Unmarshal(files["index.json"], &index))
	assert.Assert(t, is.Len(index.Manifests, 3))
	assert.Check(t, is.DeepEqual(index.Manifests[0].Annotations, map[string]string{
		"io.containerd.image.name":          "docker.io/library/busybox:latest",
		"org.opencontainers.image.ref.name": "latest",
	}))

	dst := newStore(t)
	var lines []string
	imgs, err := dst.Load(ctx, bytes.NewReader(buf.Bytes()), func(s string) { lines = append(lines, s) })
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(lines, []string{
		"Loaded image: busybox:latest", "Loaded image: busybox:1.36", "Loaded image: localhost:5000/app:1",
	}))
	assert.Assert(t, is.Len(imgs, 2))
	assert.Check(t, is.Equal(imgs[0].ID, bb.ID))
	assert.Check(t, is.Equal(imgs[0].Target.Digest, bb.Target.Digest))
	assert.Check(t, is.DeepEqual(imgs[0].RepoTags, []string{"docker.io/library/busybox:1.36", "docker.io/library/busybox:latest"}))
	assert.Check(t, is.Equal(imgs[1].ID, app.ID))
	assert.Check(t, is.DeepEqual(imgs[1].RepoTags, []string{"localhost:5000/app:1"}))
	hasBusybox(t, dst, "busybox", "ctr-bb")
	hasBusybox(t, dst, "localhost:5000/app:1", "ctr-app")

	// Loading again changes nothing; GC finds nothing to remove.
	_, err = dst.Load(ctx, bytes.NewReader(buf.Bytes()), nil)
	assert.NilError(t, err)
	res, err := dst.GC(ctx)
	assert.NilError(t, err)
	assert.Check(t, is.Equal(res.Blobs, 0))
	list, err := dst.List(ctx)
	assert.NilError(t, err)
	assert.Check(t, is.Len(list, 2))
}

func TestSaveLoadUntagged(t *testing.T) {
	ctx := t.Context()
	src := newStore(t)
	bb := importBusybox(t, src, "busybox", nil)
	var buf bytes.Buffer
	assert.NilError(t, src.Save(ctx, &buf, []string{bb.ID.Encoded()[:12]}))
	_, files := untar(t, buf.Bytes())
	assert.Check(t, files["repositories"] == nil)

	dst := newStore(t)
	var lines []string
	imgs, err := dst.Load(ctx, bytes.NewReader(buf.Bytes()), func(s string) { lines = append(lines, s) })
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(lines, []string{"Loaded image ID: " + bb.ID.String()}))
	assert.Assert(t, is.Len(imgs, 1))
	assert.Check(t, is.Equal(imgs[0].ID, bb.ID))
	assert.Check(t, is.Len(imgs[0].RepoTags, 0))
	hasBusybox(t, dst, bb.ID.String(), "ctr")
}
