// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package container

import (
	"context"
	"errors"
	"io"

	"github.com/berth-project/berth/internal/cli/client"
	"github.com/berth-project/berth/internal/cli/command"
	"github.com/moby/term"
	"github.com/spf13/cobra"
)

// ExecOptions are the flags of "exec".
type ExecOptions struct {
	Detach, Interactive, TTY, Privileged bool
	DetachKeys, User, Workdir            string
	Env, EnvFile                         []string
}

// NewExecCommand returns "exec".
func NewExecCommand(cli *command.Cli) *cobra.Command {
	var opts ExecOptions
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Execute a command in a running container",
		Args:  command.RequiresMinArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExec(cmd.Context(), cli, &opts, args[0], args[1:])
		},
	}
	fs := cmd.Flags()
	fs.SetInterspersed(false)
	fs.BoolVarP(&opts.Detach, "detach", "d", false, "Detached mode: run command in the background")
	fs.StringVar(&opts.DetachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	fs.StringArrayVarP(&opts.Env, "env", "e", nil, "Set environment variables")
	fs.StringArrayVar(&opts.EnvFile, "env-file", nil, "Read in a file of environment variables")
	fs.BoolVarP(&opts.Interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	fs.BoolVar(&opts.Privileged, "privileged", false, "Give extended privileges to the command")
	fs.BoolVarP(&opts.TTY, "tty", "t", false, "Allocate a pseudo-TTY")
	fs.StringVarP(&opts.User, "user", "u", "", "Username or UID (format: \"<name|uid>[:<group|gid>]\")")
	fs.StringVarP(&opts.Workdir, "workdir", "w", "", "Working directory inside the container")
	return cmd
}

// ExecRequest maps the exec flags to the exec create request.
func (o *ExecOptions) ExecRequest(cmd []string) (client.ExecCreateOptions, error) {
	env, err := readKVFiles(o.EnvFile, o.Env, true)
	if err != nil {
		return client.ExecCreateOptions{}, err
	}
	r := client.ExecCreateOptions{
		User: o.User, Privileged: o.Privileged, TTY: o.TTY, Env: env, WorkingDir: o.Workdir,
		Cmd: cmd, DetachKeys: o.DetachKeys,
	}
	if !o.Detach {
		r.AttachStdin = o.Interactive
		r.AttachStdout, r.AttachStderr = true, true
	}
	return r, nil
}

func runExec(ctx context.Context, cli *command.Cli, opts *ExecOptions, name string, cmd []string) error {
	cl, err := cli.Client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := opts.ExecRequest(cmd)
	if err != nil {
		return err
	}
	// Docker's CLI inspects the container first; exec create answers
	// the same errors for a missing or stopped container (404, 409), and
	// one request fewer is a millisecond less for every exec.
	if !opts.Detach {
		if err := cli.In().CheckTty(req.AttachStdin, req.TTY); err != nil {
			return err
		}
	}
	var size client.ConsoleSize
	if req.TTY && cli.Out().IsTerminal() {
		h, w := cli.Out().Size()
		size = client.ConsoleSize{Height: h, Width: w}
		req.ConsoleSize = size
	}
	ex, err := cl.ExecCreate(ctx, name, req)
	if err != nil {
		return err
	}
	if opts.Detach {
		_, err := cl.ExecStart(ctx, ex.ID, client.ExecStartOptions{Detach: true, TTY: req.TTY, ConsoleSize: size})
		return err
	}
	resp, err := cl.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{TTY: req.TTY, ConsoleSize: size})
	if err != nil {
		return err
	}
	defer resp.Close()
	s := &streamer{cli: cli, resp: resp.HijackedResponse, tty: req.TTY, detachKeys: opts.DetachKeys,
		out: cli.Out(), err: cli.Err()}
	if req.AttachStdin {
		s.in = cli.In()
	}
	if req.TTY && cli.Out().IsTerminal() {
		monitorTTYSize(ctx, cli, execResizer(cl, ex.ID))
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
	ins, err := cl.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{})
	if err != nil {
		return err
	}
	if ins.ExitCode != 0 {
		return command.StatusError{StatusCode: ins.ExitCode}
	}
	return nil
}
