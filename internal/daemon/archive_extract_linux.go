// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package daemon

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// extractOptions change how extractTar writes.
type extractOptions struct {
	// NoOverwriteDirNonDir refuses to replace a directory with something
	// else and the reverse (docker cp sets it).
	NoOverwriteDirNonDir bool
	// Owner, when set, owns everything written, instead of the uid and gid
	// the archive gives.
	Owner *[2]int
}

// extractTar unpacks the tar stream r into the directory dst, as docker
// cp's PUT /containers/{id}/archive does.
//
// It must run on a thread whose root directory is the container's (see
// inContainerFS): every path is then resolved by the kernel inside that
// root, so a symlink planted in the container, even one swapped while the
// copy runs, can send a write elsewhere in the container but never onto
// the host. On top of that, entries are confined to dst: a name climbing
// above it ("../x") is refused, an absolute one is taken relative to it,
// and the last component of an entry is never followed (whatever is there
// is removed, new files are created with O_EXCL|O_NOFOLLOW and metadata is
// set with the non-following calls). Hardlink targets are confined the
// same way.
func extractTar(ctx context.Context, r io.Reader, dst string, opts extractOptions) error {
	tr := tar.NewReader(r)
	type dirTimes struct {
		p   string
		hdr *tar.Header
	}
	var dirs []dirTimes
	buf := make([]byte, 1<<20)
	// parents known to be directories already: most entries share theirs
	seen := map[string]bool{}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read the archive: %w", err)
		}
		rel, err := confinedName(hdr.Name)
		if err != nil {
			return err
		}
		if rel == "" {
			// the destination itself ("./" of dir/.): it exists and keeps
			// its owner and mode, as Docker leaves it
			continue
		}
		p := path.Join(dst, rel)
		if opts.Owner != nil {
			hdr.Uid, hdr.Gid = opts.Owner[0], opts.Owner[1]
		}
		if parent := path.Dir(p); !seen[parent] {
			if err := os.MkdirAll(parent, 0o755); err != nil {
				return err
			}
			seen[parent] = true
		}
		if err := prepareTarget(p, hdr, opts.NoOverwriteDirNonDir); err != nil {
			return err
		}
		mode := uint32(hdr.Mode) & 0o7777
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := unix.Mkdir(p, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
				return &os.PathError{Op: "mkdir", Path: p, Err: err}
			}
			dirs = append(dirs, dirTimes{p, hdr})
		case tar.TypeReg, tar.TypeRegA:
			// owner and mode are set through the descriptor: the file
			// cannot be swapped for a symlink under them
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
			if err != nil {
				return err
			}
			_, err = io.CopyBuffer(f, tr, buf)
			if err == nil {
				err = f.Chown(hdr.Uid, hdr.Gid)
			}
			if err == nil {
				err = unix.Fchmod(int(f.Fd()), mode)
			}
			if err == nil && len(hdr.PAXRecords) > 0 {
				err = setXattrs(p, hdr)
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			setEntryTimes(p, hdr)
			continue
		case tar.TypeSymlink:
			if err := unix.Symlink(hdr.Linkname, p); err != nil {
				return &os.PathError{Op: "symlink", Path: p, Err: err}
			}
		case tar.TypeLink:
			lrel, err := confinedName(hdr.Linkname)
			if err != nil {
				return err
			}
			// linkat without AT_SYMLINK_FOLLOW links the target itself,
			// never what a symlink there points to
			if err := unix.Linkat(unix.AT_FDCWD, path.Join(dst, lrel), unix.AT_FDCWD, p, 0); err != nil {
				return &os.PathError{Op: "link", Path: p, Err: err}
			}
			continue
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			kind := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
			if err := unix.Mknod(p, kind|mode, int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))); err != nil {
				return &os.PathError{Op: "mknod", Path: p, Err: err}
			}
		case tar.TypeXGlobalHeader:
			continue
		default:
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("unhandled tar header type %d", hdr.Typeflag))
		}
		if err := setMetadata(p, hdr, mode); err != nil {
			return err
		}
		if hdr.Typeflag != tar.TypeDir {
			setEntryTimes(p, hdr)
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		setEntryTimes(dirs[i].p, dirs[i].hdr)
	}
	return nil
}

