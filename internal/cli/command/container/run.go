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

// RunOptions are the flags of "run" beyond those of "create".
type RunOptions struct {
	ContainerOptions
	Detach     bool
	SigProxy   bool
	DetachKeys string
}

// NewRunCommand returns "run".
func NewRunCommand(cli *command.Cli) *cobra.Command {
	var opts RunOptions
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create and run a new container from an image",
		Args:  command.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRun(cmd, cli, &opts, args)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&opts.Detach, "detach", "d", false, "Run container in background and print container ID")
	fs.BoolVar(&opts.SigProxy, "sig-proxy", true, "Proxy received signals to the process")
	fs.StringVar(&opts.DetachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	opts.AddFlags(fs)
	return cmd
}

// ParseRun is Parse with what -d changes: nothing is attached.
func (o *RunOptions) ParseRun(args []string) (*CreateRequest, error) {
	req, err := o.Parse(args)
	if err != nil {
		return nil, err
	}
	if o.Detach {
		if len(o.Attach) > 0 {
			return nil, fmt.Errorf("conflicting options: cannot specify both --attach and --detach")
		}
		req.Config.AttachStdin, req.Config.AttachStdout, req.Config.AttachStderr = false, false, false
		req.Config.StdinOnce = false
	}
	return req, nil
}

func runRun(cmd *cobra.Command, cli *command.Cli, opts *RunOptions, args []string) error {
	cli.Client() // starts the version negotiation; errors come with the request
	warmCreateRequest()
	req, err := opts.ParseRun(args)
	if err != nil {
		return command.RunError(cmd, err)
	}
	cfg, hc := req.Config, req.HostConfig
	if err := cli.In().CheckTty(cfg.AttachStdin, cfg.Tty); err != nil {
		return command.RunError(cmd, err)
	}
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()

	id, err := createContainer(ctx, cli, &opts.ContainerOptions, req)
	if err != nil {
		return command.RunError(cmd, err)
	}
	cl, _ := cli.Client()
	if opts.SigProxy && !cfg.Tty && !opts.Detach {
		defer forwardSignals(ctx, cl, id)()
	}

	// Ask for the exit status before starting, so a short-lived container
	// cannot exit unnoticed; meanwhile attach (both must be in place
	// before the start, and neither needs the other).
	waitReady := make(chan client.ContainerWaitResult, 1)
	if opts.Detach {
		waitReady <- client.ContainerWaitResult{}
	} else {
		cond := container.WaitConditionNextExit
		if hc.AutoRemove {
			cond = container.WaitConditionRemoved
		}
		go func() { waitReady <- cl.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: cond}) }()
	}

	var streamDone chan error
	if cfg.AttachStdin || cfg.AttachStdout || cfg.AttachStderr {
		keys := opts.DetachKeys
		resp, err := cl.ContainerAttach(ctx, id, client.ContainerAttachOptions{
			Stream: true, Stdin: cfg.AttachStdin, Stdout: cfg.AttachStdout, Stderr: cfg.AttachStderr, DetachKeys: keys,
		})
		if err != nil {
			return command.RunError(cmd, err)
		}
		defer resp.Close()
		s := &streamer{cli: cli, resp: resp.HijackedResponse, tty: cfg.Tty, detachKeys: keys}
		if cfg.AttachStdin {
			s.in = cli.In()
		}
		if cfg.AttachStdout {
			s.out = cli.Out()
		}
		if cfg.AttachStderr {
			s.err = cli.Err()
			if cfg.Tty {
				s.err = cli.Out()
			}
		}
		streamDone = make(chan error, 1)
		go func() { streamDone <- s.stream(ctx) }()
	}

	wait := <-waitReady

	if _, err := cl.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		if hc.AutoRemove && wait.Result != nil {
			<-waitStatus(wait)
		}
		return command.RunError(cmd, err)
	}
	if cfg.Tty && cli.Out().IsTerminal() && !opts.Detach {
		monitorTTYSize(ctx, cli, containerResizer(cl, id))
	}
	if opts.Detach {
		fmt.Fprintln(cli.Out(), id)
		return nil
	}
	if streamDone != nil {
		if err := <-streamDone; err != nil {
			var esc term.EscapeError
			if errors.As(err, &esc) {
				return nil
			}
			if !errors.Is(err, io.EOF) {
				fmt.Fprintf(cli.Err(), "Error: %v\n", err)
			}
		}
	}
	status := <-waitStatus(wait)
	if status != 0 {
		return command.StatusError{StatusCode: status}
	}
	return nil
}

// waitStatus turns a wait result into an exit status: the container's,
// or 125 when waiting failed.
func waitStatus(w client.ContainerWaitResult) <-chan int {
	ch := make(chan int, 1)
	go func() {
		select {
		case r := <-w.Result:
			if r.Error != nil {
				ch <- 125
				return
			}
			ch <- int(r.StatusCode)
		case <-w.Error:
			ch <- 125
		}
	}()
	return ch
}
