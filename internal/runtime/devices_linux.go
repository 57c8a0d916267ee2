package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func ptr[T any](v T) *T { return &v }

// The devices every container gets, as the runtime spec's "Default
// Devices" section requires.
var defaultDevices = []specs.LinuxDevice{
	{Path: "/dev/null", Type: "c", Major: 1, Minor: 3, FileMode: ptr(os.FileMode(0o666)), UID: ptr(uint32(0)), GID: ptr(uint32(0))},
	{Path: "/dev/zero", Type: "c", Major: 1, Minor: 5, FileMode: ptr(os.FileMode(0o666)), UID: ptr(uint32(0)), GID: ptr(uint32(0))},
	{Path: "/dev/full", Type: "c", Major: 1, Minor: 7, FileMode: ptr(os.FileMode(0o666)), UID: ptr(uint32(0)), GID: ptr(uint32(0))},
	{Path: "/dev/random", Type: "c", Major: 1, Minor: 8, FileMode: ptr(os.FileMode(0o666)), UID: ptr(uint32(0)), GID: ptr(uint32(0))},
	{Path: "/dev/urandom", Type: "c", Major: 1, Minor: 9, FileMode: ptr(os.FileMode(0o666)), UID: ptr(uint32(0)), GID: ptr(uint32(0))},
	{Path: "/dev/tty", Type: "c", Major: 5, Minor: 0, FileMode: ptr(os.FileMode(0o666)), UID: ptr(uint32(0)), GID: ptr(uint32(0))},
}

var devSymlinks = [][2]string{
	{"/proc/self/fd", "/dev/fd"},
	{"/proc/self/fd/0", "/dev/stdin"},
	{"/proc/self/fd/1", "/dev/stdout"},
	{"/proc/self/fd/2", "/dev/stderr"},
	{"pts/ptmx", "/dev/ptmx"},
}

// createDevices fills the container's /dev with the default devices, the
// spec's devices and the standard symlinks. In a user namespace mknod(2) is
// refused, so the host's device node is bind-mounted instead.
func createDevices(cfg *initConfig) error {
	inUserNS := hasNS(cfg.Spec, specs.UserNamespace)
	devs := append([]specs.LinuxDevice{}, defaultDevices...)
	devs = append(devs, cfg.Spec.Linux.Devices...)
	for _, d := range devs {
		dest, err := securejoin.SecureJoin(cfg.Rootfs, d.Path)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
			return err
		}
		if err := makeDevice(d, dest, inUserNS); err != nil {
			return fmt.Errorf("create device %s: %w", d.Path, err)
		}
	}
	for _, l := range devSymlinks {
		dest, err := securejoin.SecureJoin(cfg.Rootfs, l[1])
		if err != nil {
			return err
		}
		if err := os.Symlink(l[0], dest); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("symlink %s: %w", l[1], err)
		}
	}
	if _, err := os.Stat("/proc/kcore"); err == nil {
		if dest, err := securejoin.SecureJoin(cfg.Rootfs, "/dev/core"); err == nil {
			os.Symlink("/proc/kcore", dest)
		}
	}
	return nil
}

// deviceNode is what mknod(2) makes for d: the file type and the
// permissions (0666 unless the spec says).
func deviceNode(d specs.LinuxDevice) (mode, perm uint32, err error) {
	switch d.Type {
	case "c", "u":
		mode = unix.S_IFCHR
	case "b":
		mode = unix.S_IFBLK
	case "p":
		mode = unix.S_IFIFO
	default:
		return 0, 0, fmt.Errorf("unknown device type %q", d.Type)
	}
	perm = 0o666
	if d.FileMode != nil {
		perm = uint32(d.FileMode.Perm())
	}
	return mode, perm, nil
}

func makeDevice(d specs.LinuxDevice, dest string, inUserNS bool) error {
	if !inUserNS {
		mode, perm, err := deviceNode(d)
		if err != nil {
			return err
		}
		os.Remove(dest)
		if err := unix.Mknod(dest, mode|perm, int(unix.Mkdev(uint32(d.Major), uint32(d.Minor)))); err != nil {
			if !errors.Is(err, unix.EPERM) {
				return err
			}
		} else {
			// mknod is subject to the umask; set the mode exactly.
			if err := unix.Chmod(dest, perm); err != nil {
				return err
			}
			uid, gid := 0, 0
			if d.UID != nil {
				uid = int(*d.UID)
			}
			if d.GID != nil {
				gid = int(*d.GID)
			}
			return unix.Chown(dest, uid, gid)
		}
	}
	if err := createTarget(dest, false); err != nil {
		return err
	}
	return unix.Mount(d.Path, dest, "", unix.MS_BIND, "")
}
