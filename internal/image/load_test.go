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
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/berth-project/berth/internal/image"
)

// entry is one entry of a tar made by makeTar: a file, or a symlink when
// link is set.
type entry struct {
	name, body, link string
}

func makeTar(t *testing.T, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: e.name, Mode: 0o644, Size: int64(len(e.body))}
		if e.link != "" {
			hdr = &tar.Header{Typeflag: tar.TypeSymlink, Name: e.name, Linkname: e.link, Mode: 0o777}
		}
		assert.NilError(t, tw.WriteHeader(hdr))
		_, err := tw.Write([]byte(e.body))
		assert.NilError(t, err)
	}
	assert.NilError(t, tw.Close())
	return buf.Bytes()
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	assert.NilError(t, err)
	return string(b)
}

// legacyConfig is the config of a legacy image with the given layers.
func legacyConfig(t *testing.T, layers ...string) string {
	t.Helper()
	var diffIDs []string
	for _, l := range layers {
		diffIDs = append(diffIDs, digest.FromString(l).String())
	}
	return mustJSON(t, map[string]any{
		"architecture": "amd64", "os": "linux",
		"config": map[string]any{"Cmd": []string{"sh"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
}

// legacyArchive is an archive as Docker 20.10's `docker save busybox
// app:1` writes it: busybox, and app on busybox's layer (a symlink to it)
// plus one of its own.
func legacyArchive(t *testing.T) ([]byte, digest.Digest, digest.Digest) {
	base := string(busyboxTar(t, nil))
	top := string(makeTar(t, []entry{{name: "hello", body: "hi\n"}}))
	cfg1, cfg2 := legacyConfig(t, base), legacyConfig(t, base, top)
	id1, id2 := digest.FromString(cfg1), digest.FromString(cfg2)
	l1, l2, l3 := digest.FromString("l1").Encoded(), digest.FromString("l2").Encoded(), digest.FromString("l3").Encoded()
	manifest := mustJSON(t, []map[string]any{
		{"Config": id1.Encoded() + ".json", "RepoTags": []string{"busybox:latest"}, "Layers": []string{l1 + "/layer.tar"}},
		{"Config": id2.Encoded() + ".json", "RepoTags": []string{"app:1"}, "Layers": []string{l2 + "/layer.tar", l3 + "/layer.tar"}},
	})
	return makeTar(t, []entry{
		{name: l1 + "/VERSION", body: "1.0"},
		{name: l1 + "/json", body: "{}"},
		{name: l1 + "/layer.tar", body: base},
		{name: l2 + "/VERSION", body: "1.0"},
		{name: l2 + "/json", body: "{}"},
		{name: l2 + "/layer.tar", link: "../" + l1 + "/layer.tar"},
		{name: l3 + "/VERSION", body: "1.0"},
		{name: l3 + "/json", body: "{}"},
		{name: l3 + "/layer.tar", body: top},
		{name: id1.Encoded() + ".json", body: cfg1},
		{name: id2.Encoded() + ".json", body: cfg2},
		{name: "manifest.json", body: manifest},
		{name: "repositories", body: mustJSON(t, map[string]any{"busybox": map[string]string{"latest": l1}})},
	}), id1, id2
}

func TestLoadLegacy(t *testing.T) {
	ctx := t.Context()
	s := newStore(t)
	arch, id1, id2 := legacyArchive(t)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err := zw.Write(arch)
	assert.NilError(t, err)
	assert.NilError(t, zw.Close())

	var lines []string
	imgs, err := s.Load(ctx, &gz, func(l string) { lines = append(lines, l) })
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(lines, []string{"Loaded image: busybox:latest", "Loaded image: app:1"}))
	assert.Assert(t, is.Len(imgs, 2))
	assert.Check(t, is.Equal(imgs[0].ID, id1))
	assert.Check(t, is.DeepEqual(imgs[0].RepoTags, []string{"docker.io/library/busybox:latest"}))
	assert.Check(t, is.Equal(imgs[1].ID, id2))
	assert.Check(t, is.Equal(imgs[1].Target.MediaType, "application/vnd.docker.distribution.manifest.v2+json"))
	assert.Assert(t, is.Len(imgs[1].Layers, 2))
	assert.Check(t, is.Equal(imgs[1].Layers[0].Digest, imgs[0].Layers[0].Digest))
	assert.Check(t, is.Equal(imgs[1].Layers[0].MediaType, "application/vnd.docker.image.rootfs.diff.tar"))
	hasBusybox(t, s, "busybox", "ctr-bb")
	hasBusybox(t, s, "app:1", "ctr-app")

	// The VERSION and json files of the layer directories are not kept.
	res, err := s.GC(ctx)
	assert.NilError(t, err)
	assert.Check(t, is.Equal(res.Blobs, 0))

	// And it saves in the new format and loads back the same.
	var buf bytes.Buffer
	assert.NilError(t, s.Save(ctx, &buf, []string{"app:1"}))
	dst := newStore(t)
	imgs, err = dst.Load(ctx, &buf, nil)
	assert.NilError(t, err)
	assert.Assert(t, is.Len(imgs, 1))
	assert.Check(t, is.Equal(imgs[0].ID, id2))
}

func TestLoadOCILayout(t *testing.T) {
	ctx := t.Context()
	src := newStore(t)
	bb := importBusybox(t, src, "busybox", nil)
	var buf bytes.Buffer
	assert.NilError(t, src.Save(ctx, &buf, []string{"busybox"}))
	// A plain OCI layout: no manifest.json or repositories, a bare tag.
	names, files := untar(t, buf.Bytes())
	var entries []entry
	for _, n := range names {
		switch n {
		case "blobs/", "blobs/sha256/", "manifest.json", "repositories":
		case "index.json":
			entries = append(entries, entry{name: n, body: mustJSON(t, map[string]any{
				"schemaVersion": 2,
				"manifests": []map[string]any{{
					"mediaType":   bb.Target.MediaType,
					"digest":      bb.Target.Digest,
					"size":        bb.Target.Size,
					"annotations": map[string]string{"org.opencontainers.image.ref.name": "latest"},
				}},
			})})
		default:
			entries = append(entries, entry{name: n, body: string(files[n])})
		}
	}
	dst := newStore(t)
	imgs, err := dst.Load(ctx, bytes.NewReader(makeTar(t, entries)), nil)
	assert.NilError(t, err)
	assert.Assert(t, is.Len(imgs, 1))
	assert.Check(t, is.Equal(imgs[0].ID, bb.ID))
	assert.Check(t, is.Len(imgs[0].RepoTags, 0))
	hasBusybox(t, dst, bb.ID.String(), "ctr")
}

func TestLoadHostile(t *testing.T) {
	layer := string(makeTar(t, []entry{{name: "hello", body: "hi\n"}}))
	cfg := legacyConfig(t, layer)
	cfgID := digest.FromString(cfg).Encoded()
	withManifest := func(layers ...string) []entry {
		return []entry{
			{name: "l1/layer.tar", body: layer},
			{name: cfgID + ".json", body: cfg},
			{name: "manifest.json", body: mustJSON(t, []map[string]any{{"Config": cfgID + ".json", "RepoTags": []string{"evil:1"}, "Layers": layers}})},
		}
	}
	for _, tc := range []struct {
		name    string
		entries []entry
		want    string
		check   func(error) bool
	}{
		{
			name:    "dotdot",
			entries: append(withManifest("l1/layer.tar"), entry{name: "../../evil", body: "x"}),
			want:    `archive entry "../../evil" climbs out of the archive`,
		},
		{
			name:    "absolute",
			entries: append([]entry{{name: "/etc/x", body: "x"}}, withManifest("l1/layer.tar")...),
			want:    `archive entry "/etc/x" has an absolute name`,
		},
		{
			name:    "layer outside",
			entries: withManifest("../outside"),
			want:    `archive entry "../outside" climbs out of the archive`,
		},
		{
			name:    "missing layer",
			entries: withManifest("l1/layer.tar", "l2/layer.tar"),
			want:    `"l2/layer.tar" is not in the archive`,
		},
		{
			name:    "symlink outside",
			entries: append(withManifest("l1/layer.tar", "l2/layer.tar"), entry{name: "l2/layer.tar", link: "../../etc/passwd"}),
			want:    `archive entry "l2/layer.tar" links outside the archive`,
		},
		{
			name: "blob digest",
			entries: append(withManifest("l1/layer.tar"),
				entry{name: "blobs/sha256/" + digest.FromString("good").Encoded(), body: "bad"}),
			want:  "digest",
			check: errdefs.IsFailedPrecondition,
		},
		{
			name:    "diff_id",
			entries: append(withManifest("l1/layer.tar")[:1], entry{name: cfgID + ".json", body: legacyConfig(t, "other")}, withManifest("l1/layer.tar")[2]),
			want:    "diff_id",
			check:   errdefs.IsFailedPrecondition,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			s := newStore(t)
			sentinel := t.TempDir()
			work := filepath.Join(sentinel, "a", "b")
			assert.NilError(t, os.MkdirAll(work, 0o755))
			t.Chdir(work)

			_, err := s.Load(ctx, bytes.NewReader(makeTar(t, tc.entries)), nil)
			assert.Check(t, is.ErrorContains(err, tc.want))
			check := tc.check
			if check == nil {
				check = errdefs.IsInvalidArgument
			}
			assert.Check(t, check(err), "%v", err)

			list, lerr := s.List(ctx)
			assert.NilError(t, lerr)
			assert.Check(t, is.Len(list, 0))
			assert.Check(t, is.Len(blobs(t, s), 0))
			res, gerr := s.GC(ctx)
			assert.NilError(t, gerr)
			assert.Check(t, is.DeepEqual(res, image.GCResult{}))
			assert.Check(t, is.Len(snapshots(t, s), 0))
			for _, dir := range []string{sentinel, filepath.Join(sentinel, "a"), work} {
				des, derr := os.ReadDir(dir)
				assert.NilError(t, derr)
				if dir != work {
					assert.Check(t, is.Len(des, 1), dir)
				} else {
					assert.Check(t, is.Len(des, 0), dir)
				}
			}
			_, serr := os.Lstat("/etc/x")
			assert.Check(t, os.IsNotExist(serr))
		})
	}
}

func TestLoadTruncated(t *testing.T) {
	ctx := t.Context()
	src := newStore(t)
	importBusybox(t, src, "busybox", nil)
	var buf bytes.Buffer
	assert.NilError(t, src.Save(ctx, &buf, []string{"busybox"}))

	s := newStore(t)
	_, err := s.Load(ctx, bytes.NewReader(buf.Bytes()[:buf.Len()/2]), nil)
	assert.Check(t, err != nil)
	ingests, err := s.Content().ListIngests(ctx)
	assert.NilError(t, err)
	assert.Check(t, is.Len(ingests, 0))
	assert.Check(t, is.Len(blobs(t, s), 0))

	// The same entry twice is refused.
	_, err = s.Load(ctx, bytes.NewReader(makeTar(t, []entry{{name: "a", body: "1"}, {name: "./a", link: "b"}})), nil)
	assert.Check(t, is.ErrorContains(err, `archive entry "./a" appears twice`))
}
