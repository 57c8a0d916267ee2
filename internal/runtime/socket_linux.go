package runtime

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// Unix socket paths are limited to 108 bytes, and a state directory under a
// long --root with a 64-character container ID can exceed that. The sockets
// are therefore reached through /proc/self/fd/<dirfd>/<name>, which is
// always short.
func shortPath(dir string, fn func(path string) error) error {
	d, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer unix.Close(d)
	return fn("/proc/self/fd/" + strconv.Itoa(d))
}

// listenStart creates the container's start socket.
func listenStart(dir string) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	err = shortPath(dir, func(p string) error {
		return unix.Bind(fd, &unix.SockaddrUnix{Name: filepath.Join(p, startSocketName)})
	})
	if err == nil {
		err = unix.Listen(fd, 1)
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("start socket: %w", err)
	}
	return os.NewFile(uintptr(fd), "start-listener"), nil
}

// dialStart connects to a created container's start socket.
func dialStart(dir string) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	err = shortPath(dir, func(p string) error {
		return unix.Connect(fd, &unix.SockaddrUnix{Name: filepath.Join(p, startSocketName)})
	})
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), "start"), nil
}

// passConsole hands a pty master to whoever asked for it: a callback, or
// the console socket of the runc protocol (one message whose payload is the
// file's name and whose SCM_RIGHTS carry the fd).
func passConsole(master *os.File, socketPath string, fn func(*os.File) error) error {
	if fn != nil {
		return fn(master)
	}
	defer master.Close()
	conn, err := net.Dial("unix", socketPath)
	if err != nil {
		return fmt.Errorf("connect to console socket: %w", err)
	}
	defer conn.Close()
	uc := conn.(*net.UnixConn)
	name := master.Name()
	if _, _, err := uc.WriteMsgUnix([]byte(name), unix.UnixRights(int(master.Fd())), nil); err != nil {
		return fmt.Errorf("send pty to console socket: %w", err)
	}
	return nil
}
