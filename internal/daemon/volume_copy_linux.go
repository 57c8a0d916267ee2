// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package daemon

import (
	"context"
	"errors"
	"io"
	"os"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/berth-project/berth/internal/archive"
)

// populateVolume copies what the image has at dest (inside the mounted
// rootfs) into the volume directory vol when vol is empty, with the
// owner and mode of the image's directory, as Docker pre-populates a new
// volume. The image's tree is read through an os.Root (archive.Tar) and
// written on a thread whose root is vol, so neither side can be led
// elsewhere by a symlink.
func populateVolume(rootfs, dest, vol string) error {
	ents, err := os.ReadDir(vol)
	if err != nil || len(ents) > 0 {
		return err
	}
	src, err := securejoin.SecureJoin(rootfs, dest)
	if err != nil {
		return err
	}
	fi, err := os.Lstat(src)
	if errors.Is(err, os.ErrNotExist) || err == nil && !fi.IsDir() {
		return nil
	}
	if err != nil {
		return err
	}
	ctx := context.Background()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(archive.Tar(ctx, pw, src, archive.TarOptions{})) }()
	err = inRoot(vol, func() error { return extractTar(ctx, pr, "/", extractOptions{}) })
	pr.CloseWithError(errors.New("volume copy stopped"))
	if err != nil {
		return err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if err := os.Lchown(vol, int(st.Uid), int(st.Gid)); err != nil {
			return err
		}
		return syscall.Chmod(vol, st.Mode&0o7777)
	}
	return nil
}
