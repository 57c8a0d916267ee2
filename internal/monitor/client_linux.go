// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package monitor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/berth-project/berth/internal/runtime"
	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// ErrClosed is returned by requests on a client whose connection ended.
var ErrClosed = errors.New("monitor connection closed")

// Client is a connection to the monitor. Its methods may be called
// concurrently.
type Client struct {
	dir  string
	conn *net.UnixConn

	mu      sync.Mutex
	seq     uint64
	pending map[uint64]chan reply
	err     error // why the connection ended
	queue   []Exit
	wake    chan struct{}
	exits   chan Exit
	closed  chan struct{}
	once    sync.Once
}

// Connect connects to the monitor serving dir. If none does, it starts
// one (`exe monitor --dir dir --detach`), which keeps running after the
// caller exits, and connects to it.
func Connect(ctx context.Context, dir, exe string) (*Client, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		conn, err := dial(dir)
		if err == nil {
			return newClient(dir, conn), nil
		}
		if attempt == 3 || !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ECONNREFUSED) {
			return nil, fmt.Errorf("connect to monitor: %w", err)
		}
		out, err := exec.CommandContext(ctx, exe, "monitor", "--dir", dir, "--detach").CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("start monitor: %w: %s", err, out)
		}
	}
}

func newClient(dir string, conn *net.UnixConn) *Client {
	c := &Client{
		dir:     dir,
		conn:    conn,
		pending: map[uint64]chan reply{},
		wake:    make(chan struct{}, 1),
		exits:   make(chan Exit),
		closed:  make(chan struct{}),
	}
	go c.read()
	go c.deliver()
	return c
}

// Close ends the connection. The monitor and its processes go on.
func (c *Client) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.conn.Close()
}

