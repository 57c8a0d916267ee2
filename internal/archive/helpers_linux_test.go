// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package archive

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"gotest.tools/v3/assert"
)

// testTime is the modification time of every entry the tests make.
var testTime = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// ent is one entry of a test archive.
type ent struct {
	hdr  tar.Header
	body string
}

func file(name, body string) ent {
	return ent{tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body))}, body}
}

func dir(name string) ent {
	return ent{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755}}
}

func symlink(name, target string) ent {
	return ent{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}}
}

func hardlink(name, target string) ent {
	return ent{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target}}
}

// mkTar makes an uncompressed tar of entries, owned by the current user
// (so NoSameOwner is not needed) and dated testTime.
func mkTar(t testing.TB, entries ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := e.hdr
		hdr.Uid, hdr.Gid = os.Getuid(), os.Getgid()
		if hdr.ModTime.IsZero() {
			hdr.ModTime = testTime
		}
		assert.NilError(t, tw.WriteHeader(&hdr))
		_, err := tw.Write([]byte(e.body))
		assert.NilError(t, err)
	}
	assert.NilError(t, tw.Close())
	return buf.Bytes()
}

// describe lists the tree below root, one line per path, with everything
// Apply must preserve: type, mode, owner, size and content digest, link
// target, device numbers, link count, xattrs and mtime (to the second).
func describe(t testing.TB, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		var b strings.Builder
		fmt.Fprintf(&b, "%v %d:%d mtime=%d", fi.Mode(), st.Uid, st.Gid, fi.ModTime().Unix())
		switch {
		case fi.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " size=%d sha=%x nlink=%d", len(data), sha256.Sum256(data), st.Nlink)
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " -> %s", target)
		case fi.Mode()&fs.ModeDevice != 0:
			fmt.Fprintf(&b, " dev=%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
		}
		names, err := listXattrs(p)
		if err != nil {
			return err
		}
		sort.Strings(names)
		for _, n := range names {
			if n == "security.selinux" {
				continue
			}
			v, err := getXattr(p, n)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " %s=%q", n, v)
		}
		rel, _ := filepath.Rel(root, p)
		out[rel] = b.String()
		return nil
	})
	assert.NilError(t, err)
	return out
}

// setTreeTimes sets the times of everything below root (root included) to
// testTime, children first so that no later change moves them.
func setTreeTimes(t testing.TB, root string) {
	t.Helper()
	var paths []string
	assert.NilError(t, filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		paths = append(paths, p)
		return err
	}))
	ts := []unix.Timespec{unix.NsecToTimespec(testTime.UnixNano()), unix.NsecToTimespec(testTime.UnixNano())}
	for i := len(paths) - 1; i >= 0; i-- {
		assert.NilError(t, unix.UtimesNanoAt(unix.AT_FDCWD, paths[i], ts, unix.AT_SYMLINK_NOFOLLOW))
	}
}

// sentinel makes the directory layout the hostile-archive tests use:
// top/a/b/root is the target, top/a/b/sentinel a file that must survive,
// and top itself must hold nothing else when the test ends.
func sentinel(t *testing.T) (top, parent, root string) {
	t.Helper()
	top = t.TempDir()
	parent = filepath.Join(top, "a", "b")
	root = filepath.Join(parent, "root")
	assert.NilError(t, os.MkdirAll(root, 0o755))
	assert.NilError(t, os.WriteFile(filepath.Join(parent, "sentinel"), []byte("sentinel"), 0o644))
	return top, parent, root
}

// checkSentinel fails the test if anything outside root changed.
func checkSentinel(t *testing.T, top, parent string) {
	t.Helper()
	var found []string
	assert.NilError(t, filepath.WalkDir(top, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == filepath.Join(parent, "root") {
			return fs.SkipDir
		}
		rel, _ := filepath.Rel(top, p)
		found = append(found, rel)
		return nil
	}))
	assert.DeepEqual(t, found, []string{".", "a", "a/b", "a/b/sentinel"})
	data, err := os.ReadFile(filepath.Join(parent, "sentinel"))
	assert.NilError(t, err)
	assert.Equal(t, string(data), "sentinel")
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
