// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package fsutil

import (
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
