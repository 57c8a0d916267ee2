// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package container

import (
	"io"

	"github.com/berth-project/berth/internal/cli/client"
	"github.com/berth-project/berth/internal/cli/command"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/spf13/cobra"
)

// NewLogsCommand returns "logs".
func NewLogsCommand(cli *command.Cli) *cobra.Command {
	var opts client.ContainerLogsOptions
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER",
		Short: "Fetch the logs of a container",
		Args:  command.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := cli.Client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			c, err := cl.ContainerInspect(ctx, args[0], client.ContainerInspectOptions{})
			if err != nil {
				return err
			}
			opts.ShowStdout, opts.ShowStderr = true, true
			rc, err := cl.ContainerLogs(ctx, args[0], opts)
			if err != nil {
				return err
			}
			defer rc.Close()
			if c.Container.Config != nil && c.Container.Config.Tty {
				_, err = io.Copy(cli.Out(), rc)
			} else {
				_, err = stdcopy.StdCopy(cli.Out(), cli.Err(), rc)
			}
			return err
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&opts.Follow, "follow", "f", false, "Follow log output")
	fs.StringVar(&opts.Since, "since", "", `Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)`)
	fs.StringVar(&opts.Until, "until", "", `Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)`)
	fs.BoolVarP(&opts.Timestamps, "timestamps", "t", false, "Show timestamps")
	fs.BoolVar(&opts.Details, "details", false, "Show extra details provided to logs")
	fs.StringVarP(&opts.Tail, "tail", "n", "all", `Number of lines to show from the end of the logs`)
	return cmd
}
