// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package container

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/berth-project/berth/internal/cli/client"
	"github.com/berth-project/berth/internal/cli/command"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/term"
	"github.com/spf13/cobra"
)

// AttachOptions are the flags of "attach".
type AttachOptions struct {
	NoStdin    bool
	SigProxy   bool
	DetachKeys string
}

// NewAttachCommand returns "attach".
func NewAttachCommand(cli *command.Cli) *cobra.Command {
	var opts AttachOptions
	cmd := &cobra.Command{
		Use:   "attach [OPTIONS] CONTAINER",
		Short: "Attach local standard input, output, and error streams to a running container",
		Args:  command.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAttach(cmd.Context(), cli, args[0], &opts)
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&opts.NoStdin, "no-stdin", false, "Do not attach STDIN")
	fs.BoolVar(&opts.SigProxy, "sig-proxy", true, "Proxy all received signals to the process")
	fs.StringVar(&opts.DetachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	return cmd
}

func runAttach(ctx context.Context, cli *command.Cli, name string, opts *AttachOptions) error {
	cl, err := cli.Client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ins, err := cl.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if err != nil {
		return err
	}
	c := ins.Container
	if c.State == nil || !c.State.Running {
		return errors.New("You cannot attach to a stopped container, start it first")
	}
	if c.State.Paused {
		return errors.New("You cannot attach to a paused container, unpause it first")
	}
	if c.State.Restarting {
		return errors.New("You cannot attach to a restarting container, wait until it is running")
	}
	stdin := c.Config.OpenStdin && !opts.NoStdin
	if err := cli.In().CheckTty(stdin, c.Config.Tty); err != nil {
		return err
	}
	if opts.SigProxy && !c.Config.Tty {
		defer forwardSignals(ctx, cl, name)()
	}
	wait := cl.ContainerWait(ctx, name, client.ContainerWaitOptions{})
	resp, err := cl.ContainerAttach(ctx, name, client.ContainerAttachOptions{
		Stream: true, Stdin: stdin, Stdout: true, Stderr: true, DetachKeys: opts.DetachKeys,
	})
	if err != nil {
		return err
	}
	defer resp.Close()
	s := &streamer{cli: cli, resp: resp.HijackedResponse, tty: c.Config.Tty, detachKeys: opts.DetachKeys,
		out: cli.Out(), err: cli.Err()}
	if stdin {
		s.in = cli.In()
	}
	if c.Config.Tty && cli.Out().IsTerminal() {
		monitorTTYSize(ctx, cli, containerResizer(cl, name))
	}
	if err := s.stream(ctx); err != nil {
		var esc term.EscapeError
		if errors.As(err, &esc) {
			return nil
		}
		if !errors.Is(err, io.EOF) {
			return err
		}
	}
	return exitStatus(wait)
}

func exitStatus(w client.ContainerWaitResult) error {
	select {
	case r := <-w.Result:
		if r.Error != nil {
			return errors.New(r.Error.Message)
		}
		if r.StatusCode != 0 {
			return command.StatusError{StatusCode: int(r.StatusCode)}
		}
	case err := <-w.Error:
		return err
	}
	return nil
}

// NewStartCommand returns "start".
func NewStartCommand(cli *command.Cli) *cobra.Command {
	var attach, interactive bool
	var detachKeys string
	cmd := &cobra.Command{
		Use:   "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Start one or more stopped containers",
		Args:  command.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !attach && !interactive {
				return forEach(cmd.Context(), cli, args, func(ctx context.Context, cl *client.Client, id string) error {
					_, err := cl.ContainerStart(ctx, id, client.ContainerStartOptions{})
					return err
				})
			}
			if len(args) > 1 {
				return errors.New("you cannot start and attach multiple containers at once")
			}
			return startAttached(cmd.Context(), cli, args[0], attach, interactive, detachKeys)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&attach, "attach", "a", false, "Attach STDOUT/STDERR and forward signals")
	fs.BoolVarP(&interactive, "interactive", "i", false, "Attach container's STDIN")
	fs.StringVar(&detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	return cmd
}

func startAttached(ctx context.Context, cli *command.Cli, name string, attach, interactive bool, keys string) error {
	cl, err := cli.Client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ins, err := cl.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if err != nil {
		return err
	}
	c := ins.Container
	if c.State != nil && c.State.Running {
		return fmt.Errorf("you cannot start and attach a running container; use attach instead")
	}
	stdin := interactive && c.Config.OpenStdin
	if !c.Config.Tty {
		defer forwardSignals(ctx, cl, name)()
	}
	resp, err := cl.ContainerAttach(ctx, name, client.ContainerAttachOptions{
		Stream: true, Stdin: stdin, Stdout: c.Config.AttachStdout, Stderr: c.Config.AttachStderr, DetachKeys: keys,
	})
	if err != nil {
		return err
	}
	defer resp.Close()
	s := &streamer{cli: cli, resp: resp.HijackedResponse, tty: c.Config.Tty, detachKeys: keys}
	if stdin {
		s.in = cli.In()
	}
	if c.Config.AttachStdout {
		s.out = cli.Out()
	}
	if c.Config.AttachStderr {
		s.err = cli.Err()
	}
	done := make(chan error, 1)
	go func() { done <- s.stream(ctx) }()
	wait := cl.ContainerWait(ctx, name, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	if _, err := cl.ContainerStart(ctx, name, client.ContainerStartOptions{}); err != nil {
		return err
	}
	if c.Config.Tty && cli.Out().IsTerminal() {
		monitorTTYSize(ctx, cli, containerResizer(cl, name))
	}
	if err := <-done; err != nil {
		var esc term.EscapeError
		if errors.As(err, &esc) {
			return nil
		}
		if !errors.Is(err, io.EOF) {
			return err
		}
	}
	return exitStatus(wait)
}
