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
	"time"

	"github.com/containerd/errdefs"
	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// Apply unpacks the uncompressed layer tar read from r (see Decompress)
// into dir, an existing directory, converting whiteouts as opts.Whiteouts
// says. It returns the number of bytes of file content written. The package
// documentation gives the safety rules every entry is held to. After the
// end-of-archive marker Apply reads r to its end, so that a caller verifying
// the digest of the stream sees all of it.
//
// On error, dir holds part of the layer: the caller discards it.
func Apply(ctx context.Context, dir string, r io.Reader, opts ApplyOptions) (int64, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return 0, fmt.Errorf("archive: apply to %s: %w", dir, err)
	}
	if fi, err := os.Lstat(root); err != nil {
		return 0, fmt.Errorf("archive: apply: %w", err)
	} else if !fi.IsDir() {
		return 0, fmt.Errorf("archive: apply to %s: not a directory: %w", dir, errdefs.ErrInvalidArgument)
	}
	a := &applier{
		root:    root,
		opts:    opts,
		isRoot:  os.Geteuid() == 0,
		written: map[string]bool{},
		buf:     make([]byte, 256<<10),
	}
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return a.size, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return a.size, fmt.Errorf("archive: read tar: %w", err)
		}
		if err := a.entry(hdr, tr); err != nil {
			return a.size, fmt.Errorf("archive: entry %q: %w", hdr.Name, err)
		}
	}
	// Innermost directories first, though the order does not matter: no
	// directory is written to any more.
	for i := len(a.dirs) - 1; i >= 0; i-- {
		if err := setTimes(a.dirs[i].path, a.dirs[i].hdr); err != nil {
			return a.size, fmt.Errorf("archive: entry %q: %w", a.dirs[i].hdr.Name, err)
		}
	}
	if _, err := io.CopyBuffer(io.Discard, r, a.buf); err != nil {
		return a.size, fmt.Errorf("archive: read tar: %w", err)
	}
	return a.size, nil
}

type applier struct {
	root   string
	opts   ApplyOptions
	isRoot bool
	size   int64
	buf    []byte
	// written holds the host paths this archive wrote and their parents,
	// for opaque directories in RemoveWhiteouts mode.
	written map[string]bool
	dirs    []dirTimes
}

type dirTimes struct {
	path string
	hdr  *tar.Header
}

// cleanName turns an entry name into a path relative to the root with no
// ".." in it: the confinement rule for names. The root itself is "".
func cleanName(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

func (a *applier) entry(hdr *tar.Header, r io.Reader) error {
	rel := cleanName(hdr.Name)
	if rel == "" {
		if hdr.Typeflag != tar.TypeDir {
			return fmt.Errorf("the root can only be a directory: %w", errdefs.ErrInvalidArgument)
		}
		return a.metadata(a.root, hdr)
	}
	// AUFS keeps its metadata (hardlink store, orphans) in .wh..wh.* at the
	// top of a layer; it means nothing here.
	if strings.HasPrefix(rel, whiteoutMetaPrefix) {
		return nil
	}
	base := path.Base(rel)
	switch {
	case base == whiteoutOpaque:
		return a.opaque(path.Dir(rel))
	case strings.HasPrefix(base, whiteoutMetaPrefix):
		return nil
	case strings.HasPrefix(base, whiteoutPrefix):
		name := strings.TrimPrefix(base, whiteoutPrefix)
		if name == "" || name == "." || name == ".." {
			return fmt.Errorf("whiteout of %q: %w", name, errdefs.ErrInvalidArgument)
		}
		return a.whiteout(path.Join(path.Dir(rel), name))
	}
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader:
		return nil
	case tar.TypeDir, tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse, tar.TypeCont,
		tar.TypeSymlink, tar.TypeLink, tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
	default:
		return fmt.Errorf("unsupported entry type %q: %w", hdr.Typeflag, errdefs.ErrInvalidArgument)
	}

	parent, err := a.parent(rel, true)
	if err != nil {
		return err
	}
	p := filepath.Join(parent, path.Base(rel))

	var linkSrc string
	if hdr.Typeflag == tar.TypeLink {
		if linkSrc, err = a.linkSource(hdr.Linkname); err != nil {
			return err
		}
		if linkSrc == p {
			return nil // a link to itself: already there
		}
	}

	// Replace whatever is at p, except a directory with a directory.
	if fi, err := os.Lstat(p); err == nil {
		if !(fi.IsDir() && hdr.Typeflag == tar.TypeDir) {
			if err := os.RemoveAll(p); err != nil {
				return err
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}

	mode := uint32(hdr.Mode) & 0o7777
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := os.Mkdir(p, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
	case tar.TypeSymlink:
		if err := os.Symlink(hdr.Linkname, p); err != nil {
			return err
		}
	case tar.TypeLink:
		// link(2) does not follow a symlink at linkSrc: a hardlink to a
		// symlink is a second name for the symlink.
		if err := os.Link(linkSrc, p); err != nil {
			return err
		}
		a.record(p)
		return nil // the metadata is the target's
	case tar.TypeChar:
		err = unix.Mknod(p, unix.S_IFCHR|mode, int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))))
	case tar.TypeBlock:
		err = unix.Mknod(p, unix.S_IFBLK|mode, int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))))
	case tar.TypeFifo:
		err = unix.Mknod(p, unix.S_IFIFO|mode, 0)
	default: // regular file
		err = a.writeFile(p, r)
	}
	if err != nil {
		return err
	}
	a.record(p)
	return a.metadata(p, hdr)
}

