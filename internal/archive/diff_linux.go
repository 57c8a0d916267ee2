// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package archive

import (
	"archive/tar"
	"context"
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

// WriteDiff writes to w the layer tar of the changes in upper, an overlayfs
// upper directory (a container's writable layer, not mounted or not written
// to while this runs), over its lower layers, given topmost first as in
// overlayfs' lowerdir= option. It closes the tar stream, not w.
//
// Everything in upper is an addition or a modification: it is written
// whole, and listed as ChangeModify when a lower layer has the path and
// ChangeAdd otherwise. Overlay whiteouts (0:0 character devices) become
// ".wh.<name>" entries and ChangeDelete; a directory with
// trusted.overlay.opaque=y is followed by a ".wh..wh..opq" entry. The
// changes come in the order of the tar, with absolute paths.
//
// WriteRunDiff leaves out the runtime's mountpoints; WriteDiff writes
// everything.
//
// Overlayfs must be mounted with redirect_dir=off and metacopy=off (the
// defaults): a renamed directory or a metadata-only copy-up cannot be
// expressed in a layer, and WriteDiff refuses an upper directory that has
// one.
func WriteDiff(ctx context.Context, w io.Writer, upper string, lower []string) ([]Change, error) {
	return writeDiff(ctx, w, upper, lower, false)
}

// WriteRunDiff is WriteDiff for the writable layer of a container that
// has run: the runtime's mountpoints (ContainerMountpoints) are no
// changes where it made them: an empty file or directory that no lower
// layer has, and a directory it made or copied up only to hold them
// (nothing else in it; the lower layer's owner and mode, or root's 0755).
// A layer no container ran on (COPY, cp into a container never started)
// keeps them: they are what the user put there.
func WriteRunDiff(ctx context.Context, w io.Writer, upper string, lower []string) ([]Change, error) {
	return writeDiff(ctx, w, upper, lower, true)
}

func writeDiff(ctx context.Context, w io.Writer, upper string, lower []string, ran bool) ([]Change, error) {
	root, err := os.OpenRoot(upper)
	if err != nil {
		return nil, fmt.Errorf("archive: diff: %w", err)
	}
	defer root.Close()
	skip := map[string]bool{}
	if ran {
		skip = runtimeMade(root, lower)
	}
	tw := newTarWriter(w, root)
	var changes []Change
	err = walk(ctx, root, ".", "", func(rel, name string, fi os.FileInfo) (bool, error) {
		if skip[name] {
			return false, nil
		}
		if isOverlayWhiteout(fi) {
			hdr := &tar.Header{
				Typeflag: tar.TypeReg,
				Name:     path.Join(path.Dir(name), whiteoutPrefix+path.Base(name)),
				Mode:     0o600,
				ModTime:  fi.ModTime().Truncate(time.Second),
			}
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
			}
			changes = append(changes, Change{ChangeDelete, "/" + name})
			return false, tw.tw.WriteHeader(hdr)
		}
		opaque, err := tw.checkOverlayXattrs(rel, fi)
		if err != nil {
			return false, err
		}
		kind := ChangeAdd
		if inLower(lower, name) {
			kind = ChangeModify
		}
		changes = append(changes, Change{kind, "/" + name})
		if err := tw.add(rel, name, fi); err != nil {
			return false, err
		}
		if !fi.IsDir() {
			return false, nil
		}
		if opaque {
			hdr := &tar.Header{
				Typeflag: tar.TypeReg,
				Name:     path.Join(name, whiteoutOpaque),
				Mode:     0o600,
				ModTime:  fi.ModTime().Truncate(time.Second),
			}
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
			}
			if err := tw.tw.WriteHeader(hdr); err != nil {
				return false, err
			}
		}
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("archive: diff %s: %w", upper, err)
	}
	if err := tw.close(); err != nil {
		return nil, fmt.Errorf("archive: diff %s: %w", upper, err)
	}
	return changes, nil
}

// checkOverlayXattrs refuses the overlayfs xattrs a layer cannot express
// on the file or directory rel of the upper directory and reports whether
// it is an opaque directory.
func (w *tarWriter) checkOverlayXattrs(rel string, fi os.FileInfo) (opaque bool, err error) {
	if !fi.IsDir() && !fi.Mode().IsRegular() {
		return false, nil
	}
	f, err := w.open(rel, fi.Sys().(*syscall.Stat_t))
	if err != nil {
		return false, err
	}
	defer f.Close()
	fd := int(f.Fd())
	for _, x := range []string{"trusted.overlay.redirect", "trusted.overlay.metacopy"} {
		v, err := xattrValue(func(buf []byte) (int, error) { return unix.Fgetxattr(fd, x, buf) })
		if err != nil {
			return false, fmt.Errorf("%s: %w", rel, err)
		}
		if v != nil {
			return false, fmt.Errorf("%s has %s: mount overlayfs with redirect_dir=off,metacopy=off: %w", rel, x, errdefs.ErrNotImplemented)
		}
	}
	v, err := xattrValue(func(buf []byte) (int, error) { return unix.Fgetxattr(fd, overlayOpaqueXattr, buf) })
	if err != nil {
		return false, fmt.Errorf("%s: %w", rel, err)
	}
	return string(v) == "y", nil
}

