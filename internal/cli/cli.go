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
	"github.com/berth-project/berth/internal/cli/client"
	"os"
	"strings"

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
	root := newRootCommandFor(cli, args)
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
	return newRoot(cli, allCommands(cli))
}

// newRoot makes the root command with the given top-level commands.
func newRoot(cli *command.Cli, cmds []*cobra.Command) *cobra.Command {
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
	root.AddCommand(cmds...)
	setFlagErrors(root)
	return root
}

// newRootCommandFor is NewRootCommand for the command line args: with only
// the top-level command that args run, when it is one of topLevel's.
// Building every command and its flags costs about a millisecond of each
// call; help, completion and unknown commands get the whole tree.
func newRootCommandFor(cli *command.Cli, args []string) *cobra.Command {
	if mk, ok := topLevel[commandName(args)]; ok {
		return newRoot(cli, []*cobra.Command{mk(cli)})
	}
	return NewRootCommand(cli)
}

// allCommands makes every top-level command, in the order of help.
func allCommands(cli *command.Cli) []*cobra.Command {
	cmds := []*cobra.Command{
		container.NewContainerCommand(cli),
		system.NewSystemCommand(cli),
		system.NewInspectCommand(cli),
		system.NewVersionCommand(cli),
		system.NewInfoCommand(cli),
	}
	cmds = append(cmds, container.TopLevelCommands(cli)...)
	cmds = append(cmds, image.NewImageCommand(cli))
	cmds = append(cmds, image.TopLevelCommands(cli)...)
	return append(cmds,
		volume.NewVolumeCommand(cli),
		network.NewNetworkCommand(cli),
		builder.NewBuilderCommand(cli),
		system.NewEventsCommand(cli),
		registry.NewLoginCommand(cli),
		registry.NewLogoutCommand(cli),
	)
}

// topLevel makes each top-level command on its own, by the name a command
// line calls it (TestTopLevel checks it against allCommands).
var topLevel = map[string]func(*command.Cli) *cobra.Command{
	"container": container.NewContainerCommand,
	"system":    system.NewSystemCommand,
	"inspect":   system.NewInspectCommand,
	"version":   system.NewVersionCommand,
	"info":      system.NewInfoCommand,
	"run":       container.NewRunCommand,
	"create":    container.NewCreateCommand,
	"start":     container.NewStartCommand,
	"stop":      container.NewStopCommand,
	"restart":   container.NewRestartCommand,
	"kill":      container.NewKillCommand,
	"rm":        container.NewRmCommand,
	"logs":      container.NewLogsCommand,
	"attach":    container.NewAttachCommand,
	"exec":      container.NewExecCommand,
	"wait":      container.NewWaitCommand,
	"pause":     container.NewPauseCommand,
	"unpause":   container.NewUnpauseCommand,
	"rename":    container.NewRenameCommand,
	"top":       container.NewTopCommand,
	"stats":     container.NewStatsCommand,
	"port":      container.NewPortCommand,
	"diff":      container.NewDiffCommand,
	"export":    container.NewExportCommand,
	"cp":        container.NewCpCommand,
	"commit":    container.NewCommitCommand,
	"update":    container.NewUpdateCommand,
	"ps": func(cli *command.Cli) *cobra.Command {
		c := container.NewPsCommand(cli)
		c.Aliases = nil
		return c
	},
	"image":   image.NewImageCommand,
	"images":  image.NewListCommand,
	"rmi":     image.NewRemoveCommand,
	"pull":    image.NewPullCommand,
	"push":    image.NewPushCommand,
	"tag":     image.NewTagCommand,
	"save":    image.NewSaveCommand,
	"load":    image.NewLoadCommand,
	"import":  image.NewImportCommand,
	"history": image.NewHistoryCommand,
	"search":  image.NewSearchCommand,
	"build":   image.NewBuildCommand,
	"volume":  volume.NewVolumeCommand,
	"network": network.NewNetworkCommand,
	"builder": builder.NewBuilderCommand,
	"events":  system.NewEventsCommand,
	"login":   registry.NewLoginCommand,
	"logout":  registry.NewLogoutCommand,
}

// commandName is the first argument that is neither a global flag nor its
// value: the top-level command a command line runs ("" when there is
// none).
func commandName(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return ""
		case a == "-H" || a == "--host" || a == "--config" || a == "--context" || a == "-l" || a == "--log-level":
			i++ // the flag's value
		case strings.HasPrefix(a, "-"):
		default:
			return a
		}
	}
	return ""
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
