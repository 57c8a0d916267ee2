// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/internal/api/httputils"
	router "github.com/berth-project/berth/internal/api/router/container"
	ctr "github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/jsonlog"
	"github.com/berth-project/berth/internal/monitor"
)

// pendingAttach is an attach to a container that is not running yet
// (`docker run` and `start -a` attach before they start): start hands it
// to the monitor between create and start, so no output is lost. It is
// registered before the router answers the hijack (ContainerAttachInfo),
// since the client may start the container as soon as it has that answer;
// its streams follow once the connection is hijacked (ready), and start
// waits for them.
type pendingAttach struct {
	streams monitor.Streams
	ctx     context.Context
	ready   chan struct{} // streams and ctx are set
	gone    chan struct{} // cancelled: the hijack failed
	done    chan error
}

func newPendingAttach() *pendingAttach {
	return &pendingAttach{ready: make(chan struct{}), gone: make(chan struct{}), done: make(chan error, 1)}
}

// attachReservation is the router.AttachReservation of a pending attach.
type attachReservation struct {
	d  *Daemon
	id string
	p  *pendingAttach
	// What ContainerAttach needs of the container, read here: a start
	// holds the container's lock while it waits for the reserved attach.
	tty, openStdin bool
	logPath        string
}

func (r *attachReservation) Cancel() {
	r.d.dropPending(r.id, r.p)
	close(r.p.gone)
}

// ContainerAttachInfo says whether the container has a TTY, and reserves a
// streaming attach to a container that is not running (see pendingAttach).
func (d *Daemon) ContainerAttachInfo(ctx context.Context, ref string, stream bool) (bool, router.AttachReservation, error) {
	c, err := d.store.Get(ref)
	if err != nil {
		return false, nil, err
	}
	c.Mu.Lock()
	defer c.Mu.Unlock()
	if c.State.Status == ctr.Paused {
		return false, nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("container %s is paused, unpause the container before attach", ref))
	}
	if !stream || c.IsRunning() {
		return c.Config.Tty, nil, nil
	}
	p := newPendingAttach()
	d.mu.Lock()
	d.pending[c.ID] = append(d.pending[c.ID], p)
	d.mu.Unlock()
	return c.Config.Tty, &attachReservation{d: d, id: c.ID, p: p,
		tty: c.Config.Tty, openStdin: c.Config.OpenStdin, logPath: c.LogPath}, nil
}

