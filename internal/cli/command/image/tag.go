// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package image

import (
	"errors"
	"fmt"
	"strings"

	"github.com/berth-project/berth/internal/cli/client"
	"github.com/berth-project/berth/internal/cli/command"
	"github.com/spf13/cobra"
)

// NewTagCommand returns "tag".
func NewTagCommand(cli *command.Cli) *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		Short: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
		Args:  command.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := cli.Client()
			if err != nil {
				return err
			}
			_, err = cl.ImageTag(cmd.Context(), client.ImageTagOptions{Source: args[0], Target: args[1]})
			return err
		},
	}
}

// NewRemoveCommand returns "rmi" (also "image rm").
func NewRemoveCommand(cli *command.Cli) *cobra.Command {
	var opts client.ImageRemoveOptions
	var noPrune bool
	cmd := &cobra.Command{
		Use:   "rmi [OPTIONS] IMAGE [IMAGE...]",
		Short: "Remove one or more images",
		Args:  command.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := cli.Client()
			if err != nil {
				return err
			}
			opts.PruneChildren = !noPrune
			var errs []string
			for _, img := range args {
				res, err := cl.ImageRemove(cmd.Context(), img, opts)
				if err != nil {
					errs = append(errs, err.Error())
					continue
				}
				for _, d := range res.Items {
					if d.Deleted != "" {
						fmt.Fprintf(cli.Out(), "Deleted: %s\n", d.Deleted)
					} else {
						fmt.Fprintf(cli.Out(), "Untagged: %s\n", d.Untagged)
					}
				}
			}
			if len(errs) > 0 {
				return errors.New(strings.Join(errs, "\n"))
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&opts.Force, "force", "f", false, "Force removal of the image")
	cmd.Flags().BoolVar(&noPrune, "no-prune", false, "Do not delete untagged parents")
	return cmd
}
