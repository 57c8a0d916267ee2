package runtime

import (
	"fmt"
	"os"

	"github.com/containerd/console"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// setupTerminal gives the process a pseudo-terminal when the spec asks for
// one. The pty is opened inside the container (after pivot_root, from the
// container's own devpts), so it belongs to the container. The master goes
// back to the runtime, which passes it on through the console socket; the
// slave becomes the process's controlling terminal and stdio, and for the
// container's first process also /dev/console.
//
// Without a terminal the process still gets a session (and process group)
// of its own, as runc gives it. Otherwise it would share the runtime's,
// which is the monitor's for every container: kill(0, sig) or a
// process-group signal in one container would reach the others.
func setupTerminal(sock syncSocket, p *specs.Process, devConsole bool) error {
	if !p.Terminal {
		if _, err := unix.Setsid(); err != nil {
			return fmt.Errorf("setsid: %w", err)
		}
		return nil
	}
	master, slavePath, err := console.NewPty()
	if err != nil {
		return fmt.Errorf("open pty: %w", err)
	}
	defer master.Close()
	if p.ConsoleSize != nil {
		master.Resize(console.WinSize{Height: uint16(p.ConsoleSize.Height), Width: uint16(p.ConsoleSize.Width)})
	}
	slave, err := os.OpenFile(slavePath, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return fmt.Errorf("open pty slave: %w", err)
	}
	defer slave.Close()
	if devConsole {
		if err := createTarget("/dev/console", false); err != nil {
			return fmt.Errorf("create /dev/console: %w", err)
		}
		if err := unix.Mount(slavePath, "/dev/console", "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind /dev/console: %w", err)
		}
	}
	if err := sock.send(message{Type: msgPty}, int(master.Fd())); err != nil {
		return fmt.Errorf("send pty: %w", err)
	}
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("setsid: %w", err)
	}
	if err := unix.IoctlSetInt(int(slave.Fd()), unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("set controlling terminal: %w", err)
	}
	for fd := 0; fd <= 2; fd++ {
		if err := unix.Dup2(int(slave.Fd()), fd); err != nil {
			return fmt.Errorf("dup2 pty to %d: %w", fd, err)
		}
	}
	return nil
}
