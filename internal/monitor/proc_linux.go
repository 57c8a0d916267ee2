// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package monitor

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/berth-project/berth/internal/jsonlog"
	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// drainTimeout is how long, after a process exited, the monitor waits for
// the end of its output before closing the pipes anyway: a process it
// left behind (outside a container's own PID namespace) may hold them.
const drainTimeout = 5 * time.Second

// proc is a process started through the monitor. Its fields are guarded
// by server.mu.
type proc struct {
	id  string
	cfg Config
	// placeholder: attach clients wait for a process not launched yet.
	placeholder bool
	pid         int
	// stdin is the write end of the stdin pipe, or the pty master.
	stdin *os.File
	pty   *os.File
	// outputs are the output files not yet at their end; exit waits
	// for them.
	outputs   []*os.File
	pending   int // outputs still to come (the pty, before Console)
	log       *jsonlog.Writer
	attachers map[*attacher]struct{}
	status    *reapedStatus
	drain     *time.Timer
	done      bool
	exit      Exit
	gone      bool // forgotten
}

type reapedStatus struct {
	code int
	at   time.Time
}

const maxReaped = 4096

// launch starts the runtime's intermediate process as the monitor's
// child: fds become its fds 3, 4, …; its stdio are the monitor's pipes.
func (s *server) launch(req request, fds []int) (int, error) {
	defer closeFDs(fds)
	cfg := req.Config
	if cfg == nil || cfg.ID == "" {
		return 0, errorf(errdefs.ErrInvalidArgument, "launch: no ID")
	}
	s.mu.Lock()
	old := s.procs[cfg.ID]
	if old != nil && !old.placeholder && !old.done && old.pid != 0 {
		s.mu.Unlock()
		return 0, errorf(errdefs.ErrAlreadyExists, "process %s is running", cfg.ID)
	}
	s.mu.Unlock()

	p := &proc{id: cfg.ID, cfg: *cfg, attachers: map[*attacher]struct{}{}}
	var childEnds []int
	defer func() { closeFDs(childEnds) }()
	stdio := []int{int(s.devnull.Fd()), int(s.devnull.Fd()), int(s.devnull.Fd())}
	var ours []*os.File // the monitor's ends, closed on failure
	fail := func(err error) (int, error) {
		for _, f := range ours {
			f.Close()
		}
		if p.log != nil {
			p.log.Close()
		}
		return 0, fmt.Errorf("launch %s: %w", cfg.ID, err)
	}
	// The child's ends stay blocking: O_NONBLOCK belongs to the open
	// file, which the child shares. Only the monitor's ends go to the
	// poller.
	pipe := func() (r, w int, err error) {
		var fd [2]int
		if err := unix.Pipe2(fd[:], unix.O_CLOEXEC); err != nil {
			return 0, 0, err
		}
		childEnds = append(childEnds, fd[0], fd[1])
		return fd[0], fd[1], nil
	}
	ourEnd := func(fd int, name string) (*os.File, error) {
		nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return nil, err
		}
		if err := unix.SetNonblock(nfd, true); err != nil {
			unix.Close(nfd)
			return nil, err
		}
		f := os.NewFile(uintptr(nfd), name)
		ours = append(ours, f)
		return f, nil
	}
	if cfg.Tty {
		p.pending = 1
	} else {
		for i, name := range []string{"stdout", "stderr"} {
			r, w, err := pipe()
			if err != nil {
				return fail(err)
			}
			f, err := ourEnd(r, name)
			if err != nil {
				return fail(err)
			}
			p.outputs = append(p.outputs, f)
			stdio[1+i] = w
		}
		if cfg.OpenStdin {
			r, w, err := pipe()
			if err != nil {
				return fail(err)
			}
			if p.stdin, err = ourEnd(w, "stdin"); err != nil {
				return fail(err)
			}
			stdio[0] = r
		}
	}
	if cfg.LogPath != "" {
		lw, err := jsonlog.NewWriter(cfg.LogPath, cfg.LogMaxSize, cfg.LogMaxFiles)
		if err != nil {
			return fail(err)
		}
		p.log = lw
	}
	files := make([]uintptr, 0, 3+len(fds))
	for _, fd := range stdio {
		files = append(files, uintptr(fd))
	}
	for _, fd := range fds {
		files = append(files, uintptr(fd))
	}
	dir := req.Dir
	if dir == "" {
		dir = "/"
	}
	// Forking under the lock orders the reaper after the registration
	// of the pid below.
	s.mu.Lock()
	defer s.mu.Unlock()
	pid, err := syscall.ForkExec(req.Path, req.Args, &syscall.ProcAttr{Dir: dir, Env: req.Env, Files: files})
	if err != nil {
		return fail(err)
	}
	s.launched[pid] = true
	if old := s.procs[cfg.ID]; old != nil {
		for a := range old.attachers {
			a.p = p
			p.attachers[a] = struct{}{}
		}
		old.attachers = nil
		s.drop(old)
	}
	s.procs[cfg.ID] = p
	for i, f := range p.outputs {
		var lw *jsonlog.StreamWriter
		if p.log != nil {
			lw = p.log.Stream([]string{"stdout", "stderr"}[i])
		}
		go s.pump(p, f, byte(msgStdout+i), lw)
	}
	return pid, nil
}

