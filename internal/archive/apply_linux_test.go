// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/berth-project/berth/internal/testutil"
)

// hostEscape is where a broken confinement of absolute names would write
// on the host; the tests check it never appears.
const hostEscape = "/berth-archive-test-escape"

func TestApplyHostile(t *testing.T) {
	tests := []struct {
		name    string
		mode    WhiteoutMode
		entries func(parent string) []ent
		// wantErr is a substring of the error, or "" when the archive is
		// confined instead of refused.
		wantErr string
		// want are paths that must exist below the root afterwards;
		// {parent} stands for the path of the root's parent, without its
		// leading "/".
		want []string
	}{
		{
			name:    "dotdot name",
			entries: func(string) []ent { return []ent{file("../../etc/passwd", "x")} },
			want:    []string{"etc/passwd"},
		},
		{
			name:    "dotdot inside name",
			entries: func(string) []ent { return []ent{file("a/../../../sentinel", "x")} },
			want:    []string{"sentinel"},
		},
		{
			name:    "absolute name",
			entries: func(string) []ent { return []ent{file(hostEscape+"/path", "x")} },
			want:    []string{strings.TrimPrefix(hostEscape, "/") + "/path"},
		},
		{
			name: "symlink to / then a file through it",
			entries: func(parent string) []ent {
				return []ent{symlink("evil", "/"), file("evil"+parent+"/escaped", "x"), file("evil"+hostEscape, "x")}
			},
			want: []string{"evil", "{parent}/escaped", strings.TrimPrefix(hostEscape, "/")},
		},
		{
			name: "absolute symlink to the parent then a file through it",
			entries: func(parent string) []ent {
				return []ent{symlink("evil", parent), file("evil/escaped", "x")}
			},
			want: []string{"{parent}/escaped"},
		},
		{
			name: "relative symlink climbing out then a file through it",
			entries: func(string) []ent {
				return []ent{symlink("up", "../../.."), file("up/escaped", "x"), dir("up/d/"), file("up/d/f", "x")}
			},
			want: []string{"up", "escaped", "d/f"},
		},
		{
			name: "symlink chain",
			entries: func(parent string) []ent {
				return []ent{symlink("a", "b"), symlink("b", "../c"), symlink("c", parent), file("a/escaped", "x")}
			},
			want: []string{"{parent}/escaped"},
		},
		{
			name: "file replaces a symlink to a file outside",
			entries: func(parent string) []ent {
				return []ent{symlink("link", filepath.Join(parent, "sentinel")), file("link", "pwned")}
			},
			want: []string{"link"},
		},
		{
			name: "directory replaces a symlink to outside",
			entries: func(parent string) []ent {
				return []ent{symlink("link", parent), dir("link/"), file("link/f", "x")}
			},
			want: []string{"link/f"},
		},
		{
			name:    "hardlink to an absolute path missing in the root",
			entries: func(string) []ent { return []ent{hardlink("pw", "/etc/passwd")} },
			wantErr: `hardlink to "/etc/passwd"`,
		},
		{
			name: "hardlink to an absolute path inside the root",
			entries: func(string) []ent {
				return []ent{file("etc/passwd", "root:x:0:0"), hardlink("pw", "/etc/passwd")}
			},
			want: []string{"pw"},
		},
		{
			name:    "hardlink climbing out",
			entries: func(string) []ent { return []ent{hardlink("out", "../sentinel")} },
			wantErr: "target outside the archive root",
		},
		{
			name: "hardlink through a symlink to outside",
			entries: func(parent string) []ent {
				return []ent{symlink("evil", parent), hardlink("out", "evil/sentinel")}
			},
			wantErr: `hardlink to "evil/sentinel"`,
		},
		{
			name: "hardlink to a symlink links the symlink",
			entries: func(parent string) []ent {
				return []ent{symlink("evil", filepath.Join(parent, "sentinel")), hardlink("h", "evil"), file("h", "pwned")}
			},
			want: []string{"evil", "h"},
		},
		{
			name: "whiteout through a symlink",
			mode: RemoveWhiteouts,
			entries: func(parent string) []ent {
				return []ent{symlink("evil", parent), file("evil/.wh.sentinel", "")}
			},
			want: []string{"evil"},
		},
		{
			name: "opaque directory through a symlink",
			mode: RemoveWhiteouts,
			entries: func(parent string) []ent {
				return []ent{symlink("evil", parent), file("evil/.wh..wh..opq", "")}
			},
			want: []string{"evil"},
		},
		{
			name: "overlay whiteout through a symlink",
			mode: OverlayWhiteouts,
			entries: func(parent string) []ent {
				return []ent{symlink("evil", parent), file("evil/.wh.sentinel", ""), file("evil/.wh..wh..opq", "")}
			},
			want: []string{"evil", "{parent}/sentinel"},
		},
		{
			name:    "whiteout of dotdot",
			mode:    RemoveWhiteouts,
			entries: func(string) []ent { return []ent{dir("d/"), file("d/.wh...", "")} },
			wantErr: "whiteout",
		},
		{
			name:    "whiteout of dot",
			mode:    RemoveWhiteouts,
			entries: func(string) []ent { return []ent{file(".wh..", "")} },
			wantErr: "whiteout",
		},
		{
			name:    "non-directory root",
			entries: func(string) []ent { return []ent{file("..", "x")} },
			wantErr: "root",
		},
		{
			name: "dotdot directory entry is the root",
			entries: func(string) []ent {
				return []ent{dir("../"), dir("../../x/"), file("../x/f", "x")}
			},
			want: []string{"x/f"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.mode == OverlayWhiteouts {
				testutil.RequiresRoot(t)
			}
			top, parent, root := sentinel(t)
			t.Cleanup(func() { os.RemoveAll(hostEscape) })
			_, err := Apply(t.Context(), root, bytes.NewReader(mkTar(t, tc.entries(parent)...)), ApplyOptions{Whiteouts: tc.mode})
			if tc.wantErr != "" {
				assert.ErrorContains(t, err, tc.wantErr)
			} else {
				assert.NilError(t, err)
			}
			checkSentinel(t, top, parent)
			assert.Check(t, !exists(hostEscape), "archive wrote %s on the host", hostEscape)
			for _, p := range tc.want {
				p = strings.ReplaceAll(p, "{parent}", strings.TrimPrefix(parent, "/"))
				assert.Check(t, exists(filepath.Join(root, p)), "%s missing in the root", p)
			}
		})
	}
}

