// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package storage

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"syscall"

	"github.com/berth-project/berth/internal/snapshot"
)

// DiskUsage measures the tree at dir: inodes (hardlinks once) and the
// bytes of what is not a directory (hardlinks once), the size Docker
// gives layers, images and containers (a layer of only directories, or
// nothing, is 0 B), not the blocks allocated.
func DiskUsage(ctx context.Context, dir string) (snapshot.Usage, error) {
	var u snapshot.Usage
	type inode struct{ dev, ino uint64 }
	seen := map[inode]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: no stat", p)
		}
		in := inode{uint64(st.Dev), uint64(st.Ino)}
		if seen[in] {
			return nil
		}
		seen[in] = true
		u.Inodes++
		if !d.IsDir() {
			u.Size += st.Size
		}
		return nil
	})
	if err != nil {
		return snapshot.Usage{}, fmt.Errorf("disk usage of %s: %w", dir, err)
	}
	return u, nil
}
