// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package volume holds "volume create, ls, inspect, rm, prune".
package volume

import (
	"errors"
	"fmt"
	"strings"

	"github.com/berth-project/berth/internal/cli/client"
	"github.com/berth-project/berth/internal/cli/command"
	"github.com/berth-project/berth/internal/cli/command/container"
	"github.com/berth-project/berth/internal/cli/command/system"
	"github.com/berth-project/berth/internal/cli/formatter"
	"github.com/docker/go-units"
	"github.com/spf13/cobra"
)

// NewVolumeCommand returns "volume" with its subcommands.
func NewVolumeCommand(cli *command.Cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "volume COMMAND",
		Short: "Manage volumes",
		Args:  command.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newCreate(cli), newList(cli), newInspect(cli), newRemove(cli), newPrune(cli))
	return cmd
}

func kv(list []string) map[string]string {
	m := map[string]string{}
	for _, s := range list {
		k, v, _ := strings.Cut(s, "=")
		m[k] = v
	}
	return m
}

func newCreate(cli *command.Cli) *cobra.Command {
	var opts client.VolumeCreateOptions
	var driverOpts, labels []string
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] [VOLUME]",
		Short: "Create a volume",
		Args:  command.RequiresMaxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if opts.Name != "" {
					return errors.New("conflicting options: cannot specify a volume-name through both --name and as a positional arg")
				}
				opts.Name = args[0]
			}
			cl, err := cli.Client()
			if err != nil {
				return err
			}
			opts.DriverOpts, opts.Labels = kv(driverOpts), kv(labels)
			res, err := cl.VolumeCreate(cmd.Context(), opts)
			if err != nil {
				return err
			}
			fmt.Fprintln(cli.Out(), res.Volume.Name)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&opts.Driver, "driver", "d", "local", "Specify volume driver name")
	fs.StringVar(&opts.Name, "name", "", "Specify volume name")
	fs.MarkHidden("name")
	fs.StringArrayVarP(&driverOpts, "opt", "o", nil, "Set driver specific options")
	fs.StringArrayVar(&labels, "label", nil, "Set metadata for a volume")
	return cmd
}

func newList(cli *command.Cli) *cobra.Command {
	var quiet bool
	var format string
	var filters []string
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Args:    command.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := cli.Client()
			if err != nil {
				return err
			}
			f, err := container.ParseFilters(filters)
			if err != nil {
				return err
			}
			res, err := cl.VolumeList(cmd.Context(), client.VolumeListOptions{Filters: f})
			if err != nil {
				return err
			}
			ff := formatter.Format(format)
			switch {
			case quiet:
				ff = "{{.Name}}"
			case format == "" || format == formatter.TableFormatKey:
				ff = formatter.DefaultVolumeTableFormat
			}
			return formatter.VolumeWrite(formatter.Context{Output: cli.Out(), Format: ff}, res.Items)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&quiet, "quiet", "q", false, "Only display volume names")
	fs.StringVar(&format, "format", "", "Format output using a custom template")
	fs.StringArrayVarP(&filters, "filter", "f", nil, "Provide filter values (e.g. \"dangling=true\")")
	return cmd
}

func newInspect(cli *command.Cli) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] VOLUME [VOLUME...]",
		Short: "Display detailed information on one or more volumes",
		Args:  command.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := cli.Client()
			if err != nil {
				return err
			}
			return command.Inspect(cli.Out(), cli.Err(), args, format, system.InspectVolume(cmd.Context(), cl))
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template")
	return cmd
}

func newRemove(cli *command.Cli) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] VOLUME [VOLUME...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more volumes",
		Args:    command.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := cli.Client()
			if err != nil {
				return err
			}
			var errs []string
			for _, v := range args {
				if _, err := cl.VolumeRemove(cmd.Context(), v, client.VolumeRemoveOptions{Force: force}); err != nil {
					errs = append(errs, err.Error())
					continue
				}
				fmt.Fprintln(cli.Out(), v)
			}
			if len(errs) > 0 {
				return errors.New(strings.Join(errs, "\n"))
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the removal of one or more volumes")
	return cmd
}

func newPrune(cli *command.Cli) *cobra.Command {
	var all, force bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused local volumes",
		Args:  command.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			warning := "WARNING! This will remove anonymous local volumes not used by at least one container."
			if all {
				warning = "WARNING! This will remove all local volumes not used by at least one container."
			}
			if !force && !command.Confirm(cli, warning) {
				return command.StatusError{StatusCode: 1, Status: "Total reclaimed space: 0B"}
			}
			cl, err := cli.Client()
			if err != nil {
				return err
			}
			f, err := container.ParseFilters(filters)
			if err != nil {
				return err
			}
			res, err := cl.VolumePrune(cmd.Context(), client.VolumePruneOptions{All: all, Filters: f})
			if err != nil {
				return err
			}
			if len(res.Report.VolumesDeleted) > 0 {
				fmt.Fprintln(cli.Out(), "Deleted Volumes:")
				for _, v := range res.Report.VolumesDeleted {
					fmt.Fprintln(cli.Out(), v)
				}
				fmt.Fprintln(cli.Out())
			}
			fmt.Fprintf(cli.Out(), "Total reclaimed space: %s\n", units.HumanSize(float64(res.Report.SpaceReclaimed)))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Remove all unused volumes, not just anonymous ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, `Provide filter values (e.g. "label=<label>")`)
	return cmd
}