func TestApplyRefusesWithInvalidArgument(t *testing.T) {
	root := t.TempDir()
	_, err := Apply(t.Context(), root, bytes.NewReader(mkTar(t, hardlink("x", "../../x"))), ApplyOptions{})
	assert.Check(t, errdefs.IsInvalidArgument(err), "%v", err)
}

func TestApplyReplace(t *testing.T) {
	tests := []struct {
		name   string
		before []ent
		layer  []ent
		want   map[string]string // path → "dir", "symlink" or file content
		gone   []string
	}{
		{
			name:   "file replaces directory",
			before: []ent{dir("d/"), file("d/f", "x")},
			layer:  []ent{file("d", "now a file")},
			want:   map[string]string{"d": "now a file"},
			gone:   []string{"d/f"},
		},
		{
			name:   "directory replaces file",
			before: []ent{file("d", "file")},
			layer:  []ent{dir("d/"), file("d/g", "g")},
			want:   map[string]string{"d": "dir", "d/g": "g"},
		},
		{
			name:   "directory over directory keeps its contents",
			before: []ent{dir("d/"), file("d/f", "f")},
			layer:  []ent{dir("d/"), file("d/g", "g")},
			want:   map[string]string{"d": "dir", "d/f": "f", "d/g": "g"},
		},
		{
			name:   "symlink replaces directory",
			before: []ent{dir("d/"), file("d/f", "f")},
			layer:  []ent{symlink("d", "elsewhere")},
			want:   map[string]string{"d": "symlink"},
			gone:   []string{"d/f"},
		},
		{
			name:   "file replaces file with a second hardlink",
			before: []ent{file("a", "old"), hardlink("b", "a")},
			layer:  []ent{file("a", "new")},
			want:   map[string]string{"a": "new", "b": "old"},
		},
		{
			name:  "later entry wins",
			layer: []ent{file("f", "one"), file("f", "two")},
			want:  map[string]string{"f": "two"},
		},
		{
			name:  "parents are made",
			layer: []ent{file("a/b/c/f", "f")},
			want:  map[string]string{"a/b/c": "dir", "a/b/c/f": "f"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			opts := ApplyOptions{Whiteouts: RemoveWhiteouts}
			_, err := Apply(t.Context(), root, bytes.NewReader(mkTar(t, tc.before...)), opts)
			assert.NilError(t, err)
			_, err = Apply(t.Context(), root, bytes.NewReader(mkTar(t, tc.layer...)), opts)
			assert.NilError(t, err)
			for p, want := range tc.want {
				fi, err := os.Lstat(filepath.Join(root, p))
				assert.NilError(t, err)
				switch want {
				case "dir":
					assert.Check(t, fi.IsDir(), p)
				case "symlink":
					assert.Check(t, fi.Mode()&os.ModeSymlink != 0, p)
				default:
					data, err := os.ReadFile(filepath.Join(root, p))
					assert.NilError(t, err)
					assert.Check(t, is.Equal(string(data), want), p)
				}
			}
			for _, p := range tc.gone {
				assert.Check(t, !exists(filepath.Join(root, p)), "%s still exists", p)
			}
		})
	}
}

