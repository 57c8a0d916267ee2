// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package volume

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/containerd/errdefs"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/berth-project/berth/internal/testutil"
)

func noUsers(string) []string { return nil }

func TestCreateGetListRemove(t *testing.T) {
	s, err := Open(t.TempDir())
	assert.NilError(t, err)
	r, created, err := s.Create("data", map[string]string{"a": "b"}, nil)
	assert.NilError(t, err)
	assert.Check(t, created)
	assert.Equal(t, r.Name, "data")
	// creating again returns the existing volume, unchanged
	r2, created, err := s.Create("data", map[string]string{"other": "x"}, nil)
	assert.NilError(t, err)
	assert.Check(t, !created)
	assert.DeepEqual(t, r2.Labels, map[string]string{"a": "b"})
	anon, _, err := s.Create("", map[string]string{AnonymousLabel: ""}, nil)
	assert.NilError(t, err)
	assert.Equal(t, len(anon.Name), 64)
	assert.Check(t, anon.Anonymous())
	assert.Check(t, is.Len(s.List(), 2))
	assert.NilError(t, os.WriteFile(filepath.Join(s.Path("data"), "f"), []byte("12345"), 0o644))
	assert.Equal(t, s.Size("data"), int64(5))

	err = s.Remove("data", func(string) []string { return []string{"c1"} })
	assert.Check(t, errdefs.IsConflict(err))
	assert.Error(t, err, "remove data: volume is in use - [c1]")
	assert.NilError(t, s.Remove("data", noUsers))
	_, err = os.Stat(filepath.Join(s.Root(), "data"))
	assert.Check(t, os.IsNotExist(err))
	_, err = s.Get("data")
	assert.Check(t, errdefs.IsNotFound(err))
	assert.Error(t, err, "get data: no such volume")
}

func TestCreateRefusesBadInput(t *testing.T) {
	s, err := Open(t.TempDir())
	assert.NilError(t, err)
	for _, tc := range []struct {
		name string
		opts map[string]string
		want string
	}{
		{"a/b", nil, `create a/b: "a/b" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`},
		{"x", nil, `create x: "x" includes invalid characters`},
		{"-x", nil, `create -x: "-x" includes invalid characters`},
		{"ok", map[string]string{"bogus": "1"}, `create ok: invalid option: "bogus"`},
		{"ok", map[string]string{"type": "tmpfs"}, `missing required option: "device"`},
		{"ok", map[string]string{"device": "tmpfs"}, `missing required option: "type"`},
		{"ok", map[string]string{"o": "size=1m", "type": "tmpfs"}, `missing required option: "device"`},
	} {
		_, _, err := s.Create(tc.name, nil, tc.opts)
		assert.Check(t, errdefs.IsInvalidArgument(err), "%s %v: %v", tc.name, tc.opts, err)
		assert.Check(t, is.ErrorContains(err, tc.want))
	}
	assert.Check(t, is.Len(s.List(), 0))
	ents, err := os.ReadDir(s.Root())
	assert.NilError(t, err)
	assert.Check(t, is.Len(ents, 0), "a refused volume left files")
}

// TestDeviceVolumeRefcount: a tmpfs-backed volume is mounted for its
// first user, stays for the second, goes with the last; users persist
// across a reopen.
func TestDeviceVolumeRefcount(t *testing.T) {
	testutil.RequiresRoot(t)
	root := t.TempDir()
	s, err := Open(root)
	assert.NilError(t, err)
	_, _, err = s.Create("tv", nil, map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=1m,mode=0750"})
	assert.NilError(t, err)
	t.Cleanup(func() { unmountDevice(s.Path("tv")) })
	p, err := s.Mount("tv", "c1")
	assert.NilError(t, err)
	assert.Check(t, mounted(p))
	fi, err := os.Stat(p)
	assert.NilError(t, err)
	assert.Equal(t, fi.Mode().Perm(), os.FileMode(0o750))
	_, err = s.Mount("tv", "c2")
	assert.NilError(t, err)
	assert.Check(t, errdefs.IsConflict(s.Remove("tv", noUsers)), "a mounted volume was removed")

	s2, err := Open(root) // a daemon restart
	assert.NilError(t, err)
	r, err := s2.Get("tv")
	assert.NilError(t, err)
	assert.DeepEqual(t, r.Users, []string{"c1", "c2"})
	assert.NilError(t, s2.Unmount("tv", "c1"))
	assert.Check(t, mounted(p))
	assert.NilError(t, s2.Unmount("tv", "c2"))
	assert.Check(t, !mounted(p))
	assert.NilError(t, s2.Unmount("tv", "c2")) // twice: a no-op
	assert.NilError(t, s2.Remove("tv", noUsers))
}

func TestBindVolume(t *testing.T) {
	testutil.RequiresRoot(t)
	s, err := Open(t.TempDir())
	assert.NilError(t, err)
	dir := t.TempDir()
	assert.NilError(t, os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644))
	_, _, err = s.Create("bv", nil, map[string]string{"type": "none", "device": dir, "o": "bind,ro"})
	assert.NilError(t, err)
	p, err := s.Mount("bv", "c1")
	assert.NilError(t, err)
	t.Cleanup(func() { unmountDevice(p) })
	b, err := os.ReadFile(filepath.Join(p, "f"))
	assert.NilError(t, err)
	assert.Equal(t, string(b), "x")
	err = os.WriteFile(filepath.Join(p, "g"), nil, 0o644)
	assert.Check(t, is.ErrorContains(err, "read-only file system"))
	assert.NilError(t, s.Unmount("bv", "c1"))
	assert.NilError(t, s.Remove("bv", noUsers))
	_, err = os.Stat(filepath.Join(dir, "f"))
	assert.NilError(t, err, "removing a bind-backed volume removed its device's files")
}
