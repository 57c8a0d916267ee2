// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package content

import (
	"errors"
	"fmt"
	"os"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// tryLock takes an exclusive flock(2) on f without waiting, or returns an
// errdefs.ErrUnavailable error when another open file description holds
// it: another process, or another Writer in this one. The lock goes when
// f is closed, and when the process dies, so a killed writer never leaves
// a ref locked. https://man7.org/linux/man-pages/man2/flock.2.html
func tryLock(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EWOULDBLOCK):
			return errdefs.ErrUnavailable
		default:
			return fmt.Errorf("flock %s: %w", f.Name(), err)
		}
	}
}

// renameNoReplace renames oldpath to newpath unless newpath exists, in
// which case it returns an error matching fs.ErrExist. renameat2(2) with
// RENAME_NOREPLACE makes the check and the rename one atomic step, so of
// two writers committing the same digest exactly one wins. File systems
// without the flag (EINVAL, e.g. NFS) get a check-then-rename: both racers
// may then succeed, which is harmless since their content is identical.
// https://man7.org/linux/man-pages/man2/rename.2.html
func renameNoReplace(oldpath, newpath string) error {
	err := unix.Renameat2(unix.AT_FDCWD, oldpath, unix.AT_FDCWD, newpath, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		if _, serr := os.Lstat(newpath); serr == nil {
			return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: unix.EEXIST}
		}
		return os.Rename(oldpath, newpath)
	}
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	return nil
}
