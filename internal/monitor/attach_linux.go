// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package monitor

import (
	"sync"

	"github.com/containerd/errdefs"
)

// bufPool holds the read buffers of the output pumps. Idle processes hold
// none.
var bufPool = sync.Pool{New: func() any {
	b := make([]byte, maxData)
	return &b
}}

// attacher is one attach stream. Its fields are guarded by server.mu.
type attacher struct {
	c                     *conn
	p                     *proc
	stdin, stdout, stderr bool
	stdinDone             bool
	// ready: the attach reply was sent. Until then output is kept in
	// backlog (a launch may take the placeholder over, and its process
	// write, before the reply has gone out), and an end is deferred.
	ready   bool
	ended   bool
	backlog []pendingOutput
	backlen int
}

type pendingOutput struct {
	kind byte
	data []byte
}

// maxBacklog bounds what an attach stream keeps before its reply is sent.
const maxBacklog = 1 << 20

// attach makes c an attach stream of the process req.ID. Output flows
// once the reply is sent (attached). A process not launched yet gets a
// placeholder, which its launch takes over: a client can attach to an
// exec process before it starts and miss none of its output.
func (s *server) attach(c *conn, req request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.att != nil {
		return errorf(errdefs.ErrFailedPrecondition, "attach: connection already attached")
	}
	if req.ID == "" {
		return errorf(errdefs.ErrInvalidArgument, "attach: no ID")
	}
	p := s.procs[req.ID]
	if p == nil {
		p = &proc{id: req.ID, placeholder: true, attachers: map[*attacher]struct{}{}}
		s.procs[req.ID] = p
	}
	c.att = &attacher{c: c, p: p, stdin: req.Stdin, stdout: req.Stdout, stderr: req.Stderr}
	if !p.done && !p.gone {
		// registered now, so that a launch that takes the placeholder
		// over moves it along; output waits in the backlog
		p.attachers[c.att] = struct{}{}
	}
	return nil
}

// attached starts the flow of output to c, whose attach reply was sent:
// first what came meanwhile.
func (s *server) attached(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := c.att
	a.ready = true
	for _, o := range a.backlog {
		if a.c.send(o.kind, o.data) != nil {
			delete(a.p.attachers, a)
			return
		}
	}
	a.backlog = nil
	if a.ended || a.p.done || a.p.gone {
		delete(a.p.attachers, a)
		a.end()
	}
}

// output sends a piece of output to the client if it wants that stream;
// a client that cannot take it is dropped. Called with server.mu held.
func (a *attacher) output(kind byte, data []byte) {
	switch {
	case a.p.cfg.Tty:
		if !a.stdout && !a.stderr {
			return
		}
		kind = msgStdout
	case kind == msgStdout && !a.stdout, kind == msgStderr && !a.stderr:
		return
	}
	if !a.ready {
		if a.backlen+len(data) <= maxBacklog {
			a.backlog = append(a.backlog, pendingOutput{kind, append([]byte(nil), data...)})
			a.backlen += len(data)
		}
		return
	}
	if a.c.send(kind, data) != nil {
		delete(a.p.attachers, a)
	}
}

// end tells the client that the output has ended and closes the stream;
// before the attach reply is sent, that waits for attached.
func (a *attacher) end() {
	if !a.ready {
		a.ended = true
		return
	}
	a.c.send(msgEnd, nil)
	a.c.uc.Close()
}

// detach forgets a client that went away. Called with server.mu held.
func (s *server) detach(a *attacher, gone bool) {
	p := a.p
	delete(p.attachers, a)
	if gone && a.stdin && !a.stdinDone {
		s.stdinEnded(a)
	}
	if p.placeholder && len(p.attachers) == 0 && s.procs[p.id] == p {
		delete(s.procs, p.id)
	}
}

// stdinEnded handles the end of a client's input: with StdinOnce it ends
// the process's input too, except on a terminal, which has no end of input
// and where the client's input ends when it detaches (Docker keeps a TTY
// container's input open for the next attach). Called with server.mu held.
func (s *server) stdinEnded(a *attacher) {
	if !a.stdin || a.stdinDone {
		return
	}
	a.stdinDone = true
	if a.p.cfg.StdinOnce && !a.p.cfg.Tty && !a.p.placeholder && !a.p.done {
		s.closeStdinLocked(a.p)
	}
}

// writeStdin writes a client's input to the process. It may block (the
// process does not read), which holds up only this client.
func (s *server) writeStdin(a *attacher, data []byte) {
	s.mu.Lock()
	f := a.p.stdin
	ok := a.stdin && !a.stdinDone
	s.mu.Unlock()
	if f != nil && ok {
		f.Write(data)
	}
}
