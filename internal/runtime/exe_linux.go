package runtime

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/embedexe"
)

// A container's init is never executed from the berth binary on the host.
// If it were, a process in the container could open /proc/<init>/exe (or
// /proc/self/exe while init still runs) and write to the host's binary
// (CVE-2019-5736). Instead the runtime executes init from one of:
//
//   - the binary seen through a private, read-only overlayfs mount made with
//     the new mount API (fsopen/fsmount) and never attached to any mount
//     namespace: the file is the same page-cache object, so this costs a few
//     syscalls, and no write can pass through a read-only overlay;
//   - where that is impossible, a memfd holding a copy of the binary, sealed
//     against every change (F_SEAL_SEAL|F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_WRITE).
//
// The binary is the small init binary embedded in berth when there is one
// (SetInitBinary), written once to initCacheDir and sealed from there;
// otherwise, or with BERTH_INIT=self in the environment, the running
// binary itself, which then has `berth init`.
//
// The returned file is opened once per process and reused.
var (
	sealedOnce sync.Once
	sealedFile *os.File
	sealedErr  error

	initBinary    []byte
	initBinarySum string
)

// initCacheDir holds the embedded init binary, one directory per build
// (named by its SHA-256), on the host's tmpfs (see internal/embedexe).
const initCacheDir = "/run/berth/init"

// SetInitBinary registers the init binary embedded in berth and its
// SHA-256 (hex). Call it from an init function, before any container is
// created.
func SetInitBinary(data []byte, sum string) {
	initBinary, initBinarySum = data, sum
}

// WriteInitBinary writes the embedded runtime binary to initCacheDir if it
// is not there yet, so that berth's C constructor can execute it for the
// next runtime command (see internal/runtime/nsenter). It does nothing
// without an embedded binary.
func WriteInitBinary() error {
	if initBinary == nil {
		return nil
	}
	_, err := initPath()
	return err
}

func sealedExe() (*os.File, error) {
	sealedOnce.Do(func() {
		exe, err := initPath()
		if err == nil {
			sealedFile, sealedErr = overlayExe(exe)
		}
		if err != nil || sealedErr != nil {
			sealedFile, sealedErr = memfdExe()
		}
	})
	return sealedFile, sealedErr
}

// initPath is the file that becomes init: the embedded init binary,
// written to initCacheDir if it is not there yet, or the running binary.
func initPath() (string, error) {
	if initBinary == nil || os.Getenv("BERTH_INIT") == "self" {
		exe, err := os.Executable()
		if err != nil {
			return "", err
		}
		return filepath.EvalSymlinks(exe)
	}
	return embedexe.Path(initCacheDir, "berth-init", initBinary, initBinarySum)
}

func overlayExe(exe string) (*os.File, error) {
	ctx, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("fsopen overlay: %w", err)
	}
	defer unix.Close(ctx)
	// Two lower layers and no upper layer make a read-only overlay. The
	// second layer is an empty tmpfs that is itself never attached
	// anywhere; it must not overlap the first, so "/" would not do.
	empty, err := detachedTmpfs()
	if err != nil {
		return nil, err
	}
	defer unix.Close(empty)
	for _, dir := range []string{filepath.Dir(exe), "/proc/self/fd/" + strconv.Itoa(empty)} {
		if err := unix.FsconfigSetString(ctx, "lowerdir+", dir); err != nil {
			return nil, fmt.Errorf("fsconfig lowerdir+ %s: %w", dir, err)
		}
	}
	if err := unix.FsconfigCreate(ctx); err != nil {
		return nil, fmt.Errorf("fsconfig create: %w", err)
	}
	mnt, err := unix.Fsmount(ctx, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID)
	if err != nil {
		return nil, fmt.Errorf("fsmount: %w", err)
	}
	defer unix.Close(mnt)
	fd, err := unix.Openat(mnt, filepath.Base(exe), unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), "berth-sealed"), nil
}

func detachedTmpfs() (int, error) {
	ctx, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("fsopen tmpfs: %w", err)
	}
	defer unix.Close(ctx)
	if err := unix.FsconfigCreate(ctx); err != nil {
		return -1, fmt.Errorf("fsconfig create tmpfs: %w", err)
	}
	mnt, err := unix.Fsmount(ctx, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY)
	if err != nil {
		return -1, fmt.Errorf("fsmount tmpfs: %w", err)
	}
	return mnt, nil
}

func memfdExe() (*os.File, error) {
	var src io.Reader = bytes.NewReader(initBinary)
	if initBinary == nil || os.Getenv("BERTH_INIT") == "self" {
		f, err := os.Open("/proc/self/exe")
		if err != nil {
			return nil, err
		}
		defer f.Close()
		src = f
	}
	fd, err := unix.MemfdCreate("berth-sealed", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "berth-sealed")
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return nil, fmt.Errorf("copy binary to memfd: %w", err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, fmt.Errorf("seal memfd: %w", err)
	}
	return f, nil
}
