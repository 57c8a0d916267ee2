package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// prepareRootfs runs in the container's new mount namespace, before
// pivot_root: it stops mount events from reaching the host, makes the root
// filesystem a mount point of its own and mounts the spec's mounts and
// devices inside it. Every destination is resolved with securejoin, so a
// symlink in the image cannot point a mount outside the rootfs. Nothing in
// the container runs yet, so the paths cannot change under us.
func prepareRootfs(cfg *initConfig) error {
	s := cfg.Spec
	if !hasNewNS(s, specs.MountNamespace) {
		return errors.New("a new mount namespace is required")
	}
	// Default to rslave as runc does: host mounts still appear inside, but
	// nothing done here propagates back out.
	prop := uintptr(unix.MS_SLAVE | unix.MS_REC)
	if p, ok := propagationFlags[s.Linux.RootfsPropagation]; ok {
		prop = p
	}
	if err := unix.Mount("", "/", "", prop, ""); err != nil {
		return fmt.Errorf("make / %s: %w", s.Linux.RootfsPropagation, err)
	}
	rootfs := cfg.Rootfs
	// pivot_root(2) needs the new root to be a mount point.
	if err := unix.Mount(rootfs, rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind rootfs: %w", err)
	}
	bindDev := false
	for _, m := range s.Mounts {
		if err := mountEntry(cfg, m); err != nil {
			return err
		}
		if filepath.Clean(m.Destination) == "/dev" && (m.Type == "bind" || hasOption(m.Options, "bind") || hasOption(m.Options, "rbind")) {
			bindDev = true
		}
	}
	if !bindDev {
		if err := createDevices(cfg); err != nil {
			return err
		}
	}
	return nil
}

func hasOption(options []string, o string) bool {
	for _, x := range options {
		if x == o {
			return true
		}
	}
	return false
}

// mountEntry mounts one entry of the spec's mounts.
func mountEntry(cfg *initConfig, m specs.Mount) error {
	dest, err := securejoin.SecureJoin(cfg.Rootfs, m.Destination)
	if err != nil {
		return fmt.Errorf("mount %s: %w", m.Destination, err)
	}
	flags, propagation, data := parseMountOptions(m.Options)
	if m.Type == "bind" {
		flags |= unix.MS_BIND
	}
	fail := func(err error) error {
		return fmt.Errorf("mount %s (%s) on %s: %w", m.Source, m.Type, m.Destination, err)
	}
	switch {
	case flags&unix.MS_BIND != 0:
		src := m.Source
		if !filepath.IsAbs(src) {
			src = filepath.Join(cfg.Bundle, src)
		}
		fi, err := os.Stat(src)
		if err != nil {
			return fail(err)
		}
		if err := createTarget(dest, fi.IsDir()); err != nil {
			return fail(err)
		}
		if err := unix.Mount(src, dest, "", flags&(unix.MS_BIND|unix.MS_REC), ""); err != nil {
			return fail(err)
		}
		if rest := flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT); rest != 0 {
			if err := remount(dest, rest|unix.MS_BIND); err != nil {
				return fail(err)
			}
		}
	case m.Type == "cgroup" || m.Type == "cgroup2":
		if err := mountCgroup(cfg, dest, flags); err != nil {
			return fail(err)
		}
	default:
		if err := os.MkdirAll(dest, 0o755); err != nil {
			return fail(err)
		}
		err := unix.Mount(m.Source, dest, m.Type, flags, data)
		if err != nil && m.Type == "sysfs" && errors.Is(err, unix.EPERM) && !hasNewNS(cfg.Spec, specs.NetworkNamespace) {
			// sysfs can only be mounted in a network namespace one owns;
			// without a new one, show the host's read-only as runc does.
			err = unix.Mount("/sys", dest, "", unix.MS_BIND|unix.MS_REC, "")
			if err == nil {
				err = remount(dest, unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC)
			}
		}
		if err != nil {
			return fail(err)
		}
	}
	for _, p := range propagation {
		if err := unix.Mount("", dest, "", p, ""); err != nil {
			return fail(err)
		}
	}
	return nil
}