// read dispatches replies and queues events until the connection ends.
func (c *Client) read() {
	buf := make([]byte, maxMsg)
	var err error
	for {
		var n int
		n, err = c.conn.Read(buf)
		if err != nil || n == 0 {
			break
		}
		switch buf[0] {
		case msgReply:
			var r reply
			if json.Unmarshal(buf[1:n], &r) != nil {
				continue
			}
			c.mu.Lock()
			ch := c.pending[r.Seq]
			delete(c.pending, r.Seq)
			c.mu.Unlock()
			if ch != nil {
				ch <- r
			}
		case msgEvent:
			var e Exit
			if json.Unmarshal(buf[1:n], &e) != nil {
				continue
			}
			c.mu.Lock()
			c.queue = append(c.queue, e)
			c.mu.Unlock()
			select {
			case c.wake <- struct{}{}:
			default:
			}
		}
	}
	if err == nil {
		err = ErrClosed
	}
	c.mu.Lock()
	c.err = fmt.Errorf("%w: %v", ErrClosed, err)
	for seq, ch := range c.pending {
		close(ch)
		delete(c.pending, seq)
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// deliver passes queued events to Exits, so that a slow reader of Exits
// never stalls replies.
func (c *Client) deliver() {
	defer close(c.exits)
	for {
		c.mu.Lock()
		var e Exit
		ok := len(c.queue) > 0
		if ok {
			e = c.queue[0]
			c.queue = c.queue[1:]
		}
		ended := c.err != nil
		c.mu.Unlock()
		if !ok {
			if ended {
				return
			}
			select {
			case <-c.wake:
			case <-c.closed:
				return
			}
			continue
		}
		select {
		case c.exits <- e:
		case <-c.closed:
			return
		}
	}
}

// Exits delivers every exit the monitor completes while connected. It is
// closed when the connection ends; after reconnecting, List tells what
// happened meanwhile.
func (c *Client) Exits() <-chan Exit { return c.exits }

func (c *Client) call(req request, fds ...int) (reply, error) {
	ch := make(chan reply, 1)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return reply{}, err
	}
	c.seq++
	req.Seq = c.seq
	c.pending[req.Seq] = ch
	c.mu.Unlock()
	data, err := json.Marshal(req)
	if err == nil && len(data)+1 > maxMsg {
		err = errorf(errdefs.ErrInvalidArgument, "%s request too large", req.Op)
	}
	if err == nil {
		var oob []byte
		if len(fds) > 0 {
			oob = unix.UnixRights(fds...)
		}
		_, _, err = c.conn.WriteMsgUnix(append([]byte{msgRequest}, data...), oob, nil)
	}
	if err != nil {
		c.mu.Lock()
		delete(c.pending, req.Seq)
		c.mu.Unlock()
		return reply{}, fmt.Errorf("monitor %s: %w", req.Op, err)
	}
	r, ok := <-ch
	if !ok {
		c.mu.Lock()
		err := c.err
		c.mu.Unlock()
		return reply{}, err
	}
	return r, r.err()
}

// Launcher returns a runtime.Launcher that has the monitor start the
// intermediate process of a create or exec described by cfg. The
// command's ExtraFiles reach the child at the same numbers; its stdio is
// replaced by the monitor's (see Config).
func (c *Client) Launcher(cfg Config) runtime.Launcher {
	return func(cmd *exec.Cmd) (runtime.Child, error) {
		if len(cmd.ExtraFiles) > maxFDs {
			return nil, errorf(errdefs.ErrInvalidArgument, "launch %s: %d files, at most %d", cfg.ID, len(cmd.ExtraFiles), maxFDs)
		}
		fds := make([]int, 0, len(cmd.ExtraFiles))
		for _, f := range cmd.ExtraFiles {
			if f == nil {
				return nil, errorf(errdefs.ErrInvalidArgument, "launch %s: nil extra file", cfg.ID)
			}
			fds = append(fds, int(f.Fd()))
		}
		r, err := c.call(request{Op: "launch", Config: &cfg, Path: cmd.Path, Args: cmd.Args, Env: cmd.Environ(), Dir: cmd.Dir}, fds...)
		if err != nil {
			return nil, err
		}
		return &child{c: c, pid: r.Pid}, nil
	}
}

// child is an intermediate process the monitor started and reaps.
type child struct {
	c   *Client
	pid int
}

func (ch *child) Pid() int { return ch.pid }

func (ch *child) Kill() error {
	_, err := ch.c.call(request{Op: "kill", Pid: ch.pid})
	return err
}

// Wait returns at once: the monitor, the process's parent, reaps it.
func (ch *child) Wait() error { return nil }

// Console returns the runtime's Console callback for the terminal
// process id: it passes the pty master to the monitor, and closes the
// caller's copy.
func (c *Client) Console(id string) func(*os.File) error {
	return func(master *os.File) error {
		defer master.Close()
		_, err := c.call(request{Op: "console", ID: id}, int(master.Fd()))
		return err
	}
}

// Watch tells the monitor that pid is the process of id, whose exit it
// then records. Call it as soon as the runtime's Create or Exec returns
// the pid: an exit before Watch is still recorded.
func (c *Client) Watch(id string, pid int) error {
	_, err := c.call(request{Op: "watch", ID: id, Pid: pid})
	return err
}

// List returns every process the monitor knows: running ones and exit
// records not yet forgotten.
func (c *Client) List() ([]Process, error) {
	r, err := c.call(request{Op: "list"})
	return r.Procs, err
}

// Forget drops what the monitor holds for id: its exit record, or, for a
// process still running (a failed create), its stdio and log.
func (c *Client) Forget(id string) error {
	_, err := c.call(request{Op: "forget", ID: id})
	return err
}

// Resize sets the terminal size of a TTY process.
func (c *Client) Resize(id string, height, width uint16) error {
	_, err := c.call(request{Op: "resize", ID: id, Height: height, Width: width})
	return err
}

// CloseStdin closes the process's stdin (end of input). For a terminal
// process, input just stops.
func (c *Client) CloseStdin(id string) error {
	_, err := c.call(request{Op: "closestdin", ID: id})
	return err
}
