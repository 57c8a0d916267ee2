// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package archive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// makeTree fills dir with one of everything Tar and Apply must carry.
// Devices, owners and security.capability need root and are left out
// otherwise.
func makeTree(t *testing.T, dir string) {
	t.Helper()
	root := os.Geteuid() == 0
	must := func(err error) { t.Helper(); assert.NilError(t, err) }
	must(os.MkdirAll(filepath.Join(dir, "etc/deep/er"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "etc/deep/er/empty"), nil, 0o600))
	must(os.WriteFile(filepath.Join(dir, "suid"), []byte("#!/bin/sh\n"), 0o755))
	must(unix.Chmod(filepath.Join(dir, "suid"), 0o4755))
	must(os.Mkdir(filepath.Join(dir, "tmp"), 0o755))
	must(unix.Chmod(filepath.Join(dir, "tmp"), 0o1777))
	must(os.WriteFile(filepath.Join(dir, "big"), bytes.Repeat([]byte("0123456789abcdef"), 1<<16), 0o644))
	must(os.Link(filepath.Join(dir, "big"), filepath.Join(dir, "etc/big-link")))
	must(os.Symlink("/etc/passwd", filepath.Join(dir, "abs-link")))
	must(os.Symlink("../nowhere", filepath.Join(dir, "etc/dangling")))
	must(unix.Mkfifo(filepath.Join(dir, "fifo"), 0o640))
	long := filepath.Join(dir, strings.Repeat("long-directory-name/", 8))
	must(os.MkdirAll(long, 0o755))
	must(os.WriteFile(filepath.Join(long, strings.Repeat("f", 120)), []byte("long"), 0o644))
	must(unix.Lsetxattr(filepath.Join(dir, "etc/passwd"), "user.berth", []byte("test"), 0))
	if root {
		must(unix.Mknod(filepath.Join(dir, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
		must(os.Lchown(filepath.Join(dir, "etc/deep"), 1000, 1000))
		must(os.Lchown(filepath.Join(dir, "abs-link"), 2000, 3000))
		must(os.Lchown(filepath.Join(dir, "suid"), 70000, 70000))
		must(unix.Chmod(filepath.Join(dir, "suid"), 0o4755))
		caps := "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
		must(unix.Lsetxattr(filepath.Join(dir, "suid"), "security.capability", []byte(caps), 0))
		// Not written by Tar: host-only xattrs.
		must(unix.Lsetxattr(filepath.Join(dir, "etc"), "trusted.berth", []byte("host"), 0))
	}
	setTreeTimes(t, dir)
}

func tarBytes(t *testing.T, dir string, opts TarOptions) []byte {
	t.Helper()
	var buf bytes.Buffer
	assert.NilError(t, Tar(t.Context(), &buf, dir, opts))
	return buf.Bytes()
}

func TestTarRoundTrip(t *testing.T) {
	src := t.TempDir()
	makeTree(t, src)
	first := tarBytes(t, src, TarOptions{})
	assert.Check(t, bytes.Equal(tarBytes(t, src, TarOptions{}), first), "Tar is not deterministic")

	dst := t.TempDir()
	n, err := Apply(t.Context(), dst, bytes.NewReader(first), ApplyOptions{NoSameOwner: os.Geteuid() != 0})
	assert.NilError(t, err)
	assert.Equal(t, n, int64(len("root:x:0:0::/root:/bin/sh\n")+len("#!/bin/sh\n")+16<<16+len("long")))

	want := describe(t, src)
	if os.Geteuid() == 0 {
		// trusted.* stays on the host.
		want["etc"] = strings.Replace(want["etc"], ` trusted.berth="host"`, "", 1)
	}
	assert.DeepEqual(t, describe(t, dst), want)
	assert.Check(t, bytes.Equal(tarBytes(t, dst, TarOptions{}), first), "tar → Apply → Tar differs")

	// What a reader sees: parents first, sorted, the hardlink as a link,
	// no names or atimes.
	var names []string
	tr := tar.NewReader(bytes.NewReader(first))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		assert.NilError(t, err)
		names = append(names, hdr.Name)
		assert.Check(t, hdr.Uname == "" && hdr.Gname == "" && hdr.AccessTime.IsZero() && hdr.ChangeTime.IsZero(), hdr.Name)
		if hdr.Name == "big" {
			assert.Check(t, is.Equal(hdr.Typeflag, byte(tar.TypeReg)), "the first name of a hardlinked file carries the data")
		}
		if hdr.Name == "etc/big-link" {
			assert.Check(t, is.Equal(hdr.Typeflag, byte(tar.TypeLink)))
			assert.Check(t, is.Equal(hdr.Linkname, "big"))
		}
	}
	assert.Check(t, is.Equal(names[0], "abs-link"))
	assert.Check(t, is.Contains(names, "etc/"))
	assert.Check(t, is.Contains(names, "tmp/"))
}

func TestTarPrefix(t *testing.T) {
	src := t.TempDir()
	assert.NilError(t, os.MkdirAll(filepath.Join(src, "etc/sub"), 0o755))
	assert.NilError(t, os.WriteFile(filepath.Join(src, "etc/sub/f"), []byte("f"), 0o644))
	assert.NilError(t, os.Symlink("etc", filepath.Join(src, "link")))

	tests := []struct {
		name   string
		path   string
		prefix string
		want   []string
	}{
		{name: "directory without prefix", path: "etc", want: []string{"sub/", "sub/f"}},
		{name: "directory with prefix", path: "etc", prefix: "etc", want: []string{"etc/", "etc/sub/", "etc/sub/f"}},
		{name: "file with prefix", path: "etc/sub/f", prefix: "f", want: []string{"f"}},
		{name: "symlinked root is followed", path: "link", prefix: "/x/../link/", want: []string{"link/", "link/sub/", "link/sub/f"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var names []string
			tr := tar.NewReader(bytes.NewReader(tarBytes(t, filepath.Join(src, tc.path), TarOptions{Prefix: tc.prefix})))
			for {
				hdr, err := tr.Next()
				if err == io.EOF {
					break
				}
				assert.NilError(t, err)
				names = append(names, hdr.Name)
			}
			assert.DeepEqual(t, names, tc.want)
		})
	}
	err := Tar(t.Context(), io.Discard, filepath.Join(src, "etc/sub/f"), TarOptions{})
	assert.ErrorContains(t, err, "not a directory")
}

func TestDecompress(t *testing.T) {
	plain := mkTar(t, dir("d/"), file("d/f", strings.Repeat("content ", 1000)))
	var gz bytes.Buffer
	gw := gzip.NewWriter(&gz)
	_, err := gw.Write(plain)
	assert.NilError(t, err)
	assert.NilError(t, gw.Close())
	zw, err := zstd.NewWriter(nil)
	assert.NilError(t, err)
	zst := zw.EncodeAll(plain, nil)

	tests := []struct {
		name string
		in   []byte
		want []byte
	}{
		{name: "plain", in: plain, want: plain},
		{name: "gzip", in: gz.Bytes(), want: plain},
		{name: "zstd", in: zst, want: plain},
		{name: "empty", in: nil, want: nil},
		{name: "short", in: []byte{0x1f}, want: []byte{0x1f}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := Decompress(bytes.NewReader(tc.in))
			assert.NilError(t, err)
			defer rc.Close()
			got, err := io.ReadAll(rc)
			assert.NilError(t, err)
			assert.Check(t, bytes.Equal(got, tc.want))
		})
	}

	// And into Apply.
	rc, err := Decompress(bytes.NewReader(zst))
	assert.NilError(t, err)
	defer rc.Close()
	root := t.TempDir()
	_, err = Apply(t.Context(), root, rc, ApplyOptions{Whiteouts: RemoveWhiteouts})
	assert.NilError(t, err)
	assert.Check(t, exists(filepath.Join(root, "d/f")))
}

func TestDecompressCorrupt(t *testing.T) {
	_, err := Decompress(bytes.NewReader([]byte{0x1f, 0x8b, 0x08, 0, 0}))
	assert.ErrorContains(t, err, "gzip")
}
