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
	"path/filepath"
	"strings"

	"github.com/containerd/errdefs"
	securejoin "github.com/cyphar/filepath-securejoin"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/sys/user"

	"github.com/berth-project/berth/internal/archive"
	ctr "github.com/berth-project/berth/internal/container"
)

// These are docker's errors for cp's archive requests.
var (
	errExtractPointNotDirectory = errdefs.ErrInvalidArgument.WithMessage("extraction point is not a directory")
	errRootFSReadOnly           = errors.New("container rootfs is marked read-only")
	errVolumeReadonly           = errors.New("mounted volume is marked read-only")
)

func fileNotFound(p, ref string) error {
	return errdefs.ErrNotFound.WithMessage(fmt.Sprintf("Could not find the file %s in container %s", p, ref))
}

// withContainerFS runs fn inside the container's filesystem (see
// inContainerFS). A stopped container stays locked meanwhile, so it cannot
// start under the copy.
func (d *Daemon) withContainerFS(ctx context.Context, ref string, fn func(c *ctr.Container) error) error {
	c, err := d.store.Get(ref)
	if err != nil {
		return err
	}
	c.Mu.Lock()
	if c.State.Status == ctr.Removing || c.State.Status == ctr.Dead {
		c.Mu.Unlock()
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("container %s is marked for removal", ref))
	}
	if c.IsRunning() && c.State.Pid > 0 {
		pid := c.State.Pid
		c.Mu.Unlock()
		return d.inContainerFS(ctx, c, pid, func() error { return fn(c) })
	}
	defer c.Mu.Unlock()
	return d.inContainerFS(ctx, c, 0, func() error { return fn(c) })
}

// containerPath is p as an absolute path in the container, keeping a
// trailing "/" or "/." (which docker cp gives meaning to).
func containerPath(p string) string {
	abs := path.Join("/", p)
	switch {
	case strings.HasSuffix(p, "/."):
		if abs != "/" {
			abs += "/."
		} else {
			abs = "/."
		}
	case strings.HasSuffix(p, "/") && abs != "/":
		abs += "/"
	}
	return abs
}

// statInRoot is Docker's StatPath, run inside the container's root: the
// last element is not followed (unless the path ends in "/" or "/."), and
// a symlink's LinkTarget is where it leads, fully resolved in the
// container.
func statInRoot(abs string) (containertypes.PathStat, error) {
	fi, err := os.Lstat(abs)
	if err != nil {
		return containertypes.PathStat{}, err
	}
	st := containertypes.PathStat{Name: path.Base(abs), Size: fi.Size(), Mode: fi.Mode(), Mtime: fi.ModTime()}
	if abs == "/" || abs == "/." {
		st.Name = "/"
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		target, err := securejoin.SecureJoin("/", abs)
		if err != nil {
			return containertypes.PathStat{}, err
		}
		st.LinkTarget = target
	}
	return st, nil
}

// ContainerStatPath answers HEAD /containers/{id}/archive.
func (d *Daemon) ContainerStatPath(ctx context.Context, ref, p string) (containertypes.PathStat, error) {
	var st containertypes.PathStat
	err := d.withContainerFS(ctx, ref, func(*ctr.Container) error {
		var err error
		st, err = statInRoot(containerPath(p))
		return err
	})
	if errors.Is(err, os.ErrNotExist) {
		return st, fileNotFound(p, ref)
	}
	return st, err
}

// ContainerArchivePath answers GET /containers/{id}/archive: it calls
// start with the path's stat, then writes to what start returns a tar of
// the path whose top entry is named as the last element of the path as
// given (so "/a/link/" gives entries "link/..." and "/a/dir/." entries
// "./...", which docker cp relies on).
func (d *Daemon) ContainerArchivePath(ctx context.Context, ref, p string, start func(containertypes.PathStat) io.Writer) error {
	var c *ctr.Container
	started := false
	err := d.withContainerFS(ctx, ref, func(cc *ctr.Container) error {
		c = cc
		abs := containerPath(p)
		st, err := statInRoot(abs)
		if err != nil {
			return err
		}
		w := start(st)
		started = true
		name := path.Base(abs)
		if st.Mode&os.ModeSymlink != 0 && !strings.HasSuffix(abs, "/") {
			return tarSymlink(w, abs, name)
		}
		switch name {
		case "/":
			// the whole filesystem: entries named as docker names them,
			// "/" and below it
			return tarRenamed(ctx, w, abs, "/")
		case ".":
			return tarRenamed(ctx, w, abs, ".")
		}
		return archive.Tar(ctx, w, abs, archive.TarOptions{Prefix: name})
	})
	if err != nil && !started && errors.Is(err, os.ErrNotExist) {
		return fileNotFound(p, ref)
	}
	if err == nil {
		d.publish(c, events.ActionArchivePath, nil)
	}
	return err
}

