// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package archive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// Tar writes a plain tar of the tree at dir (deterministic, see the package
// documentation) to w and closes the tar stream, not w. dir itself may be a
// symlink, and with a Prefix it may be a single file; below it, symlinks are
// written as symlinks, never followed. Everything is read through an
// os.Root at dir, so a tree that changes while it is read (a running
// container's) can give a torn archive but never makes Tar read outside
// dir.
func Tar(ctx context.Context, w io.Writer, dir string, opts TarOptions) error {
	dir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("archive: tar: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("archive: tar: %w", err)
	}
	prefix := strings.Trim(path.Clean("/"+opts.Prefix), "/")
	if !fi.IsDir() {
		if prefix == "" {
			return fmt.Errorf("archive: tar %s: not a directory: %w", dir, errdefs.ErrInvalidArgument)
		}
		root, err := os.OpenRoot(filepath.Dir(dir))
		if err != nil {
			return fmt.Errorf("archive: tar: %w", err)
		}
		defer root.Close()
		tw := newTarWriter(w, root)
		if err := tw.add(filepath.Base(dir), prefix, fi); err != nil {
			return fmt.Errorf("archive: tar %s: %w", dir, err)
		}
		return tw.close()
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("archive: tar: %w", err)
	}
	defer root.Close()
	tw := newTarWriter(w, root)
	if prefix != "" {
		if err := tw.add(".", prefix, fi); err != nil {
			return fmt.Errorf("archive: tar %s: %w", dir, err)
		}
	}
	err = walk(ctx, root, ".", prefix, func(rel, name string, fi os.FileInfo) (bool, error) {
		return true, tw.add(rel, name, fi)
	})
	if err != nil {
		return fmt.Errorf("archive: tar %s: %w", dir, err)
	}
	return tw.close()
}

