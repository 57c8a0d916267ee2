// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package container

import (
	"github.com/berth-project/berth/internal/cli/command"
	"github.com/spf13/cobra"
)

// NewContainerCommand returns "container" with its subcommands.
func NewContainerCommand(cli *command.Cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "container",
		Short: "Manage containers",
		Args:  command.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(all(cli)...)
	cmd.AddCommand(NewInspectCommand(cli))
	return cmd
}

// TopLevelCommands are the container commands docker also has at the top
// level ("docker run" beside "docker container run").
func TopLevelCommands(cli *command.Cli) []*cobra.Command {
	cmds := all(cli)
	var out []*cobra.Command
	for _, c := range cmds {
		switch c.Name() {
		case "prune":
			continue
		case "ls":
			continue
		}
		out = append(out, c)
	}
	ps := NewPsCommand(cli)
	ps.Aliases = nil
	return append(out, ps)
}

func all(cli *command.Cli) []*cobra.Command {
	ls := NewPsCommand(cli)
	ls.Use = "ls [OPTIONS]"
	ls.Aliases = []string{"ps", "list"}
	return []*cobra.Command{
		NewRunCommand(cli), NewCreateCommand(cli), NewStartCommand(cli), NewStopCommand(cli),
		NewRestartCommand(cli), NewKillCommand(cli), NewRmCommand(cli), ls, NewLogsCommand(cli),
		NewAttachCommand(cli), NewExecCommand(cli), NewWaitCommand(cli), NewPauseCommand(cli),
		NewUnpauseCommand(cli), NewRenameCommand(cli), NewTopCommand(cli), NewStatsCommand(cli),
		NewPortCommand(cli), NewDiffCommand(cli), NewExportCommand(cli), NewCpCommand(cli),
		NewCommitCommand(cli), NewUpdateCommand(cli), NewPruneCommand(cli),
	}
}
