package runtimecmd

import (
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/containerd/console"
	"golang.org/x/sys/unix"
)

// terminal relays the caller's stdio to a container's pty when no console
// socket was given (`run` or `exec` in the foreground with terminal: true).
type terminal struct {
	master  console.Console
	current console.Console
	done    chan struct{}
}

func (t *terminal) attach(master *os.File) error {
	m, err := console.ConsoleFromFile(master)
	if err != nil {
		return err
	}
	t.master = m
	t.done = make(chan struct{})
	// The caller's terminal already turns "\n" into "\r\n" (SetRaw keeps
	// OPOST); the container's pty must not do it a second time.
	if err := console.ClearONLCR(master.Fd()); err != nil {
		return err
	}
	if c, err := console.ConsoleFromFile(os.Stdin); err == nil {
		t.current = c
		if err := c.SetRaw(); err == nil {
			t.resize()
			winch := make(chan os.Signal, 1)
			signal.Notify(winch, unix.SIGWINCH)
			go func() {
				for range winch {
					t.resize()
				}
			}()
		}
	}
	go io.Copy(m, os.Stdin)
	go func() {
		io.Copy(os.Stdout, m)
		close(t.done)
	}()
	return nil
}

func (t *terminal) resize() {
	if t.current == nil {
		return
	}
	if size, err := t.current.Size(); err == nil {
		t.master.Resize(size)
	}
}

// drain waits briefly for the last output and restores the caller's
// terminal.
func (t *terminal) drain() {
	if t.master == nil {
		return
	}
	select {
	case <-t.done:
	case <-time.After(200 * time.Millisecond):
	}
	if t.current != nil {
		t.current.Reset()
	}
}
