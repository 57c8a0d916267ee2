// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package snapshot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// maxMountData is the longest data string mount(2) accepts: the kernel
// copies it into one page, terminating NUL included.
const maxMountData = 4096 - 1

// maxOverlayLayers is the most lower directories overlayfs stacks
// (OVL_MAX_STACK in fs/overlayfs/params.h).
const maxOverlayLayers = 500

func lowerdirs(data []string) int {
	for _, o := range data {
		if v, ok := strings.CutPrefix(o, "lowerdir="); ok {
			return strings.Count(v, ":") + 1
		}
	}
	return 0
}

// mountFlags are the options that are mount(2) flags rather than file
// system data; clear means the option clears the flag.
var mountFlags = map[string]struct {
	clear bool
	flag  uintptr
}{
	"ro":          {false, unix.MS_RDONLY},
	"rw":          {true, unix.MS_RDONLY},
	"bind":        {false, unix.MS_BIND},
	"rbind":       {false, unix.MS_BIND | unix.MS_REC},
	"nosuid":      {false, unix.MS_NOSUID},
	"suid":        {true, unix.MS_NOSUID},
	"nodev":       {false, unix.MS_NODEV},
	"dev":         {true, unix.MS_NODEV},
	"noexec":      {false, unix.MS_NOEXEC},
	"exec":        {true, unix.MS_NOEXEC},
	"noatime":     {false, unix.MS_NOATIME},
	"relatime":    {false, unix.MS_RELATIME},
	"strictatime": {false, unix.MS_STRICTATIME},
	"nodiratime":  {false, unix.MS_NODIRATIME},
	"sync":        {false, unix.MS_SYNCHRONOUS},
	"dirsync":     {false, unix.MS_DIRSYNC},
}

// args is one mount(2) call: chdir, when set, is the directory the
// relative lowerdir paths in data are relative to.
type args struct {
	chdir, fstype, data string
	flags               uintptr
}

func (m Mount) args() (args, error) {
	a := args{fstype: m.Type}
	var data []string
	for _, o := range m.Options {
		f, ok := mountFlags[o]
		switch {
		case !ok:
			data = append(data, o)
		case f.clear:
			a.flags &^= f.flag
		default:
			a.flags |= f.flag
		}
	}
	if m.Type == "bind" {
		a.flags |= unix.MS_BIND
		a.fstype = ""
	}
	a.data = strings.Join(data, ",")
	if n := lowerdirs(data); m.Type == "overlay" && n > maxOverlayLayers {
		return args{}, fmt.Errorf("mount overlay of %d layers: overlayfs stacks at most %d (too many layers): %w",
			n, maxOverlayLayers, errdefs.ErrInvalidArgument)
	}
	if len(a.data) > maxMountData && m.Type == "overlay" {
		var err error
		a.chdir, a.data, err = compactLowerdir(data)
		if err != nil {
			return args{}, err
		}
	}
	if len(a.data) > maxMountData {
		return args{}, fmt.Errorf("mount %s on %s: options take %d bytes, more than the %d mount(2) accepts (too many layers): %w",
			m.Type, m.Source, len(a.data), maxMountData, errdefs.ErrInvalidArgument)
	}
	return a, nil
}

// compactLowerdir rewrites lowerdir= relative to the directory its paths
// share, as containerd does: "/x/snapshots/12/fs:/x/snapshots/9/fs"
// becomes chdir "/x/snapshots" and "12/fs:9/fs". The kernel resolves them
// against the working directory of the thread that calls mount(2).
func compactLowerdir(data []string) (chdir string, _ string, _ error) {
	i := -1
	var dirs []string
	for j, o := range data {
		if v, ok := strings.CutPrefix(o, "lowerdir="); ok {
			i, dirs = j, strings.Split(v, ":")
		}
	}
	if i < 0 || len(dirs) < 2 {
		return "", strings.Join(data, ","), nil
	}
	common := filepath.Dir(dirs[0])
	for _, d := range dirs[1:] {
		for common != "/" && !strings.HasPrefix(d, common+"/") {
			common = filepath.Dir(common)
		}
	}
	if common == "/" {
		return "", strings.Join(data, ","), nil
	}
	rel := make([]string, len(dirs))
	for j, d := range dirs {
		rel[j] = strings.TrimPrefix(d, common+"/")
	}
	out := append([]string(nil), data...)
	out[i] = "lowerdir=" + strings.Join(rel, ":")
	return common, strings.Join(out, ","), nil
}

