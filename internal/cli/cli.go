// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package cli is berth's docker-compatible command line. It talks to the
// daemon only through the Engine API client; every command lives in
// command/<noun> and renders its output through formatter.
package cli

import (
	"context"
	"errors"
	"fmt"
	"github.com/moby/moby/client"
	"os"

	"github.com/berth-project/berth/internal/cli/command"
	"github.com/berth-project/berth/internal/cli/command/builder"
	"github.com/berth-project/berth/internal/cli/command/container"
	"github.com/berth-project/berth/internal/cli/command/image"
	"github.com/berth-project/berth/internal/cli/command/network"
	"github.com/berth-project/berth/internal/cli/command/registry"
	"github.com/berth-project/berth/internal/cli/command/system"
	"github.com/berth-project/berth/internal/cli/command/volume"
	"github.com/spf13/cobra"
)

// Main runs the CLI with args (without the program name) and returns the
// exit status: the container's for run/start -a/exec, 125 for a CLI or
// daemon error of run/create, 1 for other errors.
func Main(args []string) int {
	cli := command.NewCli(os.Stdin, os.Stdout, os.Stderr)
	defer cli.Close()
	root := NewRootCommand(cli)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	if err == nil {
		return 0
	}
	var se command.StatusError
	if errors.As(err, &se) {
		if se.Status != "" {
			fmt.Fprintln(os.Stderr, se.Status)
		}
		if se.StatusCode == 0 {
			return 1
		}
		return se.StatusCode
	}
	if client.IsErrConnectionFailed(err) {
		fmt.Fprintln(os.Stderr, command.ConnectionFailed(err))
		return 1
	}
	fmt.Fprintln(os.Stderr, err)
	return 1
}

// NewRootCommand returns the "berth" command with every subcommand.
func NewRootCommand(cli *command.Cli) *cobra.Command {
	var showVersion bool
	root := &cobra.Command{
		Use:              "berth [OPTIONS] COMMAND [ARG...]",
		Short:            "A self-sufficient runtime for containers",
		SilenceUsage:     true,
		SilenceErrors:    true,
		TraverseChildren: true,
		Args:             command.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if showVersion {
				fmt.Fprintf(cli.Out(), "berth version %s\n", system.Version)
				return nil
			}
			return cmd.Help()
		},
	}
	root.SetFlagErrorFunc(command.FlagErrorFunc)
	root.SetOut(cli.Out())
	root.SetErr(cli.Err())
	root.CompletionOptions.DisableDefaultCmd = true
	fs := root.Flags()
	fs.StringVarP(&cli.Host, "host", "H", "", "Daemon socket to connect to")
	fs.Var(envFlag{cli, "DOCKER_CONFIG"}, "config", "Location of client config files")
	fs.String("context", "", "Name of the context to use to connect to the daemon")
	fs.BoolP("debug", "D", false, "Enable debug mode")
	fs.StringP("log-level", "l", "info", `Set the logging level ("debug", "info", "warn", "error", "fatal")`)
	fs.Bool("tls", false, "Use TLS; implied by --tlsverify")
	fs.MarkHidden("tls")
	fs.BoolVarP(&showVersion, "version", "v", false, "Print version information and quit")
	root.AddCommand(
		container.NewContainerCommand(cli),
		system.NewSystemCommand(cli),
		system.NewInspectCommand(cli),
		system.NewVersionCommand(cli),
		system.NewInfoCommand(cli),
	)
	root.AddCommand(container.TopLevelCommands(cli)...)
	root.AddCommand(image.NewImageCommand(cli))
	root.AddCommand(image.TopLevelCommands(cli)...)
	root.AddCommand(
		volume.NewVolumeCommand(cli),
		network.NewNetworkCommand(cli),
		builder.NewBuilderCommand(cli),
		system.NewEventsCommand(cli),
		registry.NewLoginCommand(cli),
		registry.NewLogoutCommand(cli),
	)
	setFlagErrors(root)
	return root
}

func setFlagErrors(c *cobra.Command) {
	c.SetFlagErrorFunc(command.FlagErrorFunc)
	if c.Flags().Lookup("help") == nil {
		c.Flags().Bool("help", false, "Print usage")
	}
	for _, sub := range c.Commands() {
		setFlagErrors(sub)
	}
}

// envFlag is a global flag that overrides an environment variable.
type envFlag struct {
	cli *command.Cli
	key string
}

func (f envFlag) String() string { return "" }
func (f envFlag) Type() string   { return "string" }
func (f envFlag) Set(v string) error {
	f.cli.Getenv = overrideEnv(f.cli.Getenv, f.key, v)
	return nil
}

func overrideEnv(get func(string) string, key, val string) func(string) string {
	return func(k string) string {
		if k == key {
			return val
		}
		return get(k)
	}
}