// parent resolves the directory that holds rel, following symlinks as if
// the root were "/", and creates it if create is set.
func (a *applier) parent(rel string, create bool) (string, error) {
	dir, err := securejoin.SecureJoin(a.root, path.Dir(rel))
	if err != nil {
		return "", err
	}
	if create {
		// Every existing component of dir is a real directory (securejoin
		// resolved the symlinks), so MkdirAll only makes the missing tail.
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// linkSource resolves the target of a hardlink entry inside the root,
// refusing targets that climb above it.
func (a *applier) linkSource(name string) (string, error) {
	clean := strings.TrimPrefix(path.Clean(name), "/")
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("hardlink to %q: target outside the archive root: %w", name, errdefs.ErrInvalidArgument)
	}
	if clean == "." || clean == "" {
		return "", fmt.Errorf("hardlink to %q: target is the root: %w", name, errdefs.ErrInvalidArgument)
	}
	dir, err := securejoin.SecureJoin(a.root, path.Dir(clean))
	if err != nil {
		return "", err
	}
	src := filepath.Join(dir, path.Base(clean))
	fi, err := os.Lstat(src)
	if err != nil {
		return "", fmt.Errorf("hardlink to %q: %w", name, err)
	}
	if fi.IsDir() {
		return "", fmt.Errorf("hardlink to %q: target is a directory: %w", name, errdefs.ErrInvalidArgument)
	}
	return src, nil
}

func (a *applier) writeFile(p string, r io.Reader) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	// Hide f's ReadFrom, which would allocate its own buffer per file.
	n, err := io.CopyBuffer(struct{ io.Writer }{f}, r, a.buf)
	a.size += n
	return errors.Join(err, f.Close())
}

// whiteout deletes rel: overlay-style by a 0:0 device, or for real.
func (a *applier) whiteout(rel string) error {
	create := a.opts.Whiteouts == OverlayWhiteouts
	parent, err := a.parent(rel, create)
	if err != nil {
		return err
	}
	p := filepath.Join(parent, path.Base(rel))
	if err := os.RemoveAll(p); err != nil {
		return err
	}
	if !create {
		return nil
	}
	if err := unix.Mknod(p, unix.S_IFCHR, 0); err != nil {
		return fmt.Errorf("overlay whiteout %s: %w", rel, err)
	}
	a.record(p)
	return nil
}

// opaque hides what the layers below have in the directory rel.
func (a *applier) opaque(rel string) error {
	create := a.opts.Whiteouts == OverlayWhiteouts
	p, err := securejoin.SecureJoin(a.root, rel)
	if err != nil {
		return err
	}
	if !create {
		return a.removeUnwritten(p)
	}
	if err := os.MkdirAll(p, 0o755); err != nil {
		return err
	}
	a.record(p)
	if err := unix.Lsetxattr(p, overlayOpaqueXattr, []byte("y"), 0); err != nil {
		return fmt.Errorf("opaque directory %s: %w", rel, err)
	}
	return nil
}

// removeUnwritten deletes everything under dir that this archive did not
// write.
func (a *applier) removeUnwritten(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if !a.written[p] {
			if err := os.RemoveAll(p); err != nil {
				return err
			}
			continue
		}
		if e.IsDir() {
			if err := a.removeUnwritten(p); err != nil {
				return err
			}
		}
	}
	return nil
}

// record notes that p and its parents hold what this archive wrote.
func (a *applier) record(p string) {
	for p != a.root && len(p) > len(a.root) && !a.written[p] {
		a.written[p] = true
		p = filepath.Dir(p)
	}
}

// metadata sets owner, mode, xattrs and times of p, which is not a
// symlink unless hdr is one. Order matters: chown clears setuid bits and
// security.capability, so it comes first.
func (a *applier) metadata(p string, hdr *tar.Header) error {
	if !a.opts.NoSameOwner {
		if err := os.Lchown(p, hdr.Uid, hdr.Gid); err != nil {
			return err
		}
	}
	if hdr.Typeflag != tar.TypeSymlink {
		if err := unix.Chmod(p, uint32(hdr.Mode)&0o7777); err != nil {
			return fmt.Errorf("chmod %s: %w", p, err)
		}
	}
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok || !a.xattrAllowed(name) {
			continue
		}
		err := unix.Lsetxattr(p, name, []byte(v), 0)
		// Symlinks cannot have user.* xattrs (EPERM); skip those too.
		if err != nil && !errors.Is(err, unix.ENOTSUP) &&
			!(hdr.Typeflag == tar.TypeSymlink && errors.Is(err, unix.EPERM)) {
			return fmt.Errorf("set xattr %s on %s: %w", name, p, err)
		}
	}
	if hdr.Typeflag == tar.TypeDir {
		a.dirs = append(a.dirs, dirTimes{p, hdr})
		return nil
	}
	return setTimes(p, hdr)
}

func (a *applier) xattrAllowed(name string) bool {
	switch {
	case strings.HasPrefix(name, overlayXattrPrefix):
		return false
	case strings.HasPrefix(name, "trusted."), name == "security.selinux":
		return a.isRoot
	}
	return true
}

func setTimes(p string, hdr *tar.Header) error {
	atime := hdr.AccessTime
	if atime.IsZero() {
		atime = hdr.ModTime
	}
	ts := []unix.Timespec{timespec(atime), timespec(hdr.ModTime)}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times of %s: %w", p, err)
	}
	return nil
}

func timespec(t time.Time) unix.Timespec {
	if t.IsZero() {
		return unix.Timespec{}
	}
	return unix.Timespec{Sec: t.Unix(), Nsec: int64(t.Nanosecond())}
}
