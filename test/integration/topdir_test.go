// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package integration

import (
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
	"gotest.tools/v3/assert"
)

// TestPerContainerDirsSpread checks that the daemon marks the directories
// that hold one directory per container or layer as tops of hierarchies
// (chattr +T), so that ext4 spreads them over its block groups
// (fsutil.MarkTopDir). The test's roots are on the host's ext4.
func TestPerContainerDirsSpread(t *testing.T) {
	d, _ := startDaemon(t)
	for _, dir := range []string{
		filepath.Join(d.DataRoot, "containers"),
		filepath.Join(d.DataRoot, "image", "snapshots", "overlay", "snapshots"),
		filepath.Join(d.ExecRoot, "containers"),
		filepath.Join(d.ExecRoot, "runtime"),
	} {
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		assert.NilError(t, err)
		flags, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
		unix.Close(fd)
		assert.NilError(t, err, "%s keeps no inode flags", dir)
		assert.Check(t, flags&0x00020000 != 0, "%s is not marked +T (flags %#x)", dir, flags)
	}
}