// tarSymlink writes the one entry for a symlink that is copied as such.
func tarSymlink(w io.Writer, p, name string) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	target, err := os.Readlink(p)
	if err != nil {
		return err
	}
	h, err := tar.FileInfoHeader(fi, target)
	if err != nil {
		return err
	}
	h.Name, h.Uname, h.Gname = name, "", ""
	tw := tar.NewWriter(w)
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	return tw.Close()
}

// tarRenamed writes a tar of dir whose top entry is named top: "." or
// "/", names archive.Tar's prefix option cannot give. The tree is read
// here, on the caller's (rooted) thread; only the renaming of the stream
// runs on another goroutine, which touches no path.
func tarRenamed(ctx context.Context, w io.Writer, dir, top string) error {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := renameEntries(pr, w, top)
		pr.CloseWithError(err)
		done <- err
	}()
	err := archive.Tar(ctx, pw, dir, archive.TarOptions{Prefix: "x"})
	pw.CloseWithError(err)
	if rerr := <-done; err == nil {
		err = rerr
	}
	return err
}

func renameEntries(r io.Reader, w io.Writer, top string) error {
	tr := tar.NewReader(r)
	tw := tar.NewWriter(w)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return tw.Close()
		}
		if err != nil {
			return err
		}
		h.Name = rename(h.Name, top)
		if h.Typeflag == tar.TypeLink {
			h.Linkname = rename(h.Linkname, top)
		}
		h.Format = tar.FormatPAX
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}

func rename(name, top string) string {
	rest := strings.TrimPrefix(name, "x")
	if top == "/" {
		return "/" + strings.TrimPrefix(rest, "/")
	}
	return top + rest
}

// ContainerExtractToDir answers PUT /containers/{id}/archive: it unpacks
// r into the directory p of the container (p's last element followed if
// it is a symlink), through its volumes and bind mounts, refusing
// read-only ones and a read-only rootfs as Docker does. Files keep the
// archive's owners, except with copyUIDGID in a container with a user:
// then they belong to that user, as Docker does (which looks the user up
// on the host; berth in the container's own /etc/passwd).
func (d *Daemon) ContainerExtractToDir(ctx context.Context, ref, p string, noOverwriteDirNonDir, copyUIDGID bool, r io.Reader) error {
	var c *ctr.Container
	err := d.withContainerFS(ctx, ref, func(cc *ctr.Container) error {
		c = cc
		abs := containerPath(p)
		resolved, err := filepath.EvalSymlinks(abs)
		if err != nil {
			return err
		}
		fi, err := os.Lstat(resolved)
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return errExtractPointNotDirectory
		}
		if err := d.checkWritable(c, resolved); err != nil {
			return err
		}
		opts := extractOptions{NoOverwriteDirNonDir: noOverwriteDirNonDir}
		if copyUIDGID && c.Config.User != "" {
			owner, err := containerUser(c.Config.User)
			if err != nil {
				return err
			}
			opts.Owner = &owner
		}
		return extractTar(ctx, r, resolved, opts)
	})
	if errors.Is(err, os.ErrNotExist) {
		return fileNotFound(p, ref)
	}
	if err == nil {
		d.publish(c, events.ActionExtractToDir, nil)
	}
	return err
}

// checkWritable applies Docker's rule: a path in a volume or bind mount
// needs it read-write, any other path a writable rootfs.
func (d *Daemon) checkWritable(c *ctr.Container, p string) error {
	var best *mountPoint
	for _, mp := range d.mountsOf(c) {
		if mp.Type == mount.TypeTmpfs {
			continue
		}
		if p == mp.Destination || strings.HasPrefix(p, strings.TrimSuffix(mp.Destination, "/")+"/") {
			if best == nil || len(mp.Destination) > len(best.Destination) {
				m := mp
				best = &m
			}
		}
	}
	switch {
	case best != nil && !best.RW:
		return errVolumeReadonly
	case best == nil && c.HostConfig.ReadonlyRootfs:
		return errRootFSReadOnly
	}
	return nil
}

// containerUser looks the container's user ("name|uid[:group|gid]") up in
// its own /etc/passwd and /etc/group, read inside its root.
func containerUser(spec string) ([2]int, error) {
	u, err := user.GetExecUserPath(spec, nil, "/etc/passwd", "/etc/group")
	if err != nil {
		return [2]int{}, fmt.Errorf("look up the container's user %s: %w", spec, err)
	}
	return [2]int{u.Uid, u.Gid}, nil
}
