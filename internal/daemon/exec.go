// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package daemon

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"

	router "github.com/berth-project/berth/internal/api/router/container"
	ctr "github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/monitor"
	"github.com/berth-project/berth/internal/oci"
	"github.com/berth-project/berth/internal/runtime"
)

// execConfig is one exec instance: created by ExecCreate, run once by
// ExecStart. Exec instances live in memory only, as in Docker.
type execConfig struct {
	mu          sync.Mutex
	ID          string
	ContainerID string
	Config      containertypes.ExecCreateRequest
	Running     bool
	Started     bool
	Pid         int
	ExitCode    *int
	exited      chan struct{}
}

func (e *execConfig) key() string { return e.ContainerID + "/" + e.ID }

// ExecCreate records an exec instance in a running container.
func (d *Daemon) ExecCreate(ctx context.Context, ref string, req *containertypes.ExecCreateRequest) (string, error) {
	c, err := d.store.Get(ref)
	if err != nil {
		return "", err
	}
	c.Mu.Lock()
	defer c.Mu.Unlock()
	switch c.State.Status {
	case ctr.Running:
	case ctr.Paused:
		return "", errdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is paused, unpause the container before exec", c.ID))
	case ctr.Restarting:
		return "", errdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is restarting, wait until the container is running", c.ID))
	default:
		return "", errdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is not running", c.ID))
	}
	e := &execConfig{ID: ctr.NewID(), ContainerID: c.ID, Config: *req, exited: make(chan struct{})}
	d.mu.Lock()
	d.execs[e.ID] = e
	d.mu.Unlock()
	d.publish(c, events.Action("exec_create: "+strings.Join(req.Cmd, " ")), map[string]string{"execID": e.ID})
	return e.ID, nil
}

func (d *Daemon) getExec(id string) (*execConfig, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.execs[id]
	if !ok {
		return nil, errdefs.ErrNotFound.WithMessage(fmt.Sprintf("No such exec instance: %s", id))
	}
	return e, nil
}

