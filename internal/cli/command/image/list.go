// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package image holds the image commands: images, pull, push, tag, rmi,
// save, load, import, history, inspect, prune, search and build.
package image

import (
	"github.com/berth-project/berth/internal/cli/client"
	"github.com/berth-project/berth/internal/cli/command"
	"github.com/berth-project/berth/internal/cli/command/container"
	"github.com/berth-project/berth/internal/cli/formatter"
	"github.com/spf13/cobra"
)

// ListOptions are the flags of "images".
type ListOptions struct {
	All, Quiet, Digests, NoTrunc bool
	Filters                      []string
	Format                       string
}

// NewListCommand returns "images" (also "image ls").
func NewListCommand(cli *command.Cli) *cobra.Command {
	var opts ListOptions
	cmd := &cobra.Command{
		Use:   "images [OPTIONS] [REPOSITORY[:TAG]]",
		Short: "List images",
		Args:  command.RequiresMaxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := cli.Client()
			if err != nil {
				return err
			}
			f, err := container.ParseFilters(opts.Filters)
			if err != nil {
				return err
			}
			if len(args) == 1 {
				f.Add("reference", args[0])
			}
			res, err := cl.ImageList(cmd.Context(), client.ImageListOptions{All: opts.All, Filters: f})
			if err != nil {
				return err
			}
			ctx := formatter.Context{Output: cli.Out(), Trunc: !opts.NoTrunc,
				Format: formatter.ImageFormat(opts.Format, opts.Quiet, opts.Digests)}
			return formatter.ImageWrite(ctx, res.Items, opts.Digests)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&opts.All, "all", "a", false, "Show all images (default hides intermediate images)")
	fs.BoolVarP(&opts.Quiet, "quiet", "q", false, "Only show image IDs")
	fs.BoolVar(&opts.Digests, "digests", false, "Show digests")
	fs.BoolVar(&opts.NoTrunc, "no-trunc", false, "Don't truncate output")
	fs.StringArrayVarP(&opts.Filters, "filter", "f", nil, "Filter output based on conditions provided")
	fs.StringVar(&opts.Format, "format", "", "Format output using a custom template")
	return cmd
}