// isOverlayWhiteout reports whether fi is overlayfs' whiteout: a character
// device with device number 0:0.
func isOverlayWhiteout(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && fi.Mode()&os.ModeCharDevice != 0 && fi.Mode()&os.ModeDevice != 0 && st.Rdev == 0
}

// inLower reports whether the merged view of the lower layers (topmost
// first, with overlay whiteouts and opaque directories) has the path rel.
// ContainerMountpoints are the paths the runtime makes in a container's
// writable layer, when the image lacks them, only to mount over them: the
// daemon's /etc/hostname, /etc/hosts and /etc/resolv.conf, and /dev,
// /proc and /sys. Nothing a container writes ends up in them (they are
// mounted over while it runs), so they are not its changes; Docker keeps
// them in a separate init layer under the writable one.
//
// The daemon's /.dockerenv (empty) and /etc/mtab (a symlink to
// /proc/mounts), which Docker's init layer also holds, count the same.
var ContainerMountpoints = []string{".dockerenv", "dev", "etc/hostname", "etc/hosts", "etc/mtab", "etc/resolv.conf", "proc", "sys"}

// RemoveMountpoints removes from upper, a container's writable layer that
// no mount uses any more, what WriteDiff leaves out as the runtime's
// mountpoints: the directory then holds exactly the layer WriteDiff
// writes, and can become the layer's snapshot as it is.
func RemoveMountpoints(upper string, lower []string) error {
	root, err := os.OpenRoot(upper)
	if err != nil {
		return err
	}
	defer root.Close()
	for p := range runtimeMade(root, lower) {
		if err := root.RemoveAll(p); err != nil {
			return fmt.Errorf("archive: remove %s: %w", p, err)
		}
	}
	return nil
}

// runtimeMade finds the mountpoints in upper that the runtime made (see
// WriteDiff), and the directories it copied up only for them.
func runtimeMade(root *os.Root, lower []string) map[string]bool {
	skip := map[string]bool{}
	for _, m := range ContainerMountpoints {
		fi, err := root.Lstat(m)
		if err != nil || inLower(lower, m) {
			continue
		}
		switch {
		case fi.Mode().IsRegular() && fi.Size() == 0:
			skip[m] = true
		case fi.Mode()&os.ModeSymlink != 0:
			if target, err := root.Readlink(m); err == nil && m == "etc/mtab" && target == "/proc/mounts" {
				skip[m] = true
			}
		case fi.IsDir():
			if names, err := readDirNames(root, m); err == nil && len(names) == 0 {
				skip[m] = true
			}
		}
	}
	for _, m := range ContainerMountpoints {
		dir := path.Dir(m)
		if !skip[m] || dir == "." || skip[dir] {
			continue
		}
		names, err := readDirNames(root, dir)
		if err != nil || slices.ContainsFunc(names, func(n string) bool { return !skip[path.Join(dir, n)] }) {
			continue
		}
		if sameAsLower(root, lower, dir) || !inLower(lower, dir) && madeByRuntime(root, dir) {
			skip[dir] = true
		}
	}
	return skip
}

func readDirNames(root *os.Root, dir string) ([]string, error) {
	d, err := root.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}

// madeByRuntime reports whether dir looks like a parent the runtime made
// for a mountpoint: a directory owned by root with mode 0755.
func madeByRuntime(root *os.Root, dir string) bool {
	fi, err := root.Lstat(dir)
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o755 {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Uid == 0 && st.Gid == 0
}

// sameAsLower reports whether directory dir of upper is a plain copy-up
// of the topmost lower layer's: no overlay attribute of its own (opaque),
// the same owner and mode.
func sameAsLower(root *os.Root, lower []string, dir string) bool {
	up, err := root.Lstat(dir)
	if err != nil || !up.IsDir() {
		return false
	}
	if v, _ := getXattr(filepath.Join(root.Name(), dir), overlayOpaqueXattr); string(v) == "y" {
		return false
	}
	for _, l := range lower {
		fi, err := os.Lstat(filepath.Join(l, dir))
		if err != nil {
			continue
		}
		a, okA := up.Sys().(*syscall.Stat_t)
		b, okB := fi.Sys().(*syscall.Stat_t)
		return fi.IsDir() && fi.Mode() == up.Mode() && okA && okB && a.Uid == b.Uid && a.Gid == b.Gid
	}
	return false
}

func inLower(lower []string, rel string) bool {
	parts := strings.Split(rel, "/")
	for _, layer := range lower {
		p := layer
		for i, part := range parts {
			p = filepath.Join(p, part)
			fi, err := os.Lstat(p)
			if err != nil {
				break // not in this layer: look below
			}
			if isOverlayWhiteout(fi) {
				return false
			}
			if i == len(parts)-1 {
				return true
			}
			if !fi.IsDir() {
				return false // a file hides the rest of the path below
			}
			if v, _ := getXattr(p, overlayOpaqueXattr); string(v) == "y" {
				// The layers below are hidden from here on: only this one
				// can still have the path.
				return inLayer(p, parts[i+1:])
			}
		}
	}
	return false
}

// inLayer reports whether one layer has dir/parts..., not counting
// whiteouts.
func inLayer(dir string, parts []string) bool {
	fi, err := os.Lstat(filepath.Join(append([]string{dir}, parts...)...))
	return err == nil && !isOverlayWhiteout(fi)
}