// console takes a TTY process's pty master.
func (s *server) console(id string, fd int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.procs[id]
	if p == nil || p.placeholder || !p.cfg.Tty || p.pty != nil || p.pending == 0 {
		unix.Close(fd)
		return errorf(errdefs.ErrFailedPrecondition, "console for %s: no terminal process waiting for one", id)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return err
	}
	f := os.NewFile(uintptr(fd), "pty")
	p.pending = 0
	p.pty = f
	p.outputs = append(p.outputs, f)
	if p.cfg.OpenStdin {
		p.stdin = f
	}
	var lw *jsonlog.StreamWriter
	if p.log != nil {
		lw = p.log.Stream("stdout")
	}
	go s.pump(p, f, msgStdout, lw)
	return nil
}

// pump copies one output stream to the log and the attach clients until
// its end. While the process is quiet it holds no buffer: a buffer is
// taken from the pool only when there is something to read.
func (s *server) pump(p *proc, f *os.File, kind byte, lw *jsonlog.StreamWriter) {
	rc, err := f.SyscallConn()
	for err == nil {
		var bp *[]byte
		var n int
		var rerr error
		err = rc.Read(func(fd uintptr) bool {
			bp = bufPool.Get().(*[]byte)
			for {
				n, rerr = unix.Read(int(fd), *bp)
				if rerr != unix.EINTR {
					break
				}
			}
			if rerr == unix.EAGAIN {
				bufPool.Put(bp)
				bp = nil
				return false
			}
			return true
		})
		if err == nil && (rerr != nil || n <= 0) {
			err = rerr
			if err == nil {
				err = os.ErrClosed // end of file
			}
		}
		if err == nil {
			data := (*bp)[:n]
			if lw != nil {
				if _, werr := lw.Write(data); werr != nil {
					s.log.Warn("write log", "id", p.id, "err", werr)
				}
			}
			s.mu.Lock()
			for a := range p.attachers {
				a.output(kind, data)
			}
			s.mu.Unlock()
		}
		if bp != nil {
			bufPool.Put(bp)
		}
	}
	if lw != nil {
		lw.Flush()
	}
	s.mu.Lock()
	for i, o := range p.outputs {
		if o == f {
			p.outputs = append(p.outputs[:i], p.outputs[i+1:]...)
			break
		}
	}
	if p.pty == f {
		p.pty, p.stdin = nil, nil
	}
	s.finish(p)
	s.mu.Unlock()
	f.Close()
}

// reap collects every child that has exited.
func (s *server) reap() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if pid <= 0 {
			return
		}
		st := reapedStatus{code: exitCode(ws), at: time.Now().UTC()}
		s.mu.Lock()
		switch p := s.byPid[pid]; {
		case p != nil:
			delete(s.byPid, pid)
			p.status = &st
			s.finish(p)
		case s.launched[pid]:
			delete(s.launched, pid)
		default:
			s.reaped[pid] = st
			s.reapedOrder = append(s.reapedOrder, pid)
			if len(s.reapedOrder) > maxReaped {
				delete(s.reaped, s.reapedOrder[0])
				s.reapedOrder = s.reapedOrder[1:]
			}
		}
		s.mu.Unlock()
	}
}

