// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package monitor

import (
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/berth-project/berth/internal/fsutil"
	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// server is the monitor's state. One mutex guards all of it: every
// operation under it is short and never waits for a client.
type server struct {
	dir     string
	log     *slog.Logger
	devnull *os.File
	temps   *fsutil.TempDirs // for exit records; nil: next to them

	mu    sync.Mutex
	procs map[string]*proc
	// byPid maps watched pids whose exit is not yet known.
	byPid map[int]*proc
	// launched holds the intermediate processes not yet reaped.
	launched map[int]bool
	// reaped keeps the statuses of reaped children nobody watched (yet),
	// oldest first in reapedOrder, at most maxReaped of them.
	reaped      map[int]reapedStatus
	reapedOrder []int
	conns       map[*conn]struct{}
}

func newServer(dir string, log *slog.Logger) (*server, error) {
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	s := &server{
		dir:      dir,
		log:      log,
		devnull:  devnull,
		procs:    map[string]*proc{},
		byPid:    map[int]*proc{},
		launched: map[int]bool{},
		reaped:   map[int]reapedStatus{},
		conns:    map[*conn]struct{}{},
	}
	s.loadExits()
	// Exit records are written there first (fsutil.TempDirs); without
	// it, next to the record.
	if t, err := fsutil.NewTempDirs(filepath.Join(dir, exitsTmpDir)); err == nil {
		s.temps = t
	} else {
		log.Warn("exit records' temporary directories", "err", err)
	}
	return s, nil
}

func (s *server) accept(l *net.UnixListener) {
	for {
		uc, err := l.AcceptUnix()
		if err != nil {
			s.log.Error("accept", "err", err)
			return
		}
		raw, err := uc.SyscallConn()
		if err != nil {
			uc.Close()
			continue
		}
		c := &conn{uc: uc, raw: raw}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		go s.serve(c)
	}
}

// conn is one client connection: a control connection, or, after an
// attach request, an attach stream.
type conn struct {
	uc  *net.UnixConn
	raw syscall.RawConn
	// att is set when the connection is an attach stream (under
	// server.mu).
	att *attacher
}

// send sends one message without blocking. A client that does not read
// (its socket buffer is full) is disconnected: the monitor never waits
// for one.
func (c *conn) send(kind byte, data []byte) error {
	var err error
	werr := c.raw.Write(func(fd uintptr) bool {
		for {
			_, err = unix.SendmsgBuffers(int(fd), [][]byte{{kind}, data}, nil, nil, unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL)
			if err != unix.EINTR {
				return true
			}
		}
	})
	if werr != nil {
		err = werr
	}
	if err != nil {
		c.uc.Close()
	}
	return err
}

func (c *conn) sendJSON(kind byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.send(kind, data)
}

func (s *server) serve(c *conn) {
	defer func() {
		c.uc.Close()
		s.mu.Lock()
		delete(s.conns, c)
		if c.att != nil {
			s.detach(c.att, true)
		}
		s.mu.Unlock()
	}()
	buf := make([]byte, maxMsg)
	oob := make([]byte, unix.CmsgSpace(4*maxFDs))
	for {
		n, oobn, flags, _, err := c.uc.ReadMsgUnix(buf, oob)
		if err != nil || n == 0 {
			return
		}
		fds := parseRights(oob[:oobn])
		if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
			closeFDs(fds)
			s.log.Warn("message too large; closing the connection")
			return
		}
		switch buf[0] {
		case msgRequest:
			var req request
			if err := json.Unmarshal(buf[1:n], &req); err != nil {
				closeFDs(fds)
				return
			}
			rep := s.handle(c, req, fds)
			if c.sendJSON(msgReply, rep) != nil {
				return
			}
			if req.Op == "attach" && rep.Error == "" {
				s.attached(c)
			}
		case msgStdin:
			closeFDs(fds)
			if c.att != nil {
				s.writeStdin(c.att, buf[1:n])
			}
		case msgCloseStdin:
			closeFDs(fds)
			if c.att != nil {
				s.mu.Lock()
				s.stdinEnded(c.att)
				s.mu.Unlock()
			}
		default:
			closeFDs(fds)
		}
	}
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// handle runs one request. It owns fds.
func (s *server) handle(c *conn, req request, fds []int) reply {
	rep := reply{Seq: req.Seq}
	var err error
	switch req.Op {
	case "launch":
		rep.Pid, err = s.launch(req, fds)
		fds = nil
	case "console":
		if len(fds) != 1 {
			err = errorf(errdefs.ErrInvalidArgument, "console: want one file, got %d", len(fds))
			break
		}
		err = s.console(req.ID, fds[0])
		fds = nil
	case "kill":
		err = s.killLaunched(req.Pid)
	case "watch":
		err = s.watch(req.ID, req.Pid)
	case "list":
		rep.Procs = s.list()
	case "forget":
		err = s.forget(req.ID)
	case "resize":
		err = s.resize(req.ID, req.Height, req.Width)
	case "closestdin":
		err = s.closeStdin(req.ID)
	case "attach":
		err = s.attach(c, req)
	default:
		err = errorf(errdefs.ErrInvalidArgument, "unknown request %q", req.Op)
	}
	closeFDs(fds)
	if err != nil {
		return errorReply(req.Seq, err)
	}
	return rep
}

// broadcast sends an event to every control connection. Called with
// s.mu held.
func (s *server) broadcast(kind byte, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		return
	}
	for c := range s.conns {
		if c.att == nil {
			c.send(kind, data)
		}
	}
}
