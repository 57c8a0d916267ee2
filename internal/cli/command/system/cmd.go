// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package system

import (
	"github.com/berth-project/berth/internal/cli/command"
	"github.com/spf13/cobra"
)

// NewSystemCommand returns "system" with its subcommands.
func NewSystemCommand(cli *command.Cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "system",
		Short: "Manage Docker",
		Args:  command.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(NewInfoCommand(cli), NewEventsCommand(cli), NewDfCommand(cli), NewPruneCommand(cli))
	return cmd
}