func TestApplyWhiteouts(t *testing.T) {
	lower := []ent{
		dir("d/"), file("d/old", "old"), dir("d/sub/"), file("d/sub/x", "x"),
		file("f", "f"), dir("gone/"), file("gone/x", "x"), file("keep", "keep"),
	}
	layer := []ent{
		file(".wh.f", ""),
		file(".wh.gone", ""),
		file(".wh.never-existed", ""),
		dir("d/"),
		file("d/new", "new"),
		file("d/.wh..wh..opq", ""), // after d/new: the opaque marker must not delete it
		dir("d/sub2/"), file("d/sub2/y", "y"),
		dir(".wh..wh.plnk/"), file(".wh..wh.plnk/1234.5", "aufs"),
		file("d/.wh..wh.aufs", ""),
		file("newdir/.wh..wh..opq", ""),
	}
	tests := []struct {
		name string
		mode WhiteoutMode
		// want maps paths to "file", "dir", "whiteout" or "opaque dir".
		want map[string]string
		gone []string
	}{
		{
			name: "remove",
			mode: RemoveWhiteouts,
			want: map[string]string{"d": "dir", "d/new": "file", "d/sub2/y": "file", "keep": "file"},
			gone: []string{"newdir", "f", "gone", "never-existed", "d/old", "d/sub", ".wh..wh.plnk", "d/.wh..wh.aufs", "d/.wh..wh..opq", ".wh.f"},
		},
		{
			name: "overlay",
			mode: OverlayWhiteouts,
			want: map[string]string{
				"f": "whiteout", "gone": "whiteout", "never-existed": "whiteout",
				"d": "opaque dir", "d/new": "file", "d/old": "file", "d/sub/x": "file", "keep": "file",
				"newdir": "opaque dir",
			},
			gone: []string{".wh..wh.plnk", "d/.wh..wh.aufs", "d/.wh..wh..opq", ".wh.f"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.mode == OverlayWhiteouts {
				testutil.RequiresRoot(t)
			}
			root := t.TempDir()
			opts := ApplyOptions{Whiteouts: tc.mode}
			_, err := Apply(t.Context(), root, bytes.NewReader(mkTar(t, lower...)), opts)
			assert.NilError(t, err)
			_, err = Apply(t.Context(), root, bytes.NewReader(mkTar(t, layer...)), opts)
			assert.NilError(t, err)
			for p, want := range tc.want {
				full := filepath.Join(root, p)
				fi, err := os.Lstat(full)
				if !assert.Check(t, err) {
					continue
				}
				var got string
				switch {
				case fi.Mode().IsRegular():
					got = "file"
				case isOverlayWhiteout(fi):
					got = "whiteout"
				case fi.IsDir():
					got = "dir"
					if v, _ := getXattr(full, overlayOpaqueXattr); string(v) == "y" {
						got = "opaque dir"
					}
				}
				assert.Check(t, is.Equal(got, want), p)
			}
			for _, p := range tc.gone {
				assert.Check(t, !exists(filepath.Join(root, p)), "%s still exists", p)
			}
		})
	}
}

