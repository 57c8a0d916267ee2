// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package daemon

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/containerd/errdefs"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/berth-project/berth/internal/testutil"
)

type tarEnt struct {
	name, body, link string
	typ              byte
}

func mkTar(t *testing.T, ents ...tarEnt) *bytes.Reader {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Mode: 0o644, Typeflag: e.typ, Linkname: e.link, Uid: 12, Gid: 34}
		if e.typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if e.typ == tar.TypeDir {
			h.Mode = 0o755
		}
		assert.NilError(t, tw.WriteHeader(h))
		tw.Write([]byte(e.body))
	}
	assert.NilError(t, tw.Close())
	return bytes.NewReader(buf.Bytes())
}

// TestExtractTarConfined runs extractTar as cp does, on a thread rooted
// in a directory full of hostile symlinks, and checks that nothing
// outside it changes.
func TestExtractTarConfined(t *testing.T) {
	testutil.RequiresRoot(t)
	outside := t.TempDir() // stands for the host
	root := t.TempDir()
	for name, target := range map[string]string{
		"rootlink": "/", "up": "../../../../..", "host": outside, "hostfile": filepath.Join(outside, "f"),
	} {
		assert.NilError(t, os.Symlink(target, filepath.Join(root, name)))
	}
	assert.NilError(t, os.Mkdir(filepath.Join(root, "dir"), 0o755))
	// the host's path exists in the container too: symlinks to it resolve
	assert.NilError(t, os.MkdirAll(filepath.Join(root, outside), 0o755))
	assert.NilError(t, os.Symlink("/", filepath.Join(root, "dir", "rootlink")))

	tests := []struct {
		name string
		dst  string
		ents []tarEnt
		err  string
	}{
		{"through a symlink to /", "/rootlink", []tarEnt{{name: "a", body: "x", typ: tar.TypeReg}}, ""},
		{"through ../..", "/up", []tarEnt{{name: "b", body: "x", typ: tar.TypeReg}}, ""},
		{"through the host's path", "/host", []tarEnt{{name: "c", body: "x", typ: tar.TypeReg}}, ""},
		{"entry parent is a symlink", "/", []tarEnt{{name: "host/d", body: "x", typ: tar.TypeReg}}, ""},
		{"entry replaces a symlink", "/", []tarEnt{{name: "hostfile", body: "x", typ: tar.TypeReg}}, ""},
		{"dotdot entry", "/dir", []tarEnt{{name: "../../../e", body: "x", typ: tar.TypeReg}}, "points outside the destination"},
		{"absolute entry", "/dir", []tarEnt{{name: outside + "/f", body: "x", typ: tar.TypeReg}}, ""},
		{"hardlink out", "/dir", []tarEnt{{name: "h", link: "../../etc/passwd", typ: tar.TypeLink}}, "points outside the destination"},
		{"symlink then through it", "/dir", []tarEnt{{name: "s", link: outside, typ: tar.TypeSymlink}, {name: "s/g", body: "x", typ: tar.TypeReg}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := mkTar(t, tc.ents...)
			err := inRoot(root, func() error {
				return extractTar(context.Background(), r, tc.dst, extractOptions{NoOverwriteDirNonDir: true})
			})
			if tc.err != "" {
				assert.Check(t, is.ErrorContains(err, tc.err))
				assert.Check(t, errdefs.IsInvalidArgument(err))
			} else {
				assert.NilError(t, err)
			}
			ents, err := os.ReadDir(outside)
			assert.NilError(t, err)
			assert.Check(t, is.Len(ents, 0), "wrote outside the root")
		})
	}
	// what was written went inside the root
	for _, p := range []string{"a", "b", outside + "/c", outside + "/d", "dir" + outside + "/f", outside + "/g"} {
		_, err := os.Lstat(filepath.Join(root, p))
		assert.Check(t, err, "%s", p)
	}
	fi, err := os.Lstat(filepath.Join(root, "hostfile"))
	assert.NilError(t, err)
	assert.Check(t, fi.Mode().IsRegular(), "the symlink was followed, not replaced")
	st, _ := os.Stat(filepath.Join(root, "a"))
	assert.Check(t, is.Equal(st.Mode().Perm(), os.FileMode(0o644)))
}

func TestExtractTarNoOverwriteDirNonDir(t *testing.T) {
	testutil.RequiresRoot(t)
	root := t.TempDir()
	assert.NilError(t, os.Mkdir(filepath.Join(root, "d"), 0o755))
	assert.NilError(t, os.WriteFile(filepath.Join(root, "f"), nil, 0o644))
	err := inRoot(root, func() error {
		return extractTar(context.Background(), mkTar(t, tarEnt{name: "d", body: "x", typ: tar.TypeReg}), "/", extractOptions{NoOverwriteDirNonDir: true})
	})
	assert.Check(t, is.ErrorContains(err, `cannot overwrite directory "/d" with non-directory "d"`))
	err = inRoot(root, func() error {
		return extractTar(context.Background(), mkTar(t, tarEnt{name: "f", typ: tar.TypeDir}), "/", extractOptions{NoOverwriteDirNonDir: true})
	})
	assert.Check(t, is.ErrorContains(err, `cannot overwrite non-directory "/f" with directory "f"`))
	// without the option, the entry replaces what is there
	err = inRoot(root, func() error {
		return extractTar(context.Background(), mkTar(t, tarEnt{name: "d", body: "x", typ: tar.TypeReg}), "/", extractOptions{})
	})
	assert.NilError(t, err)
	b, err := os.ReadFile(filepath.Join(root, "d"))
	assert.NilError(t, err)
	assert.Equal(t, string(b), "x")
}