func (d *Daemon) execIDs(containerID string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var ids []string
	for id, e := range d.execs {
		if e.ContainerID == containerID {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// ExecInfo says whether the exec instance has a TTY.
func (d *Daemon) ExecInfo(ctx context.Context, id string) (bool, error) {
	e, err := d.getExec(id)
	if err != nil {
		return false, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.Started {
		return false, errdefs.ErrConflict.WithMessage(fmt.Sprintf("Error: Exec command %s has already run", id))
	}
	return e.Config.Tty, nil
}

// ExecStart runs the exec instance: through the monitor, like the
// container's own process, so its exit is recorded the same way. An
// attached start returns when the process's output ends and its exit code
// is recorded.
func (d *Daemon) ExecStart(ctx context.Context, id string, cfg *router.ExecStartConfig) error {
	e, err := d.getExec(id)
	if err != nil {
		return err
	}
	e.mu.Lock()
	if e.Started {
		e.mu.Unlock()
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Error: Exec command %s has already run", id))
	}
	e.Started = true
	e.mu.Unlock()
	c, err := d.store.Get(e.ContainerID)
	if err != nil {
		return err
	}
	c.Mu.Lock()
	running := c.State.Status == ctr.Running
	spec, rootfs := c.Spec, c.Rootfs
	c.Mu.Unlock()
	if !running {
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is not running", c.ID))
	}
	if spec == nil {
		// started by an earlier daemon: the runtime has the spec
		st, err := d.rt.Load(c.ID)
		if err != nil {
			return err
		}
		if spec, err = d.rt.Spec(st); err != nil {
			return err
		}
		rootfs = st.Rootfs
	}
	proc, err := oci.ExecProcess(spec, rootfs, &e.Config)
	if err != nil {
		return err
	}
	var streams monitor.Streams
	if !cfg.Detach {
		if e.Config.AttachStdin {
			streams.Stdin = cfg.Stdin
		}
		if e.Config.AttachStdout {
			streams.Stdout = cfg.Stdout
		}
		if e.Config.AttachStderr {
			streams.Stderr = cfg.Stderr
			if e.Config.Tty {
				streams.Stderr = cfg.Stdout
			}
		}
	}
	mcfg := monitor.Config{ID: e.key(), Tty: e.Config.Tty, OpenStdin: e.Config.AttachStdin && !cfg.Detach, StdinOnce: true}
	launch := d.mon.Launcher(mcfg)
	var (
		wait     func() error
		attached chan error
	)
	opts := runtime.ExecOpts{
		Process: proc,
		// The monitor knows the process once it is launched; attaching
		// to it goes on while the process joins the container, and
		// must be done before its program runs (Ready).
		Launch: func(cmd *exec.Cmd) (runtime.Child, error) {
			child, err := launch(cmd)
			if err != nil || cfg.Detach {
				return child, err
			}
			attached = make(chan error, 1)
			go func() {
				w, err := d.mon.AttachStart(ctx, e.key(), streams)
				wait = w
				attached <- err
			}()
			return child, nil
		},
	}
	// the attach's result, once: Ready waits for it, and so does a failed
	// exec before it returns
	attachResult := sync.OnceValue(func() error {
		if attached == nil {
			return nil
		}
		return <-attached
	})
	opts.Ready = attachResult
	if e.Config.Tty {
		opts.Console = d.mon.Console(e.key())
	}
	pid, err := d.rt.Exec(c.ID, opts)
	if err != nil {
		// An attach still going on would write to the client's stream
		// while the caller reports the error there: it ends first (the
		// monitor drops the process's streams on Forget).
		attachErr := attachResult()
		d.mon.Forget(e.key())
		if attached != nil && attachErr == nil {
			done := make(chan struct{})
			go func() { wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				d.log.Warn("exec: attach did not end after a failed start", "id", e.ID)
			}
		}
		e.failed(err)
		return err
	}
	e.mu.Lock()
	e.Pid, e.Running = pid, true
	e.mu.Unlock()
	if err := d.mon.Watch(e.key(), pid); err != nil {
		return err
	}
	d.publish(c, events.Action("exec_start: "+strings.Join(e.Config.Cmd, " ")), map[string]string{"execID": e.ID})
	if cfg.Detach {
		return nil
	}
	err = wait()
	select {
	case <-e.exited:
	case <-time.After(5 * time.Second):
	}
	return ignoreDetach(err)
}

// failed records a process that could not be started, with the exit
// code Docker gives it: 127 when the program is not found, else 126
// (it cannot be invoked), so that inspect and the CLI report it.
func (e *execConfig) failed(err error) {
	code := 126
	msg := strings.ToLower(err.Error())
	if len(e.Config.Cmd) > 0 && strings.Contains(msg, strings.ToLower(e.Config.Cmd[0])) &&
		(strings.Contains(msg, "executable file not found") || strings.Contains(msg, "no such file or directory")) {
		code = 127
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ExitCode, e.Running = &code, false
	select {
	case <-e.exited:
	default:
		close(e.exited)
	}
}

// execExited records an exec process's exit.
func (d *Daemon) execExited(ev monitor.Exit) {
	_, execID, _ := strings.Cut(ev.ID, "/")
	d.mon.Forget(ev.ID)
	e, err := d.getExec(execID)
	if err != nil {
		return
	}
	e.mu.Lock()
	code := ev.Code
	e.ExitCode, e.Running = &code, false
	select {
	case <-e.exited:
	default:
		close(e.exited)
	}
	e.mu.Unlock()
	if c, err := d.store.Get(e.ContainerID); err == nil {
		d.publish(c, events.ActionExecDie, map[string]string{"execID": e.ID, "exitCode": fmt.Sprint(code)})
	}
}

// ExecResize resizes the exec's terminal.
func (d *Daemon) ExecResize(ctx context.Context, id string, h, w uint16) error {
	e, err := d.getExec(id)
	if err != nil {
		return err
	}
	return d.mon.Resize(e.key(), h, w)
}

// ExecInspect answers `exec inspect`.
func (d *Daemon) ExecInspect(ctx context.Context, id string) (*containertypes.ExecInspectResponse, error) {
	e, err := d.getExec(id)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	r := &containertypes.ExecInspectResponse{
		ID:          e.ID,
		Running:     e.Running,
		OpenStdin:   e.Config.AttachStdin,
		OpenStdout:  e.Config.AttachStdout,
		OpenStderr:  e.Config.AttachStderr,
		ContainerID: e.ContainerID,
		Pid:         e.Pid,
		ProcessConfig: &containertypes.ExecProcessConfig{
			Tty:        e.Config.Tty,
			Entrypoint: e.Config.Cmd[0],
			Arguments:  e.Config.Cmd[1:],
			Privileged: &e.Config.Privileged,
			User:       e.Config.User,
		},
	}
	if e.ExitCode != nil {
		code := *e.ExitCode
		r.ExitCode = &code
	}
	return r, nil
}