// walk calls fn for everything below rel in root in lexical order, parents
// before their children, with its path in root, its entry name (joined to
// prefix) and its Lstat. It descends into a directory when fn returns true.
func walk(ctx context.Context, root *os.Root, rel, prefix string, fn func(rel, name string, fi os.FileInfo) (bool, error)) error {
	d, err := root.Open(rel)
	if err != nil {
		return err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return err
	}
	slices.Sort(names)
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		child := path.Join(rel, n)
		fi, err := root.Lstat(child)
		if err != nil {
			return err
		}
		descend, err := fn(child, path.Join(prefix, n), fi)
		if err != nil {
			return err
		}
		if descend && fi.IsDir() {
			if err := walk(ctx, root, child, path.Join(prefix, n), fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// tarWriter writes filesystem entries as deterministic tar headers.
type tarWriter struct {
	root  *os.Root
	tw    *tar.Writer
	links map[[2]uint64]string // dev, inode → first name written
	buf   []byte
}

func newTarWriter(w io.Writer, root *os.Root) *tarWriter {
	return &tarWriter{root: root, tw: tar.NewWriter(w), links: map[[2]uint64]string{}, buf: make([]byte, 256<<10)}
}

func (w *tarWriter) close() error { return w.tw.Close() }

// add writes the file at rel in the root under name; sockets are skipped.
// fi is its Lstat.
func (w *tarWriter) add(rel, name string, fi os.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%s: no stat", rel)
	}
	hdr := &tar.Header{
		Name:    name,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: fi.ModTime().Truncate(time.Second),
	}
	// Regular files and directories are opened (and checked to be what
	// was stat'ed) to read their xattrs and content from the descriptor.
	var f *os.File
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		hdr.Typeflag = tar.TypeReg
		hdr.Size = st.Size
		if st.Nlink > 1 {
			key := [2]uint64{st.Dev, st.Ino}
			if first, ok := w.links[key]; ok {
				hdr.Typeflag = tar.TypeLink
				hdr.Linkname = first
				hdr.Size = 0
				return w.tw.WriteHeader(hdr)
			}
			w.links[key] = name
		}
	case unix.S_IFDIR:
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
	case unix.S_IFLNK:
		hdr.Typeflag = tar.TypeSymlink
		link, err := w.root.Readlink(rel)
		if err != nil {
			return err
		}
		hdr.Linkname = link
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor = int64(unix.Major(st.Rdev))
		hdr.Devminor = int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	default: // sockets
		return nil
	}
	if hdr.Typeflag == tar.TypeReg || hdr.Typeflag == tar.TypeDir {
		var err error
		if f, err = w.open(rel, st); err != nil {
			return err
		}
		defer f.Close()
		xattrs, err := imageXattrs(int(f.Fd()))
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		for k, v := range xattrs {
			if hdr.PAXRecords == nil {
				hdr.PAXRecords = map[string]string{}
			}
			hdr.PAXRecords["SCHILY.xattr."+k] = v
		}
	}
	if err := w.tw.WriteHeader(hdr); err != nil {
		return err
	}
	if hdr.Typeflag != tar.TypeReg || hdr.Size == 0 {
		return nil
	}
	// Hide the tar writer's ReadFrom, which would allocate per file. A
	// file that shrank meanwhile fails at the next header.
	_, err := io.CopyBuffer(struct{ io.Writer }{w.tw}, io.LimitReader(f, hdr.Size), w.buf)
	return err
}

// open opens rel in the root and checks that it is still the file st
// describes.
func (w *tarWriter) open(rel string, st *syscall.Stat_t) (*os.File, error) {
	f, err := w.root.OpenFile(rel, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	var now unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &now); err != nil {
		f.Close()
		return nil, err
	}
	if now.Dev != st.Dev || now.Ino != st.Ino {
		f.Close()
		return nil, fmt.Errorf("%s changed while being archived", rel)
	}
	return f, nil
}

// imageXattrs reads the xattrs of the open file fd that belong in an
// image: user.* and security.capability.
func imageXattrs(fd int) (map[string]string, error) {
	names, err := xattrNames(func(buf []byte) (int, error) { return unix.Flistxattr(fd, buf) })
	if err != nil {
		return nil, err
	}
	var out map[string]string
	for _, n := range names {
		if !strings.HasPrefix(n, "user.") && n != "security.capability" {
			continue
		}
		v, err := xattrValue(func(buf []byte) (int, error) { return unix.Fgetxattr(fd, n, buf) })
		if err != nil {
			return nil, err
		}
		if v == nil {
			continue // removed meanwhile
		}
		if out == nil {
			out = map[string]string{}
		}
		out[n] = string(v)
	}
	return out, nil
}

// listXattrs lists the xattr names of p, not following a symlink.
func listXattrs(p string) ([]string, error) {
	names, err := xattrNames(func(buf []byte) (int, error) { return unix.Llistxattr(p, buf) })
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return names, nil
}

// getXattr returns the value of xattr name of p, nil if p has none; it
// does not follow a symlink.
func getXattr(p, name string) ([]byte, error) {
	v, err := xattrValue(func(buf []byte) (int, error) { return unix.Lgetxattr(p, name, buf) })
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return v, nil
}

// xattrNames calls list with growing buffers and splits the names.
func xattrNames(list func([]byte) (int, error)) ([]string, error) {
	for size := 256; ; size *= 4 {
		buf := make([]byte, size)
		n, err := list(buf)
		if errors.Is(err, unix.ERANGE) && size < 1<<20 {
			continue
		}
		if errors.Is(err, unix.ENOTSUP) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list xattrs: %w", err)
		}
		var names []string
		for _, n := range strings.Split(string(buf[:n]), "\x00") {
			if n != "" {
				names = append(names, n)
			}
		}
		return names, nil
	}
}

// xattrValue calls get with growing buffers; nil when there is no value.
func xattrValue(get func([]byte) (int, error)) ([]byte, error) {
	for size := 256; ; size *= 4 {
		buf := make([]byte, size)
		n, err := get(buf)
		if errors.Is(err, unix.ERANGE) && size < 1<<20 {
			continue
		}
		if errors.Is(err, unix.ENODATA) || errors.Is(err, unix.ENOTSUP) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("get xattr: %w", err)
		}
		return buf[:n], nil
	}
}
