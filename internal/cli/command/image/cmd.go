// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package image

import (
	"github.com/berth-project/berth/internal/cli/command"
	"github.com/spf13/cobra"
)

// NewImageCommand returns "image" with its subcommands.
func NewImageCommand(cli *command.Cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Manage images",
		Args:  command.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	ls := NewListCommand(cli)
	ls.Use, ls.Aliases = "ls [OPTIONS] [REPOSITORY[:TAG]]", []string{"images", "list"}
	rm := NewRemoveCommand(cli)
	rm.Use, rm.Aliases = "rm [OPTIONS] IMAGE [IMAGE...]", []string{"rmi", "remove"}
	cmd.AddCommand(ls, rm, NewPullCommand(cli), NewPushCommand(cli), NewTagCommand(cli), NewSaveCommand(cli),
		NewLoadCommand(cli), NewImportCommand(cli), NewHistoryCommand(cli), NewInspectCommand(cli),
		NewPruneCommand(cli), NewBuildCommand(cli))
	return cmd
}

// TopLevelCommands are the image commands docker has at the top level.
func TopLevelCommands(cli *command.Cli) []*cobra.Command {
	return []*cobra.Command{NewListCommand(cli), NewRemoveCommand(cli), NewPullCommand(cli), NewPushCommand(cli),
		NewTagCommand(cli), NewSaveCommand(cli), NewLoadCommand(cli), NewImportCommand(cli),
		NewHistoryCommand(cli), NewSearchCommand(cli), NewBuildCommand(cli)}
}
