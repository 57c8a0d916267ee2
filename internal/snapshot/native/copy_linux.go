// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package native

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// copyTree copies the tree at src into dst, an existing empty directory:
// every file type, owner, mode (setuid and sticky bits included), xattrs
// (those dst's file system accepts) and times to the nanosecond, with
// hardlinks kept as hardlinks. Regular files go through os.File.ReadFrom,
// which uses copy_file_range(2), so the file system can share extents.
func copyTree(ctx context.Context, dst, src string) error {
	type inode struct{ dev, ino uint64 }
	links := map[inode]string{}
	var dirs []string // to set times on once their contents are written
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		st := fi.Sys().(*syscall.Stat_t)
		switch mode := fi.Mode(); {
		case mode.IsDir():
			if rel != "." {
				if err := os.Mkdir(target, 0o700); err != nil {
					return err
				}
			}
			dirs = append(dirs, rel)
		case mode.IsRegular():
			in := inode{uint64(st.Dev), uint64(st.Ino)}
			if first, ok := links[in]; ok {
				return os.Link(first, target)
			}
			if st.Nlink > 1 {
				links[in] = target
			}
			if err := copyFile(target, p); err != nil {
				return err
			}
		case mode&os.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := os.Symlink(link, target); err != nil {
				return err
			}
		default: // devices, fifos, sockets
			if err := unix.Mknod(target, st.Mode, int(st.Rdev)); err != nil {
				return fmt.Errorf("mknod %s: %w", target, err)
			}
		}
		if !fi.IsDir() {
			return copyMetadata(target, p, st)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	for i := len(dirs) - 1; i >= 0; i-- { // children before parents
		p, target := filepath.Join(src, dirs[i]), filepath.Join(dst, dirs[i])
		fi, err := os.Lstat(p)
		if err != nil {
			return fmt.Errorf("copy %s: %w", src, err)
		}
		if err := copyMetadata(target, p, fi.Sys().(*syscall.Stat_t)); err != nil {
			return fmt.Errorf("copy %s: %w", src, err)
		}
	}
	return nil
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Close())
}

// copyMetadata gives dst the owner, mode, xattrs and times of src. The
// order matters: chown clears setuid and setgid bits, so chmod comes
// after it, and times come last since setting xattrs changes ctime only.
func copyMetadata(dst, src string, st *syscall.Stat_t) error {
	if err := os.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		if err := unix.Fchmodat(unix.AT_FDCWD, dst, st.Mode&0o7777, 0); err != nil {
			return fmt.Errorf("chmod %s: %w", dst, err)
		}
	}
	if err := copyXattrs(dst, src); err != nil {
		return err
	}
	ts := []unix.Timespec{unix.Timespec(st.Atim), unix.Timespec(st.Mtim)}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, dst, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times of %s: %w", dst, err)
	}
	return nil
}

func copyXattrs(dst, src string) error {
	buf := make([]byte, 64<<10)
	n, err := unix.Llistxattr(src, buf)
	if errors.Is(err, unix.ENOTSUP) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list xattrs of %s: %w", src, err)
	}
	val := make([]byte, 64<<10)
	for _, name := range splitNames(buf[:n]) {
		vn, err := unix.Lgetxattr(src, name, val)
		if err != nil {
			return fmt.Errorf("get xattr %s of %s: %w", name, src, err)
		}
		err = unix.Lsetxattr(dst, name, val[:vn], 0)
		if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EPERM) {
			continue // a namespace dst's file system (or we) cannot write
		}
		if err != nil {
			return fmt.Errorf("set xattr %s of %s: %w", name, dst, err)
		}
	}
	return nil
}

func splitNames(b []byte) []string {
	var names []string
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != 0 {
			i++
		}
		if i > 0 {
			names = append(names, string(b[:i]))
		}
		b = b[min(i+1, len(b)):]
	}
	return names
}
