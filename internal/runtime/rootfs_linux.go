package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// prepareRootfs runs in the container's new mount namespace, before
// pivot_root: it stops mount events from reaching the host, makes the root
// filesystem a mount point of its own and mounts the spec's mounts and
// devices inside it.
//
// A mount's destination is opened inside the rootfs (pathrs-lite: no
// symlink or ".." leads out of it) and the mount goes onto that
// descriptor, through /proc/thread-self/fd/N, never onto a path walked
// again: a volume can be shared with a container that already runs and
// swaps a directory for a symlink between the two (runc's CVE-2021-30465).
func prepareRootfs(cfg *initConfig) error {
	s := cfg.Spec
	if !hasNewNS(s, specs.MountNamespace) {
		return errors.New("a new mount namespace is required")
	}
	if err := unix.Mount("", "/", "", firstPropagation(s), ""); err != nil {
		return fmt.Errorf("make / %s: %w", s.Linux.RootfsPropagation, err)
	}
	rootfs := cfg.Rootfs
	// pivot_root(2) refuses a new root whose parent mount is shared (as
	// it is with rootfsPropagation shared or rshared), and a bind made
	// there would propagate: make the mount the rootfs is on private.
	if err := parentMountPrivate(rootfs); err != nil {
		return err
	}
	// pivot_root(2) needs the new root to be a mount point.
	if err := unix.Mount(rootfs, rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind rootfs: %w", err)
	}
	root, err := os.OpenFile(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open rootfs: %w", err)
	}
	defer root.Close()
	bindDev := false
	for _, m := range s.Mounts {
		if err := mountEntry(cfg, root, m); err != nil {
			return err
		}
		bindDev = bindDev || isDevBind(m)
	}
	if !bindDev {
		if err := createDevices(cfg); err != nil {
			return err
		}
	}
	return nil
}

// firstPropagation is what "/" is made before anything is mounted: the
// spec's rootfsPropagation, or rslave as runc does (host mounts still
// appear inside, but nothing done here propagates back out).
func firstPropagation(s *specs.Spec) uintptr {
	if p, ok := propagationFlags[s.Linux.RootfsPropagation]; ok {
		return p
	}
	return unix.MS_SLAVE | unix.MS_REC
}

// isDevBind reports whether m binds a /dev of its own, which then holds
// the devices instead of the default ones the runtime makes.
func isDevBind(m specs.Mount) bool {
	return filepath.Clean(m.Destination) == "/dev" && (m.Type == "bind" || hasOption(m.Options, "bind") || hasOption(m.Options, "rbind"))
}

// bindRemount is the remount a bind mount with flags needs afterwards
// for its other flags (read-only, nosuid …), or 0: bind(2) ignores them.
func bindRemount(flags uintptr) uintptr {
	if rest := flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT); rest != 0 {
		return rest | unix.MS_BIND
	}
	return 0
}

// parentMountPrivate makes the mount that path is on private, looking
// up from path for the nearest mount point (mount(2) says EINVAL for a
// directory that is not one).
func parentMountPrivate(path string) error {
	for {
		err := unix.Mount("", path, "", unix.MS_PRIVATE, "")
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EINVAL) || path == "/" {
			return fmt.Errorf("make the mount of %s private: %w", path, err)
		}
		path = filepath.Dir(path)
	}
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
func mountEntry(cfg *initConfig, root *os.File, m specs.Mount) error {
	flags, propagation, data := parseMountOptions(m.Options)
	if m.Type == "bind" {
		flags |= unix.MS_BIND
	}
	fail := func(err error) error {
		return fmt.Errorf("mount %s (%s) on %s: %w", m.Source, m.Type, m.Destination, err)
	}
	attr, recursive, err := recursiveMountAttr(m.Options)
	if err != nil {
		return fail(err)
	}
	// What changes the new mount once it is there: a bind's other flags
	// (a remount), recursive attributes, propagation.
	var remountFlags uintptr
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
		target, err := mountPoint(root, m.Destination, fi.IsDir())
		if err != nil {
			return fail(err)
		}
		if err := checkResolvedProcMount(target, m.Destination); err != nil {
			target.Close()
			return err
		}
		err = unix.Mount(src, fdPath(target), "", flags&(unix.MS_BIND|unix.MS_REC), "")
		target.Close()
		if err != nil {
			return fail(err)
		}
		remountFlags = bindRemount(flags)
	case m.Type == "cgroup" || m.Type == "cgroup2":
		// on the tmpfs or sysfs init just mounted: nothing else there
		dest, err := securejoin.SecureJoin(cfg.Rootfs, m.Destination)
		if err != nil {
			return fail(err)
		}
		if err := mountCgroup(cfg, dest, flags); err != nil {
			return fail(err)
		}
	default:
		target, err := pathrs.MkdirAllHandle(root, m.Destination, 0o755)
		if err != nil {
			return fail(err)
		}
		if err := checkResolvedProcMount(target, m.Destination); err != nil {
			target.Close()
			return err
		}
		err = unix.Mount(m.Source, fdPath(target), m.Type, flags, data)
		if err != nil && m.Type == "sysfs" && errors.Is(err, unix.EPERM) && !hasNewNS(cfg.Spec, specs.NetworkNamespace) {
			// sysfs can only be mounted in a network namespace one owns;
			// without a new one, show the host's read-only as runc does,
			// down to its submounts (/sys/fs/cgroup and others).
			err = unix.Mount("/sys", fdPath(target), "", unix.MS_BIND|unix.MS_REC, "")
			attr.Attr_set |= unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC
			recursive = true
		}
		target.Close()
		if err != nil {
			return fail(err)
		}
	}
	if remountFlags == 0 && !recursive && len(propagation) == 0 {
		return nil
	}
	// The new mount, reopened inside the root: the descriptor of the
	// mount point names the mount underneath.
	mnt, err := pathrs.OpenatInRoot(root, m.Destination)
	if err != nil {
		return fail(err)
	}
	defer mnt.Close()
	if remountFlags != 0 {
		if err := remount(fdPath(mnt), remountFlags); err != nil {
			return fail(err)
		}
	}
	if recursive {
		if err := unix.MountSetattr(int(mnt.Fd()), "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
			return fail(fmt.Errorf("mount_setattr: %w", err))
		}
	}
	for _, p := range propagation {
		if err := unix.Mount("", fdPath(mnt), "", p, ""); err != nil {
			return fail(err)
		}
	}
	return nil
}

