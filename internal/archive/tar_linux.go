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
	"strings"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// Tar writes a plain tar of the tree at dir (deterministic, see the package
// documentation) to w and closes the tar stream, not w. Symlinks in the
// tree are written as symlinks, never followed; dir itself may be a
// symlink, and with a Prefix it may be a single file.
func Tar(ctx context.Context, w io.Writer, dir string, opts TarOptions) error {
	// dir may be a symlink (a container path resolved by the caller, a
	// temporary directory); what is below it never is followed.
	dir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("archive: tar: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("archive: tar: %w", err)
	}
	tw := newTarWriter(w)
	prefix := strings.Trim(path.Clean("/"+opts.Prefix), "/")
	if prefix != "" {
		if err := tw.add(dir, prefix, fi); err != nil {
			return fmt.Errorf("archive: tar %s: %w", dir, err)
		}
		if !fi.IsDir() {
			return tw.close()
		}
	} else if !fi.IsDir() {
		return fmt.Errorf("archive: tar %s: not a directory: %w", dir, errdefs.ErrInvalidArgument)
	}
	err = walk(ctx, dir, prefix, func(full, name string, fi os.FileInfo) (bool, error) {
		return true, tw.add(full, name, fi)
	})
	if err != nil {
		return fmt.Errorf("archive: tar %s: %w", dir, err)
	}
	return tw.close()
}

// walk calls fn for everything below dir in lexical order, parents before
// their children, with its full path, its entry name (rel joined to
// prefix) and its Lstat. It descends into a directory when fn returns true.
func walk(ctx context.Context, dir, prefix string, fn func(full, name string, fi os.FileInfo) (bool, error)) error {
	entries, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		full := filepath.Join(dir, e.Name())
		name := path.Join(prefix, e.Name())
		fi, err := os.Lstat(full)
		if err != nil {
			return err
		}
		descend, err := fn(full, name, fi)
		if err != nil {
			return err
		}
		if descend && fi.IsDir() {
			if err := walk(ctx, full, name, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// tarWriter writes filesystem entries as deterministic tar headers.
type tarWriter struct {
	tw    *tar.Writer
	links map[[2]uint64]string // dev, inode → first name written
	buf   []byte
}

func newTarWriter(w io.Writer) *tarWriter {
	return &tarWriter{tw: tar.NewWriter(w), links: map[[2]uint64]string{}, buf: make([]byte, 256<<10)}
}

func (w *tarWriter) close() error { return w.tw.Close() }

// add writes the file at full under name; sockets are skipped.
func (w *tarWriter) add(full, name string, fi os.FileInfo) error {
	hdr, err := w.header(full, name, fi)
	if err != nil || hdr == nil {
		return err
	}
	if err := w.tw.WriteHeader(hdr); err != nil {
		return err
	}
	if hdr.Typeflag != tar.TypeReg || hdr.Size == 0 {
		return nil
	}
	f, err := os.OpenFile(full, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.CopyBuffer(w.tw, io.LimitReader(f, hdr.Size), w.buf); err != nil {
		return err
	}
	return nil // a file that shrank meanwhile fails at the next write
}

// header builds the tar header of a file from its stat, without looking
// up user or group names (they would make the output depend on the host).
func (w *tarWriter) header(full, name string, fi os.FileInfo) (*tar.Header, error) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil, fmt.Errorf("%s: no stat", full)
	}
	hdr := &tar.Header{
		Name:    name,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: fi.ModTime().Truncate(time.Second),
	}
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
				return hdr, nil
			}
			w.links[key] = name
		}
	case unix.S_IFDIR:
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
	case unix.S_IFLNK:
		hdr.Typeflag = tar.TypeSymlink
		link, err := os.Readlink(full)
		if err != nil {
			return nil, err
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
		return nil, nil
	}
	xattrs, err := imageXattrs(full)
	if err != nil {
		return nil, err
	}
	for k, v := range xattrs {
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords["SCHILY.xattr."+k] = v
	}
	return hdr, nil
}

// imageXattrs reads the xattrs of p that belong in an image: user.* and
// security.capability.
func imageXattrs(p string) (map[string]string, error) {
	names, err := listXattrs(p)
	if err != nil {
		return nil, err
	}
	var out map[string]string
	for _, n := range names {
		if !strings.HasPrefix(n, "user.") && n != "security.capability" {
			continue
		}
		v, err := getXattr(p, n)
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

func listXattrs(p string) ([]string, error) {
	for size := 256; ; size *= 4 {
		buf := make([]byte, size)
		n, err := unix.Llistxattr(p, buf)
		if errors.Is(err, unix.ERANGE) && size < 1<<20 {
			continue
		}
		if errors.Is(err, unix.ENOTSUP) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list xattrs of %s: %w", p, err)
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

// getXattr returns the value of xattr name of p, nil if p has none.
func getXattr(p, name string) ([]byte, error) {
	for size := 256; ; size *= 4 {
		buf := make([]byte, size)
		n, err := unix.Lgetxattr(p, name, buf)
		if errors.Is(err, unix.ERANGE) && size < 1<<20 {
			continue
		}
		if errors.Is(err, unix.ENODATA) || errors.Is(err, unix.ENOTSUP) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("get xattr %s of %s: %w", name, p, err)
		}
		return buf[:n], nil
	}
}