// confinedName is an entry name relative to the destination: absolute
// names are taken as relative, names that climb above are refused, as
// Docker refuses them.
func confinedName(name string) (string, error) {
	c := path.Clean(strings.TrimLeft(name, "/"))
	if c == "." {
		return "", nil
	}
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid archive entry %q: it points outside the destination", name))
	}
	return c, nil
}

// prepareTarget clears the way for an entry at p: an existing directory
// stays for a directory entry, anything else there is removed (a
// directory recursively), unless noOverwrite forbids changing between
// directory and non-directory.
func prepareTarget(p string, hdr *tar.Header, noOverwrite bool) error {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return &os.PathError{Op: "lstat", Path: p, Err: err}
	}
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	wantDir := hdr.Typeflag == tar.TypeDir
	switch {
	case isDir && wantDir:
		return nil
	case noOverwrite && isDir:
		return fmt.Errorf("cannot overwrite directory %q with non-directory %q", p, hdr.Name)
	case noOverwrite && wantDir:
		return fmt.Errorf("cannot overwrite non-directory %q with directory %q", p, hdr.Name)
	case isDir:
		return os.RemoveAll(p)
	}
	if err := unix.Unlink(p); err != nil && !errors.Is(err, unix.ENOENT) {
		return &os.PathError{Op: "unlink", Path: p, Err: err}
	}
	return nil
}

// setMetadata sets owner, mode and xattrs without following a symlink at
// p (a symlink gets only its owner).
func setMetadata(p string, hdr *tar.Header, mode uint32) error {
	if err := unix.Lchown(p, hdr.Uid, hdr.Gid); err != nil {
		return &os.PathError{Op: "lchown", Path: p, Err: err}
	}
	if hdr.Typeflag == tar.TypeSymlink {
		return nil
	}
	// chmod through a descriptor opened without following, so that an
	// entry swapped for a symlink meanwhile is not chmod-ed through it;
	// devices and fifos (which open(2) would use or block on) by path,
	// which the container's root confines.
	if hdr.Typeflag == tar.TypeReg || hdr.Typeflag == tar.TypeRegA || hdr.Typeflag == tar.TypeDir {
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		if err != nil {
			return &os.PathError{Op: "open", Path: p, Err: err}
		}
		err = unix.Fchmod(fd, mode)
		unix.Close(fd)
		if err != nil {
			return &os.PathError{Op: "chmod", Path: p, Err: err}
		}
	} else if err := unix.Fchmodat(unix.AT_FDCWD, p, mode, 0); err != nil {
		return &os.PathError{Op: "chmod", Path: p, Err: err}
	}
	return setXattrs(p, hdr)
}

// setXattrs sets the extended attributes the archive gives (PAX
// SCHILY.xattr records), skipping what the file system refuses.
func setXattrs(p string, hdr *tar.Header) error {
	for k, v := range hdr.PAXRecords {
		if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			if err := unix.Lsetxattr(p, name, []byte(v), 0); err != nil && !errors.Is(err, unix.ENOTSUP) && !errors.Is(err, unix.EPERM) {
				return &os.PathError{Op: "lsetxattr " + name, Path: p, Err: err}
			}
		}
	}
	return nil
}

func setEntryTimes(p string, hdr *tar.Header) {
	at := hdr.AccessTime
	if at.IsZero() {
		at = hdr.ModTime
	}
	ts := []unix.Timespec{toTimespec(at), toTimespec(hdr.ModTime)}
	unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
}

func toTimespec(t time.Time) unix.Timespec {
	if t.IsZero() || t.Before(time.Unix(0, 0)) {
		return unix.Timespec{Nsec: unix.UTIME_OMIT}
	}
	return unix.NsecToTimespec(t.UnixNano())
}