// fdPath names an open file through /proc/thread-self/fd, for mount(2).
// Before pivot_root, /proc is still the host's procfs, where the init
// process is visible.
func fdPath(f *os.File) string {
	return "/proc/thread-self/fd/" + strconv.Itoa(int(f.Fd()))
}

// mountPoint makes and opens the mount point dest inside root: a
// directory, or an empty file for a file bind mount. What the image has
// there already is opened with O_PATH, never for reading: a FIFO would
// block create, and a device node's open has its driver's effects. (A
// directory there makes the mount of a file fail, saying so; a symlink
// fails with ELOOP.)
func mountPoint(root *os.File, dest string, dir bool) (*os.File, error) {
	if dir {
		return pathrs.MkdirAllHandle(root, dest, 0o755)
	}
	parent, err := pathrs.MkdirAllHandle(root, filepath.Dir(dest), 0o755)
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	name := filepath.Base(dest)
	for range 2 {
		fd, err := unix.Openat(int(parent.Fd()), name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err == nil {
			var st unix.Stat_t
			if err := unix.Fstat(fd, &st); err != nil {
				unix.Close(fd)
				return nil, err
			}
			if st.Mode&unix.S_IFMT == unix.S_IFLNK {
				unix.Close(fd)
				return nil, unix.ELOOP
			}
			return os.NewFile(uintptr(fd), dest), nil
		}
		if !errors.Is(err, unix.ENOENT) {
			return nil, err
		}
		fd, err = unix.Openat(int(parent.Fd()), name, unix.O_CREAT|unix.O_EXCL|unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
		if err == nil {
			unix.Close(fd) // made: reopened above, as what is there now
		} else if !errors.Is(err, unix.EEXIST) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("make %s: it keeps changing", dest)
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
// the unmount does not propagate to the host. With --no-pivot (for a host
// whose root is not a mount point, such as an initramfs, where pivot_root
// fails with EINVAL) the rootfs is moved onto "/" and chroot'ed into,
// which is weaker: the old root stays reachable to a process that can
// escape a chroot. As with runc, that is never chosen silently.
func enterRootfs(cfg *initConfig) error {
	err := pivotRoot(cfg)
	if errors.Is(err, unix.EINVAL) && !cfg.NoPivot {
		return fmt.Errorf("%w (where the host's root is not a mount point, as on an initramfs, --no-pivot runs the container with chroot)", err)
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
	oldRoot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(oldRoot)
	newRoot, err := unix.Open(cfg.Rootfs, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(newRoot)
	if err := unix.Fchdir(newRoot); err != nil {
		return err
	}
	// After pivot_root the old root is stacked on the new one at "/".
	// The working directory, though, is still the new root's own:
	// mount(2) on "." would change the new root's tree (every bind in it
	// would become a slave, and rshared ones would stop propagating),
	// while umount2(2) on "." takes the mount on top. Work on the old
	// root through its own descriptor.
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Fchdir(oldRoot); err != nil {
		return fmt.Errorf("enter the old root: %w", err)
	}
	// A slave before it goes, as runc makes it: with the root shared,
	// the old root's mounts are peers of the host's, and its unmount
	// must not propagate to them.
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
//
// Everything here works on descriptors, with the new mount API: a path is
// opened without following any symlink (RESOLVE_NO_SYMLINKS), and mounts
// go onto that descriptor, so nothing the container's files say can move
// a mount somewhere else. Files are masked with a bind of /dev/null only
// once /dev/null is known to be the null device: a /dev from a volume
// could make it a symlink to, say, /proc/sys/kernel/core_pattern, and the
// "mask" a writable window onto it (CVE-2025-31133 in runc).
func finishRootfs(cfg *initConfig) error {
	s := cfg.Spec
	devNull := -1
	defer func() {
		if devNull >= 0 {
			unix.Close(devNull)
		}
	}()
	for _, p := range s.Linux.MaskedPaths {
		if devNull < 0 {
			var err error
			if devNull, err = openDevNull(); err != nil {
				return fmt.Errorf("mask %s: %w", p, err)
			}
		}
		if err := maskPath(p, devNull); err != nil {
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
	// The root's own propagation, now that it is "/" (set before pivot it
	// would have been the host copy's).
	if p, ok := propagationFlags[s.Linux.RootfsPropagation]; ok {
		if err := unix.Mount("", "/", "", p, ""); err != nil {
			return fmt.Errorf("make / %s: %w", s.Linux.RootfsPropagation, err)
		}
	}
	return nil
}

// openNoFollow opens p for use as a mount point (O_PATH), refusing any
// symlink on the way.
func openNoFollow(p string) (int, error) {
	return unix.Openat2(unix.AT_FDCWD, p, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
}

// openDevNull opens the container's /dev/null, which must be the null
// character device (1:3).
func openDevNull() (int, error) {
	fd, err := openNoFollow("/dev/null")
	if err != nil {
		return -1, fmt.Errorf("open /dev/null: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("stat /dev/null: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		unix.Close(fd)
		return -1, errors.New("/dev/null is not the null device")
	}
	return fd, nil
}

// attach puts the detached mount tree on the mount point target (a
// descriptor) and closes it.
func attach(tree, target int) error {
	defer unix.Close(tree)
	return unix.MoveMount(tree, "", target, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
}

// maskPath hides a path: a directory under an empty read-only tmpfs, a
// file under a bind of /dev/null (devNull).
func maskPath(p string, devNull int) error {
	target, err := openNoFollow(p)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mask %s: %w", p, err)
	}
	defer unix.Close(target)
	var st unix.Stat_t
	if err := unix.Fstat(target, &st); err != nil {
		return fmt.Errorf("mask %s: %w", p, err)
	}
	var tree int
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		tree, err = emptyTmpfs()
	} else {
		tree, err = unix.OpenTree(devNull, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH)
	}
	if err == nil {
		err = attach(tree, target)
	}
	if err != nil {
		return fmt.Errorf("mask %s: %w", p, err)
	}
	return nil
}

// emptyTmpfs makes a detached, empty, read-only tmpfs.
func emptyTmpfs() (int, error) {
	ctx, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, err
	}
	defer unix.Close(ctx)
	if err := unix.FsconfigSetString(ctx, "size", "0k"); err != nil {
		return -1, err
	}
	if err := unix.FsconfigCreate(ctx); err != nil {
		return -1, err
	}
	return unix.Fsmount(ctx, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY)
}

// readonlyPath makes p and every mount under it read-only: a recursive
// copy of its mounts, made read-only as a whole (mount_setattr with
// AT_RECURSIVE; a remount would only change the top one), replaces it.
func readonlyPath(p string) error {
	target, err := openNoFollow(p)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("bind %s read-only: %w", p, err)
	}
	defer unix.Close(target)
	tree, err := unix.OpenTree(target, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH|unix.AT_RECURSIVE)
	if err != nil {
		return fmt.Errorf("bind %s read-only: %w", p, err)
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
	if err := unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
		unix.Close(tree)
		return fmt.Errorf("remount %s read-only: %w", p, err)
	}
	if err := attach(tree, target); err != nil {
		return fmt.Errorf("bind %s read-only: %w", p, err)
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

// isProcfs reports whether path is on a proc file system.
func isProcfs(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.PROC_SUPER_MAGIC
}

// checkResolvedProcMount refuses a mount whose destination, written
// outside /proc (ValidateSpec checked that), led into the container's
// /proc through a symlink of the image's.
func checkResolvedProcMount(target *os.File, dest string) error {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(target.Fd()), &st); err != nil {
		return fmt.Errorf("mount on %s: %w", dest, err)
	}
	if st.Type == unix.PROC_SUPER_MAGIC && !procMountAllowed(dest) {
		return fmt.Errorf("%q cannot be mounted because it is inside /proc", dest)
	}
	return nil
}