// createTarget makes the mount point: a directory, or an empty file for a
// file bind mount.
func createTarget(dest string, dir bool) error {
	if dir {
		return os.MkdirAll(dest, 0o755)
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(dest, os.O_CREATE|os.O_RDONLY|unix.O_NOFOLLOW, 0o644)
	if err != nil {
		if errors.Is(err, unix.EISDIR) {
			return nil
		}
		return err
	}
	return f.Close()
}

// remount changes the flags of an existing mount. Flags that the kernel
// locked (a mount inherited from a more privileged user namespace keeps
// nosuid, nodev, noexec and the atime flags) must be kept or the remount
// fails with EPERM, so they are read back and carried over.
func remount(dest string, flags uintptr) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dest, &st); err == nil {
		locked := uintptr(st.Flags) & (unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME)
		flags |= locked
	}
	return unix.Mount("", dest, "", flags|unix.MS_REMOUNT, "")
}

// enterRootfs makes the rootfs the process's root directory.
//
// pivot_root(".", ".") stacks the old root on top of the new one at "/";
// unmounting "." then removes the old root without needing a directory for
// it (see the NOTES of pivot_root(2)). The old root is made rslave first so
// the unmount does not propagate to the host. Where pivot_root is
// impossible (--no-pivot, e.g. a rootfs on ramfs), the rootfs is moved onto
// "/" and chroot'ed into, which is weaker: the old root stays reachable to
// a process that can escape a chroot. It is also the fallback when
// pivot_root fails with EINVAL.
func enterRootfs(cfg *initConfig) error {
	err := pivotRoot(cfg)
	if errors.Is(err, unix.EINVAL) && !cfg.NoPivot {
		// pivot_root refuses when the current root is not a mount point,
		// as on an initramfs (rootfs) host: fall back to chroot.
		cfg.NoPivot = true
		err = pivotRoot(cfg)
	}
	return err
}

func pivotRoot(cfg *initConfig) error {
	if cfg.NoPivot {
		if err := unix.Chdir(cfg.Rootfs); err != nil {
			return err
		}
		if err := unix.Mount(cfg.Rootfs, "/", "", unix.MS_MOVE, ""); err != nil {
			return fmt.Errorf("move rootfs to /: %w", err)
		}
		if err := unix.Chroot("."); err != nil {
			return fmt.Errorf("chroot: %w", err)
		}
		return unix.Chdir("/")
	}
	newRoot, err := unix.Open(cfg.Rootfs, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(newRoot)
	if err := unix.Fchdir(newRoot); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make old root rslave: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("unmount old root: %w", err)
	}
	return unix.Chdir("/")
}

// finishRootfs runs inside the new root: masked and read-only paths, the
// read-only root, and the root's final propagation.
func finishRootfs(cfg *initConfig) error {
	s := cfg.Spec
	for _, p := range s.Linux.MaskedPaths {
		if err := maskPath(p); err != nil {
			return err
		}
	}
	for _, p := range s.Linux.ReadonlyPaths {
		if err := readonlyPath(p); err != nil {
			return err
		}
	}
	if s.Root.Readonly {
		if err := remount("/", unix.MS_BIND|unix.MS_RDONLY); err != nil {
			return fmt.Errorf("make rootfs read-only: %w", err)
		}
	}
	return nil
}

// maskPath hides a path: a directory under an empty read-only tmpfs, a
// file under /dev/null.
func maskPath(p string) error {
	fi, err := os.Lstat(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mask %s: %w", p, err)
	}
	if fi.IsDir() {
		err = unix.Mount("tmpfs", p, "tmpfs", unix.MS_RDONLY, "size=0k")
	} else {
		err = unix.Mount("/dev/null", p, "", unix.MS_BIND, "")
	}
	if err != nil {
		return fmt.Errorf("mask %s: %w", p, err)
	}
	return nil
}

func isDir(p string) bool {
	fi, err := os.Lstat(p)
	return err == nil && fi.IsDir()
}

func readonlyPath(p string) error {
	if err := unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("bind %s read-only: %w", p, err)
	}
	if err := remount(p, unix.MS_BIND|unix.MS_RDONLY); err != nil {
		return fmt.Errorf("remount %s read-only: %w", p, err)
	}
	return nil
}

func writeSysctl(key, value string) error {
	path := filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
	if strings.Contains(key, "..") || strings.Contains(key, "/") {
		return fmt.Errorf("invalid sysctl %q", key)
	}
	if err := os.WriteFile(path, []byte(value), 0); err != nil {
		return fmt.Errorf("sysctl %s=%s: %w", key, value, err)
	}
	return nil
}
