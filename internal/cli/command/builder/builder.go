// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package builder holds the "builder" commands: build (as "build") and
// prune, which empties the build cache.
package builder

import (
	"fmt"

	"github.com/berth-project/berth/internal/cli/client"
	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/cli/command"
	"github.com/berth-project/berth/internal/cli/command/container"
	"github.com/berth-project/berth/internal/cli/command/image"
)

// NewBuilderCommand returns "builder".
func NewBuilderCommand(cli *command.Cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "builder",
		Short: "Manage builds",
		Args:  command.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(image.NewBuildCommand(cli), newPruneCommand(cli))
	return cmd
}

func newPruneCommand(cli *command.Cli) *cobra.Command {
	var all, force bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Remove build cache",
		Args:  command.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			msg := "WARNING! This will remove all dangling build cache."
			if all {
				msg = "WARNING! This will remove all build cache."
			}
			if !force && !command.Confirm(cli, msg) {
				return command.StatusError{StatusCode: 1}
			}
			cl, err := cli.Client()
			if err != nil {
				return err
			}
			f, err := container.ParseFilters(filters)
			if err != nil {
				return err
			}
			res, err := cl.BuildCachePrune(cmd.Context(), client.BuildCachePruneOptions{All: all, Filters: f})
			if err != nil {
				return err
			}
			if len(res.Report.CachesDeleted) > 0 {
				fmt.Fprintln(cli.Out(), "Deleted build cache objects:")
				for _, id := range res.Report.CachesDeleted {
					fmt.Fprintln(cli.Out(), id)
				}
				fmt.Fprintln(cli.Out())
			}
			fmt.Fprintf(cli.Out(), "Total reclaimed space: %s\n", units.HumanSize(float64(res.Report.SpaceReclaimed)))
			return nil
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&all, "all", "a", false, "Remove all unused build cache, not just dangling ones")
	fs.BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	fs.StringArrayVar(&filters, "filter", nil, `Provide filter values (e.g. "until=24h")`)
	return cmd
}
