// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/moby/moby/api/types/mount"
	"golang.org/x/sys/unix"

	ctr "github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/snapshot"
)

// cpUserPrefix names the volume users that a cp into a stopped container
// registers while it has the container's volumes mounted.
const cpUserPrefix = "cp-"

// onRootedThread runs fn on a fresh OS thread that setup has given its
// own root directory (and perhaps mount namespace), and waits for it.
//
// The thread first leaves the file system attributes it shares with the
// rest of the process (unshare(CLONE_FS)): only then may it chroot or
// join another mount namespace without moving the whole daemon. The
// goroutine stays locked to the thread and ends without unlocking it, so
// the Go runtime kills the thread instead of reusing it; the runtime also
// never clones new threads from a locked one (it uses its template
// thread), so nothing else ever runs with that root. This is the pattern
// of moby's daemon/internal/unshare.
func onRootedThread(setup func() error, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// no UnlockOSThread: the thread dies with the goroutine
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			errc <- fmt.Errorf("unshare the file system attributes: %w", err)
			return
		}
		if err := setup(); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// inRoot runs fn with dir as the root directory: every path fn opens,
// and every symlink met on the way, is resolved inside dir.
func inRoot(dir string, fn func() error) error {
	return onRootedThread(func() error {
		if err := unix.Chroot(dir); err != nil {
			return fmt.Errorf("chroot %s: %w", dir, err)
		}
		return unix.Chdir("/")
	}, fn)
}

// inContainerFS runs fn with the container's filesystem as the root
// directory: its root file system with the volumes and bind mounts it
// mounts, as the container sees them. pid is the container's process
// when it runs, else 0.
//
// A running container's mount namespace is joined: setns(2) of a mount
// namespace also sets the thread's root and working directory to that
// namespace's root, which pivot_root made the container's rootfs. A
// stopped container's filesystem is assembled in a new private mount
// namespace on the thread: its overlay, then its volumes and bind mounts
// at their destinations (resolved inside the rootfs by securejoin's
// pathrs-lite, so a symlink in the image cannot move a mount outside it),
// then chroot. Nothing of this is visible on the host; the mounts go when
// fn returns. The caller holds c.Mu for a stopped container so that it
// does not start meanwhile.
func (d *Daemon) inContainerFS(ctx context.Context, c *ctr.Container, pid int, fn func() error) error {
	if pid > 0 {
		nsPath := fmt.Sprintf("/proc/%d/ns/mnt", pid)
		ns, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open the container's mount namespace: %w", err)
		}
		defer unix.Close(ns)
		// a pid reused by a host process would put the copy on the host
		var mine, theirs unix.Stat_t
		if unix.Stat("/proc/self/ns/mnt", &mine) != nil || unix.Fstat(ns, &theirs) != nil || mine.Ino == theirs.Ino && mine.Dev == theirs.Dev {
			return errors.New("the container's mount namespace is the daemon's")
		}
		return onRootedThread(func() error {
			if err := unix.Setns(ns, unix.CLONE_NEWNS); err != nil {
				return fmt.Errorf("join the container's mount namespace: %w", err)
			}
			return unix.Chdir("/")
		}, fn)
	}

	snapMounts, err := d.layerMounts(ctx, c)
	if err != nil {
		return err
	}
	type bind struct {
		src, dst string
		ro       bool
	}
	var binds []bind
	user := cpUserPrefix + c.ID
	for _, mp := range d.mountsOf(c) {
		switch mp.Type {
		case mount.TypeVolume:
			src, err := d.vols.Mount(mp.Name, user)
			if err != nil {
				return err
			}
			defer d.vols.Unmount(mp.Name, user)
			if mp.Subpath != "" {
				if src, err = pathrsJoin(src, mp.Subpath); err != nil {
					return err
				}
			}
			binds = append(binds, bind{src, mp.Destination, !mp.RW})
		case mount.TypeBind:
			binds = append(binds, bind{mp.Spec.Source, mp.Destination, !mp.RW})
		}
	}
	slices.SortStableFunc(binds, func(a, b bind) int { return len(a.dst) - len(b.dst) })
	// The overlay is mounted here, in the daemon's mount namespace, and
	// made private: snapshot.MountAll may mount from another thread (for
	// long lowerdir lists), which would not be in a namespace of this
	// one's. The thread then gets its own copy with the volumes on it.
	// Left over after a crash, it is unmounted at the next start
	// (cleanCpRoots).
	if err := os.MkdirAll(d.cpRoots(), 0o700); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(d.cpRoots(), "root-")
	if err != nil {
		return err
	}
	// as start does (volatile for an --rm container, where the kernel has
	// it; a crash's volatile marker is removed first)
	if err := snapshot.MountAll(volatile(snapMounts, c.HostConfig.AutoRemove), tmp); err != nil {
		if err := snapshot.MountAll(snapMounts, tmp); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("mount the container's filesystem: %w", err)
		}
	}
	defer func() {
		if err := snapshot.UnmountAll(tmp); err == nil {
			os.Remove(tmp)
		}
	}()
	if err := unix.Mount("", tmp, "", unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make the container's filesystem private: %w", err)
	}
	oldRoot := -1
	err = onRootedThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			return fmt.Errorf("new mount namespace: %w", err)
		}
		// nothing mounted here reaches the host
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			return fmt.Errorf("make the mount namespace private: %w", err)
		}
		for _, b := range binds {
			if err := bindInto(tmp, b.src, b.dst, b.ro); err != nil {
				return err
			}
		}
		var err error
		if oldRoot, err = unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
			return err
		}
		if err := unix.Chroot(tmp); err != nil {
			return fmt.Errorf("chroot: %w", err)
		}
		return unix.Chdir("/")
	}, func() error {
		ferr := fn()
		// Leave the root and detach this namespace's copy of the tree
		// before the thread ends, so that the overlay's superblock goes
		// with the daemon's unmount: a start right after the copy could
		// not mount it while a dying namespace still held it.
		if unix.Fchdir(oldRoot) == nil && unix.Chroot(".") == nil {
			unix.Unmount(tmp, unix.MNT_DETACH)
		}
		unix.Close(oldRoot)
		oldRoot = -1
		return ferr
	})
	if oldRoot >= 0 {
		// setup failed after opening it; the thread is gone with its
		// namespace and the mounts in it
		unix.Close(oldRoot)
	}
	return err
}