func TestApplyMetadata(t *testing.T) {
	testutil.RequiresRoot(t)
	caps := "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	entries := []ent{
		{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "d/", Mode: 0o1777}},
		{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "d/suid", Mode: 0o4755, Size: 2,
			PAXRecords: map[string]string{"SCHILY.xattr.security.capability": caps, "SCHILY.xattr.user.note": "hi",
				"SCHILY.xattr.trusted.overlay.opaque": "y", "SCHILY.xattr.trusted.overlay.redirect": "/etc"}}, body: "#!"},
		{hdr: tar.Header{Typeflag: tar.TypeChar, Name: "dev/null", Mode: 0o666, Devmajor: 1, Devminor: 3}},
		{hdr: tar.Header{Typeflag: tar.TypeBlock, Name: "dev/loop9", Mode: 0o660, Devmajor: 7, Devminor: 9}},
		{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "fifo", Mode: 0o600}},
		{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "link", Linkname: "d/suid"}},
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i, e := range entries {
		e.hdr.Uid, e.hdr.Gid = 1000+i, 2000+i
		e.hdr.ModTime = testTime
		assert.NilError(t, tw.WriteHeader(&e.hdr))
		_, err := tw.Write([]byte(e.body))
		assert.NilError(t, err)
	}
	assert.NilError(t, tw.Close())

	root := t.TempDir()
	n, err := Apply(t.Context(), root, &buf, ApplyOptions{})
	assert.NilError(t, err)
	assert.Equal(t, n, int64(2))
	got := describe(t, root)
	m := "mtime=" + strconv.FormatInt(testTime.Unix(), 10)
	want := map[string]string{
		"d":         "dtrwxrwxrwx 1000:2000 " + m,
		"d/suid":    "urwxr-xr-x 1001:2001 " + m + " size=2 sha=" + fmt.Sprintf("%x", sha256.Sum256([]byte("#!"))) + " nlink=1 security.capability=" + strconv.Quote(caps) + ` user.note="hi"`,
		"dev":       got["dev"], // made as a parent: mode 0755, owner and time of the moment
		"dev/null":  "Dcrw-rw-rw- 1002:2002 " + m + " dev=1:3",
		"dev/loop9": "Drw-rw---- 1003:2003 " + m + " dev=7:9",
		"fifo":      "prw------- 1004:2004 " + m,
		"link":      "Lrwxrwxrwx 1005:2005 " + m + " -> d/suid",
	}
	assert.DeepEqual(t, got, want)
}

func TestApplyNoSameOwner(t *testing.T) {
	e := file("f", "x")
	e.hdr.Uid = 4242
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	assert.NilError(t, tw.WriteHeader(&e.hdr))
	_, err := tw.Write([]byte(e.body))
	assert.NilError(t, err)
	assert.NilError(t, tw.Close())
	root := t.TempDir()
	_, err = Apply(t.Context(), root, &buf, ApplyOptions{NoSameOwner: true})
	assert.NilError(t, err)
	var st unix.Stat_t
	assert.NilError(t, unix.Lstat(filepath.Join(root, "f"), &st))
	assert.Equal(t, int(st.Uid), os.Geteuid())
}

func TestApplyCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := Apply(ctx, t.TempDir(), bytes.NewReader(mkTar(t, file("f", "x"))), ApplyOptions{})
	assert.ErrorIs(t, err, context.Canceled)
}