// ContainerAttach connects the client's streams to the container.
func (d *Daemon) ContainerAttach(ctx context.Context, ref string, cfg *router.AttachConfig) error {
	reserved, _ := cfg.Reservation.(*attachReservation)
	if reserved != nil {
		// Given up unless the streams are handed to it below.
		defer func() {
			if reserved != nil {
				reserved.Cancel()
			}
		}()
	}
	c, err := d.store.Get(ref)
	if err != nil {
		return err
	}
	var (
		tty, openStdin bool
		logPath        string
	)
	if reserved != nil {
		tty, openStdin, logPath = reserved.tty, reserved.openStdin, reserved.logPath
	} else {
		c.Mu.Lock()
		tty, openStdin, logPath = c.Config.Tty, c.Config.OpenStdin, c.LogPath
		c.Mu.Unlock()
	}
	if cfg.Logs {
		err := jsonlog.Read(ctx, logPath, jsonlog.ReadOpts{Tail: -1}, func(e jsonlog.Entry) error {
			return writeEntry(e, tty, cfg.UseStdout, cfg.UseStderr, false, cfg.Stdout, cfg.Stderr)
		})
		if err != nil {
			return err
		}
	}
	if !cfg.Stream {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var s monitor.Streams
	if cfg.UseStdin && openStdin {
		keys, err := parseDetachKeys(cfg.DetachKeys)
		if err != nil {
			return err
		}
		s.Stdin = &detachReader{r: cfg.Stdin, keys: keys, detached: cancel}
	}
	if cfg.UseStdout {
		s.Stdout = cfg.Stdout
	}
	if cfg.UseStderr {
		if tty {
			s.Stderr = cfg.Stdout
		} else {
			s.Stderr = cfg.Stderr
		}
	}
	d.publish(c, events.ActionAttach, nil)
	var p *pendingAttach
	if reserved != nil {
		p, reserved = reserved.p, nil // handed over: not given up
	} else {
		c.Mu.Lock()
		if !c.IsRunning() {
			p = newPendingAttach()
			d.mu.Lock()
			d.pending[c.ID] = append(d.pending[c.ID], p)
			d.mu.Unlock()
		}
		c.Mu.Unlock()
	}
	if p == nil {
		return ignoreDetach(d.mon.Attach(ctx, c.ID, s))
	}
	p.streams, p.ctx = s, ctx
	close(p.ready)
	select {
	case err := <-p.done:
		return ignoreDetach(err)
	case <-ctx.Done():
		d.dropPending(c.ID, p)
		return nil
	}
}

func ignoreDetach(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func (d *Daemon) dropPending(id string, p *pendingAttach) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ps := d.pending[id]
	for i, x := range ps {
		if x == p {
			d.pending[id] = append(ps[:i:i], ps[i+1:]...)
		}
	}
	if len(d.pending[id]) == 0 {
		delete(d.pending, id)
	}
}

// attachPending hands the waiting attaches of id to the monitor, once the
// monitor knows the process and before it runs.
func (d *Daemon) attachPending(id string) {
	d.mu.Lock()
	ps := d.pending[id]
	delete(d.pending, id)
	d.mu.Unlock()
	for _, p := range ps {
		// The router hijacks the connection right after reserving the
		// attach: its streams follow within moments.
		select {
		case <-p.ready:
		case <-p.gone:
			continue
		case <-time.After(5 * time.Second):
			d.log.Warn("attach reserved but never connected", "id", id)
			p.done <- errors.New("the container started before the attach was connected")
			continue
		}
		wait, err := d.mon.AttachStart(p.ctx, id, p.streams)
		if err != nil {
			p.done <- err
			continue
		}
		go func() { p.done <- wait() }()
	}
}

// endPending ends the waiting attaches of id after a failed start. They
// end quietly, as Docker's do: the start request reports the error, and
// the client prints it once.
func (d *Daemon) endPending(id string) {
	d.mu.Lock()
	ps := d.pending[id]
	delete(d.pending, id)
	d.mu.Unlock()
	for _, p := range ps {
		p.done <- nil
	}
}

// ContainerResize resizes the container's terminal.
func (d *Daemon) ContainerResize(ctx context.Context, ref string, h, w uint16) error {
	c, err := d.store.Get(ref)
	if err != nil {
		return err
	}
	c.Mu.Lock()
	running := c.IsRunning()
	c.Mu.Unlock()
	if !running {
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is not running", ref))
	}
	return d.mon.Resize(c.ID, h, w)
}

// ContainerLogsCheck finds the container and says whether it has a TTY,
// before the logs are streamed.
func (d *Daemon) ContainerLogsCheck(ctx context.Context, ref string) (bool, error) {
	c, err := d.store.Get(ref)
	if err != nil {
		return false, err
	}
	c.Mu.Lock()
	defer c.Mu.Unlock()
	if c.HostConfig.LogConfig.Type == "none" {
		return false, errLogsNone
	}
	return c.Config.Tty, nil
}

var errLogsNone = errdefs.ErrInvalidArgument.WithMessage("configured logging driver does not support reading")

// ContainerLogs writes the container's log to w: raw for a TTY container,
// multiplexed frames otherwise; following ends when the container exits.
func (d *Daemon) ContainerLogs(ctx context.Context, ref string, cfg *router.LogsConfig, w io.Writer) (bool, error) {
	c, err := d.store.Get(ref)
	if err != nil {
		return false, err
	}
	c.Mu.Lock()
	tty, path, running := c.Config.Tty, c.LogPath, c.IsRunning()
	var done chan struct{}
	if cfg.Follow {
		done = make(chan struct{})
		if running {
			wt := d.addWaiter(c.ID, containertypes.WaitConditionNextExit)
			go func() {
				select {
				case <-wt.ch:
				case <-ctx.Done():
					d.dropWaiter(c.ID, wt)
				}
				close(done)
			}()
		} else {
			close(done)
		}
	}
	c.Mu.Unlock()
	stdout, stderr := w, w
	if !tty {
		stdout = &httputils.FrameWriter{W: w, Stream: httputils.Stdout}
		stderr = &httputils.FrameWriter{W: w, Stream: httputils.Stderr}
	}
	err = jsonlog.Read(ctx, path, jsonlog.ReadOpts{Tail: cfg.Tail, Since: cfg.Since, Until: cfg.Until, Follow: cfg.Follow, Done: done}, func(e jsonlog.Entry) error {
		return writeEntry(e, tty, cfg.Stdout, cfg.Stderr, cfg.Timestamps, stdout, stderr)
	})
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return tty, err
}

func writeEntry(e jsonlog.Entry, tty, useOut, useErr, timestamps bool, stdout, stderr io.Writer) error {
	w := stdout
	if e.Stream == "stderr" {
		if !useErr {
			return nil
		}
		if !tty {
			w = stderr
		}
	} else if !useOut {
		return nil
	}
	msg := e.Log
	if timestamps {
		msg = append([]byte(e.Time.UTC().Format("2006-01-02T15:04:05.000000000Z07:00")+" "), msg...)
	}
	_, err := w.Write(msg)
	return err
}

// parseDetachKeys reads Docker's detach key list ("ctrl-p,ctrl-q", "a,b").
func parseDetachKeys(s string) ([]byte, error) {
	if s == "" {
		return []byte{16, 17}, nil
	}
	var out []byte
	for _, k := range strings.Split(s, ",") {
		k = strings.ToLower(strings.TrimSpace(k))
		switch {
		case len(k) == 1:
			out = append(out, k[0])
		case strings.HasPrefix(k, "ctrl-") && len(k) == 6:
			c := k[5]
			switch {
			case c >= 'a' && c <= 'z':
				out = append(out, c-'a'+1)
			case c == '@':
				out = append(out, 0)
			case c == '[':
				out = append(out, 27)
			case c == '\\':
				out = append(out, 28)
			case c == ']':
				out = append(out, 29)
			case c == '^':
				out = append(out, 30)
			case c == '_':
				out = append(out, 31)
			default:
				return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Unknown character: '%s'", k))
			}
		default:
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Unknown character: '%s'", k))
		}
	}
	return out, nil
}

// detachReader passes stdin through until the detach sequence, which it
// swallows and answers by ending the attach. A partial match is held back
// until the next byte tells whether it was the sequence.
type detachReader struct {
	r        io.Reader
	keys     []byte
	matched  int
	detached func()
	pending  []byte
	done     bool
}

func (d *detachReader) Read(p []byte) (int, error) {
	for len(d.pending) == 0 {
		if d.done {
			return 0, io.EOF
		}
		buf := make([]byte, len(p))
		n, err := d.r.Read(buf)
		for _, b := range buf[:n] {
			if b == d.keys[d.matched] {
				d.matched++
				if d.matched == len(d.keys) {
					d.done = true
					d.detached()
					break
				}
				continue
			}
			d.pending = append(d.pending, d.keys[:d.matched]...)
			d.matched = 0
			d.pending = append(d.pending, b)
		}
		if err != nil {
			d.done = true
			if len(d.pending) == 0 {
				return 0, err
			}
		}
	}
	n := copy(p, d.pending)
	d.pending = d.pending[n:]
	return n, nil
}
