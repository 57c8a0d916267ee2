// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package fsutil

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
	"gotest.tools/v3/assert"
)

func flagsOf(t *testing.T, dir string) (uint32, error) {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	assert.NilError(t, err)
	defer unix.Close(fd)
	return unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
}

// TestMarkTopDir marks a directory where the file system keeps inode
// flags (the test's temporary directory, ext4 on the hosts berth is
// tested on), twice, and one on a tmpfs, which has no such flag.
func TestMarkTopDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "containers")
	assert.NilError(t, os.Mkdir(dir, 0o711))
	before, err := flagsOf(t, dir)
	if err != nil {
		t.Skipf("%s keeps no inode flags (%v); on ext4 it would", dir, err)
	}
	assert.Assert(t, before&fsTopdirFL == 0)
	assert.NilError(t, MarkTopDir(dir))
	after, err := flagsOf(t, dir)
	assert.NilError(t, err)
	assert.Equal(t, after, before|fsTopdirFL, "the mark is added and nothing else changes")
	assert.NilError(t, MarkTopDir(dir))

	assert.ErrorIs(t, MarkTopDir(filepath.Join(dir, "nonexistent")), unix.ENOENT)
	if _, err := os.Stat("/dev/shm"); err == nil {
		shm, err := os.MkdirTemp("/dev/shm", "berth-topdir-")
		assert.NilError(t, err)
		defer os.RemoveAll(shm)
		assert.NilError(t, MarkTopDir(shm), "a tmpfs without the flag is no error")
	}
}

// TestTempDirs: a name always gets the same directory under the root,
// names spread over several, and a new TempDirs removes what an earlier
// one (cut short by a crash) left.
func TestTempDirs(t *testing.T) {
	root := filepath.Join(t.TempDir(), ".tmp")
	td, err := NewTempDirs(root)
	assert.NilError(t, err)
	seen := map[string]bool{}
	for i := range 64 {
		name := fmt.Sprintf("%064x", i)
		dir, err := td.For(name)
		assert.NilError(t, err)
		again, err := td.For(name)
		assert.NilError(t, err)
		assert.Equal(t, dir, again)
		assert.Equal(t, filepath.Dir(dir), root)
		fi, err := os.Stat(dir)
		assert.NilError(t, err)
		assert.Assert(t, fi.IsDir())
		seen[dir] = true
	}
	assert.Assert(t, len(seen) > 32, "64 names went to only %d directories", len(seen))
	if flags, err := flagsOf(t, root); err == nil {
		assert.Assert(t, flags&fsTopdirFL != 0, "the root is not marked")
	}

	dir, err := td.For("x")
	assert.NilError(t, err)
	assert.NilError(t, os.WriteFile(filepath.Join(dir, "left"), nil, 0o600))
	_, err = NewTempDirs(root)
	assert.NilError(t, err)
	entries, err := os.ReadDir(root)
	assert.NilError(t, err)
	assert.Equal(t, len(entries), 0, "a crash's leftovers stay")
}