func (d *Daemon) cpRoots() string { return filepath.Join(d.cfg.ExecRoot, "cp") }

// cleanCpRoots unmounts and removes what copies into stopped containers
// left when the daemon died under them.
func (d *Daemon) cleanCpRoots() {
	ents, err := os.ReadDir(d.cpRoots())
	if err != nil {
		return
	}
	for _, e := range ents {
		p := filepath.Join(d.cpRoots(), e.Name())
		if err := snapshot.UnmountAll(p); err != nil {
			d.log.Warn("unmount a cp root left behind", "path", p, "err", err)
			continue
		}
		os.Remove(p)
	}
}

// bindInto bind-mounts src at dst inside root, creating the mount point
// (a directory, or an empty file for a file source) if it is missing. The
// mount point is resolved and opened inside root, then mounted through
// its descriptor, so a symlink cannot redirect the mount.
func bindInto(root, src, dst string, ro bool) error {
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	rootDir, err := os.OpenFile(root, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	defer rootDir.Close()
	var target *os.File
	if fi.IsDir() {
		target, err = pathrs.MkdirAllHandle(rootDir, dst, 0o755)
	} else {
		target, err = pathrs.OpenatInRoot(rootDir, dst)
		if errors.Is(err, os.ErrNotExist) {
			var parent *os.File
			if parent, err = pathrs.MkdirAllHandle(rootDir, filepath.Dir(dst), 0o755); err == nil {
				fd, cerr := unix.Openat(int(parent.Fd()), filepath.Base(dst), unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_WRONLY, 0o644)
				if cerr == nil {
					unix.Close(fd)
					target, err = pathrs.OpenatInRoot(rootDir, dst)
				} else {
					err = cerr
				}
				parent.Close()
			}
		}
	}
	if err != nil {
		return fmt.Errorf("mount point %s: %w", dst, err)
	}
	defer target.Close()
	fdPath := fmt.Sprintf("/proc/self/fd/%d", target.Fd())
	if err := unix.Mount(src, fdPath, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("mount %s on %s: %w", src, dst, err)
	}
	if ro {
		// the new mount is on top of the descriptor's: reach it by path,
		// which is now the mount's root, resolved inside root
		top, err := pathrs.OpenatInRoot(rootDir, dst)
		if err != nil {
			return err
		}
		defer top.Close()
		if err := unix.Mount("", fmt.Sprintf("/proc/self/fd/%d", top.Fd()), "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("remount %s read-only: %w", dst, err)
		}
	}
	return nil
}

// pathrsJoin resolves sub inside dir and returns the host path.
func pathrsJoin(dir, sub string) (string, error) {
	f, err := pathrs.OpenInRoot(dir, sub)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return os.Readlink(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
}
