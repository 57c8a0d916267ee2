// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package container

import (
	"github.com/berth-project/berth/internal/cli/client"
	"github.com/berth-project/berth/internal/cli/command"
	"github.com/spf13/cobra"
)

// NewInspectCommand returns "container inspect".
func NewInspectCommand(cli *command.Cli) *cobra.Command {
	var format string
	var size bool
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Display detailed information on one or more containers",
		Args:  command.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := cli.Client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			return command.Inspect(cli.Out(), cli.Err(), args, format, func(ref string) (any, []byte, error) {
				r, err := cl.ContainerInspect(ctx, ref, client.ContainerInspectOptions{Size: size})
				return r.Container, r.Raw, err
			})
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template")
	cmd.Flags().BoolVarP(&size, "size", "s", false, "Display total file sizes")
	return cmd
}