func exitCode(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// watch records pid as id's process. If pid was already reaped its
// status is used; a pid that is neither a child of the monitor (or of an
// intermediate process it started) nor reaped is refused.
func (s *server) watch(id string, pid int) error {
	// The reaper calls wait4 before it takes the lock to record the
	// status: a pid that has just been reaped is briefly in neither place.
	// Give it a few milliseconds to show up in s.reaped.
	for range 50 {
		if err := s.tryWatch(id, pid); !errors.Is(err, errNotYet) {
			return err
		}
		time.Sleep(time.Millisecond)
	}
	return errorf(errdefs.ErrFailedPrecondition, "watch %s: pid %d is not a child of the monitor", id, pid)
}

var errNotYet = errors.New("not reaped yet")

func (s *server) tryWatch(id string, pid int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.procs[id]
	if p == nil || p.placeholder {
		return errorf(errdefs.ErrNotFound, "watch: no process %s", id)
	}
	if p.done || p.status != nil {
		if p.pid == pid {
			return nil
		}
		return errorf(errdefs.ErrFailedPrecondition, "watch %s: already exited", id)
	}
	if p.pid != 0 && p.pid != pid {
		return errorf(errdefs.ErrFailedPrecondition, "watch %s: already watching pid %d", id, p.pid)
	}
	ours := s.isOurs(pid)
	if st, ok := s.reaped[pid]; ok && !ours {
		// It exited before Watch came.
		delete(s.reaped, pid)
		p.pid = pid
		p.status = &st
		s.finish(p)
		return nil
	}
	if !ours {
		return errNotYet
	}
	// An older status of a reused pid is stale.
	delete(s.reaped, pid)
	p.pid = pid
	s.byPid[pid] = p
	return nil
}

// isOurs tells whether pid is a live or zombie child of the monitor or
// of one of its intermediate processes, which will exit and leave it to
// the monitor.
func (s *server) isOurs(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The command name may hold spaces and parentheses: the fields
	// after it start after the last ')'.
	var state byte
	var ppid int
	for i := len(data) - 1; i >= 0; i-- {
		if data[i] == ')' {
			fmt.Sscanf(string(data[i+1:]), " %c %d", &state, &ppid)
			break
		}
	}
	return ppid == os.Getpid() || s.launched[ppid]
}

func (s *server) killLaunched(pid int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.launched[pid] {
		return nil // reaped already
	}
	return unix.Kill(pid, unix.SIGKILL)
}

// finish completes p's exit once its status is known and its output has
// ended: exit record, event, end of the attach streams. Called with s.mu
// held.
func (s *server) finish(p *proc) {
	if p.done || p.gone || p.status == nil {
		return
	}
	if len(p.outputs) > 0 || p.pending > 0 {
		if p.drain == nil {
			p.drain = time.AfterFunc(drainTimeout, func() {
				s.mu.Lock()
				outs := append([]*os.File(nil), p.outputs...)
				p.pending = 0
				s.finish(p)
				s.mu.Unlock()
				for _, f := range outs {
					f.Close() // ends the pump, which finishes p
				}
			})
		}
		return
	}
	p.done = true
	if p.drain != nil {
		p.drain.Stop()
	}
	if p.stdin != nil && p.stdin != p.pty {
		p.stdin.Close()
	}
	p.stdin = nil
	if p.log != nil {
		p.log.Close()
		p.log = nil
	}
	p.exit = Exit{ID: p.id, Pid: p.pid, Code: p.status.code, ExitedAt: p.status.at}
	if err := s.writeExit(p); err != nil {
		s.log.Error("write exit record", "id", p.id, "err", err)
	}
	s.log.Info("exited", "id", p.id, "pid", p.pid, "code", p.exit.Code)
	s.broadcast(msgEvent, p.exit)
	for a := range p.attachers {
		a.end()
	}
	p.attachers = nil
}

// drop closes what p holds. Called with s.mu held.
func (s *server) drop(p *proc) {
	p.gone = true
	delete(s.byPid, p.pid)
	if p.drain != nil {
		p.drain.Stop()
	}
	for _, f := range p.outputs {
		f.Close()
	}
	if p.stdin != nil {
		p.stdin.Close()
	}
	if p.log != nil {
		p.log.Close()
	}
	for a := range p.attachers {
		a.end()
	}
	p.attachers = nil
}

func (s *server) forget(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.procs[id]
	if p == nil {
		return errorf(errdefs.ErrNotFound, "forget: no process %s", id)
	}
	delete(s.procs, id)
	s.drop(p)
	if err := os.Remove(s.exitPath(id)); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

func (s *server) list() []Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Process, 0, len(s.procs))
	for _, p := range s.procs {
		if p.placeholder {
			continue
		}
		out = append(out, Process{
			ID:       p.id,
			Pid:      p.pid,
			Running:  !p.done,
			Code:     p.exit.Code,
			ExitedAt: p.exit.ExitedAt,
			Tty:      p.cfg.Tty,
		})
	}
	return out
}

func (s *server) resize(id string, h, w uint16) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.procs[id]
	if p == nil || p.pty == nil {
		return errorf(errdefs.ErrNotFound, "resize: no terminal for %s", id)
	}
	// Not Fd(): it would put the pty back in blocking mode.
	rc, err := p.pty.SyscallConn()
	if err != nil {
		return err
	}
	cerr := rc.Control(func(fd uintptr) {
		err = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: h, Col: w})
	})
	return errors.Join(cerr, err)
}

// closeStdin closes a process's stdin pipe. A terminal has no end of
// input to send: its input just stops.
func (s *server) closeStdin(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.procs[id]
	if p == nil || p.placeholder {
		return errorf(errdefs.ErrNotFound, "close stdin: no process %s", id)
	}
	s.closeStdinLocked(p)
	return nil
}

func (s *server) closeStdinLocked(p *proc) {
	if p.stdin != nil && p.stdin != p.pty {
		p.stdin.Close()
	}
	p.stdin = nil
}
