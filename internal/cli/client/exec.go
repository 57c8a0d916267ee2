// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package client

import (
	"context"
	"errors"

	"github.com/moby/moby/api/types/container"
)

// ConsoleSize is a terminal's size.
type ConsoleSize struct{ Height, Width uint }

// consoleSize is size for a request: only with a terminal, and nil when
// unset.
func consoleSize(tty bool, size ConsoleSize) (*[2]uint, error) {
	if size.Height == 0 && size.Width == 0 {
		return nil, nil
	}
	if !tty {
		return nil, errors.New("console size is only supported when TTY is enabled")
	}
	return &[2]uint{size.Height, size.Width}, nil
}

// ExecCreateOptions is the process to run in a container.
type ExecCreateOptions struct {
	User         string
	Privileged   bool
	TTY          bool
	ConsoleSize  ConsoleSize
	AttachStdin  bool
	AttachStderr bool
	AttachStdout bool
	DetachKeys   string
	Env          []string
	WorkingDir   string
	Cmd          []string
}

// ExecCreateResult is the new exec.
type ExecCreateResult struct{ ID string }

// ExecCreate prepares a process to run in a container.
func (c *Client) ExecCreate(ctx context.Context, id string, o ExecCreateOptions) (ExecCreateResult, error) {
	if err := emptyID("exec", id); err != nil {
		return ExecCreateResult{}, err
	}
	size, err := consoleSize(o.TTY, o.ConsoleSize)
	if err != nil {
		return ExecCreateResult{}, err
	}
	req := container.ExecCreateRequest{
		User: o.User, Privileged: o.Privileged, Tty: o.TTY, ConsoleSize: size,
		AttachStdin: o.AttachStdin, AttachStderr: o.AttachStderr, AttachStdout: o.AttachStdout,
		DetachKeys: o.DetachKeys, Env: o.Env, WorkingDir: o.WorkingDir, Cmd: o.Cmd,
	}
	var r container.ExecCreateResponse
	err = c.call(ctx, "POST", "/containers/"+id+"/exec", nil, req, &r)
	return ExecCreateResult{ID: r.ID}, err
}

// ExecStartOptions starts an exec detached.
type ExecStartOptions struct {
	Detach      bool
	TTY         bool
	ConsoleSize ConsoleSize
}

// ExecStartResult is empty.
type ExecStartResult struct{}

// ExecStart starts an exec without attaching to it.
func (c *Client) ExecStart(ctx context.Context, id string, o ExecStartOptions) (ExecStartResult, error) {
	if err := emptyID("exec", id); err != nil {
		return ExecStartResult{}, err
	}
	size, err := consoleSize(o.TTY, o.ConsoleSize)
	if err != nil {
		return ExecStartResult{}, err
	}
	req := container.ExecStartRequest{Detach: o.Detach, Tty: o.TTY, ConsoleSize: size}
	return ExecStartResult{}, c.call(ctx, "POST", "/exec/"+id+"/start", nil, req, nil)
}

// ExecAttachOptions starts an exec attached.
type ExecAttachOptions struct {
	TTY         bool
	ConsoleSize ConsoleSize
}

// ExecAttachResult is the exec's stream.
type ExecAttachResult struct{ HijackedResponse }

// ExecAttach starts an exec and attaches to its streams.
func (c *Client) ExecAttach(ctx context.Context, id string, o ExecAttachOptions) (ExecAttachResult, error) {
	if err := emptyID("exec", id); err != nil {
		return ExecAttachResult{}, err
	}
	size, err := consoleSize(o.TTY, o.ConsoleSize)
	if err != nil {
		return ExecAttachResult{}, err
	}
	h, err := c.hijack(ctx, "/exec/"+id+"/start", nil, container.ExecStartRequest{Tty: o.TTY, ConsoleSize: size})
	return ExecAttachResult{h}, err
}

// ExecInspectOptions has nothing to set.
type ExecInspectOptions struct{}

// ExecInspectResult is an exec's state.
type ExecInspectResult struct {
	ID          string
	ContainerID string
	Running     bool
	ExitCode    int
	PID         int
}

// ExecInspect returns an exec's state.
func (c *Client) ExecInspect(ctx context.Context, id string, _ ExecInspectOptions) (ExecInspectResult, error) {
	if err := emptyID("exec", id); err != nil {
		return ExecInspectResult{}, err
	}
	var r container.ExecInspectResponse
	if err := c.call(ctx, "GET", "/exec/"+id+"/json", nil, nil, &r); err != nil {
		return ExecInspectResult{}, err
	}
	res := ExecInspectResult{ID: r.ID, ContainerID: r.ContainerID, Running: r.Running, PID: r.Pid}
	if r.ExitCode != nil {
		res.ExitCode = *r.ExitCode
	}
	return res, nil
}

// ExecResizeOptions is the terminal's new size.
type ExecResizeOptions struct{ Height, Width uint }

// ExecResizeResult is empty.
type ExecResizeResult struct{}

// ExecResize resizes an exec's terminal.
func (c *Client) ExecResize(ctx context.Context, id string, o ExecResizeOptions) (ExecResizeResult, error) {
	if err := emptyID("exec", id); err != nil {
		return ExecResizeResult{}, err
	}
	return ExecResizeResult{}, c.call(ctx, "POST", "/exec/"+id+"/resize", sizeQuery(o.Height, o.Width), nil, nil)
}