// Validate reports whether m can be mounted by Mount: in particular that
// its data fits in the page mount(2) copies, after compactLowerdir. It
// fails with errdefs.ErrInvalidArgument.
func (m Mount) Validate() error {
	_, err := m.args()
	return err
}

// Mount mounts m on target. A bind mount with "ro" (or another flag) is
// made in two steps, since the kernel ignores those flags when it creates
// a bind mount: bind, then remount with the flags. An overlay whose data
// is longer than a page is mounted with relative lowerdir paths, see
// compactLowerdir.
func (m Mount) Mount(target string) error {
	a, err := m.args()
	if err != nil {
		return err
	}
	if err := mountAt(a.chdir, m.Source, target, a.fstype, a.flags, a.data); err != nil {
		return fmt.Errorf("mount %s %s on %s: %w", m.Type, m.Source, target, err)
	}
	const remountable = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	if a.flags&unix.MS_BIND != 0 && a.flags&remountable != 0 {
		flags := unix.MS_REMOUNT | unix.MS_BIND | a.flags&^(unix.MS_REC|unix.MS_BIND)
		if err := unix.Mount("", target, "", flags, ""); err != nil {
			unix.Unmount(target, unix.MNT_DETACH)
			return fmt.Errorf("remount %s with %s: %w", target, strings.Join(m.Options, ","), err)
		}
	}
	return nil
}

// mountAt calls mount(2) from the directory chdir when it is set. The
// working directory is shared by all threads of a process, so the call
// runs on a locked thread that first unshares its file system attributes
// (CLONE_FS) and is never unlocked: it cannot be given back to other
// goroutines with a different working directory, and the Go runtime ends
// the thread when the goroutine returns.
func mountAt(chdir, source, target, fstype string, flags uintptr, data string) error {
	if chdir == "" {
		return unix.Mount(source, target, fstype, flags, data)
	}
	if !filepath.IsAbs(target) {
		return fmt.Errorf("mount target %s is not absolute: %w", target, errdefs.ErrInvalidArgument)
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			errc <- fmt.Errorf("unshare(CLONE_FS): %w", err)
			return
		}
		if err := unix.Chdir(chdir); err != nil {
			errc <- fmt.Errorf("chdir %s: %w", chdir, err)
			return
		}
		errc <- unix.Mount(source, target, fstype, flags, data)
	}()
	return <-errc
}

// MountAll mounts mounts on target, in order; on failure it unmounts what
// it mounted.
func MountAll(mounts []Mount, target string) error {
	for i, m := range mounts {
		if err := m.Mount(target); err != nil {
			for range i {
				unix.Unmount(target, unix.MNT_DETACH)
			}
			return err
		}
	}
	return nil
}

// UnmountAll unmounts everything mounted on target, most recent first,
// until target is not a mount point (or does not exist). A mount that
// stays busy for about a second is detached (MNT_DETACH): the kernel
// removes it once its last user is gone.
func UnmountAll(target string) error {
	busy := 0
	for {
		err := unix.Unmount(target, 0)
		switch {
		case err == nil:
			busy = 0
		case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
			return nil
		case errors.Is(err, unix.EBUSY) && busy < 50:
			busy++
			time.Sleep(20 * time.Millisecond)
		case errors.Is(err, unix.EBUSY):
			if err := unix.Unmount(target, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
				return fmt.Errorf("unmount %s: %w", target, err)
			}
			busy = 0
		default:
			return fmt.Errorf("unmount %s: %w", target, err)
		}
	}
}

// WithTempMount mounts mounts on a new temporary directory, makes the
// mount private (so nothing mounted below it propagates to other mount
// namespaces, nor theirs to it), calls fn with the directory and unmounts
// it again, whatever fn returns. The directory is removed only once it is
// unmounted, so a failed unmount never leads to deleting a snapshot's
// files. The image store unpacks layers this way.
func WithTempMount(ctx context.Context, mounts []Mount, fn func(root string) error) (retErr error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "berth-mount-")
	if err != nil {
		return fmt.Errorf("temp mount: %w", err)
	}
	defer func() {
		if err := UnmountAll(dir); err != nil {
			retErr = errors.Join(retErr, err)
			return
		}
		if err := os.Remove(dir); err != nil {
			retErr = errors.Join(retErr, fmt.Errorf("temp mount: %w", err))
		}
	}()
	if err := MountAll(mounts, dir); err != nil {
		return fmt.Errorf("temp mount: %w", err)
	}
	if err := unix.Mount("", dir, "", unix.MS_PRIVATE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("temp mount: make %s private: %w", dir, err)
	}
	return fn(dir)
}
