// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package container

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/berth-project/berth/internal/cli/client"
	"github.com/berth-project/berth/internal/cli/command"
	"github.com/spf13/cobra"
)

// forEach runs fn on every argument, prints each argument that succeeded
// on stdout and each error on stderr, and fails (exit 1) when any failed.
func forEach(ctx context.Context, cli *command.Cli, args []string, fn func(ctx context.Context, cl *client.Client, arg string) error) error {
	cl, err := cli.Client()
	if err != nil {
		return err
	}
	var errs []string
	for _, a := range args {
		if err := fn(ctx, cl, a); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		fmt.Fprintln(cli.Out(), a)
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

// NewStopCommand returns "stop".
func NewStopCommand(cli *command.Cli) *cobra.Command {
	var signal string
	var timeout int
	cmd := &cobra.Command{
		Use:   "stop [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Stop one or more running containers",
		Args:  command.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := client.ContainerStopOptions{Signal: signal}
			if cmd.Flags().Changed("timeout") {
				opts.Timeout = &timeout
			}
			return forEach(cmd.Context(), cli, args, func(ctx context.Context, cl *client.Client, id string) error {
				_, err := cl.ContainerStop(ctx, id, opts)
				return err
			})
		},
	}
	cmd.Flags().StringVarP(&signal, "signal", "s", "", "Signal to send to the container")
	cmd.Flags().IntVarP(&timeout, "timeout", "t", 0, "Seconds to wait before killing the container")
	cmd.Flags().IntVar(&timeout, "time", 0, "Seconds to wait before killing the container (deprecated: use --timeout)")
	cmd.Flags().MarkHidden("time")
	return cmd
}

// NewRestartCommand returns "restart".
func NewRestartCommand(cli *command.Cli) *cobra.Command {
	var signal string
	var timeout int
	cmd := &cobra.Command{
		Use:   "restart [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Restart one or more containers",
		Args:  command.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := client.ContainerRestartOptions{Signal: signal}
			if cmd.Flags().Changed("timeout") {
				opts.Timeout = &timeout
			}
			return forEach(cmd.Context(), cli, args, func(ctx context.Context, cl *client.Client, id string) error {
				_, err := cl.ContainerRestart(ctx, id, opts)
				return err
			})
		},
	}
	cmd.Flags().StringVarP(&signal, "signal", "s", "", "Signal to send to the container")
	cmd.Flags().IntVarP(&timeout, "timeout", "t", 0, "Seconds to wait before killing the container")
	return cmd
}

// NewKillCommand returns "kill".
func NewKillCommand(cli *command.Cli) *cobra.Command {
	var signal string
	cmd := &cobra.Command{
		Use:   "kill [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Kill one or more running containers",
		Args:  command.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return forEach(cmd.Context(), cli, args, func(ctx context.Context, cl *client.Client, id string) error {
				_, err := cl.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: signal})
				return err
			})
		},
	}
	cmd.Flags().StringVarP(&signal, "signal", "s", "", "Signal to send to the container")
	return cmd
}

// NewRmCommand returns "rm".
func NewRmCommand(cli *command.Cli) *cobra.Command {
	var opts client.ContainerRemoveOptions
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] CONTAINER [CONTAINER...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more containers",
		Args:    command.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return forEach(cmd.Context(), cli, args, func(ctx context.Context, cl *client.Client, id string) error {
				id = strings.Trim(id, "/")
				if id == "" {
					return errors.New("container name cannot be empty")
				}
				_, err := cl.ContainerRemove(ctx, id, opts)
				return err
			})
		},
	}
	cmd.Flags().BoolVarP(&opts.Force, "force", "f", false, "Force the removal of a running container (uses SIGKILL)")
	cmd.Flags().BoolVarP(&opts.RemoveVolumes, "volumes", "v", false, "Remove anonymous volumes associated with the container")
	cmd.Flags().BoolVarP(&opts.RemoveLinks, "link", "l", false, "Remove the specified link")
	return cmd
}

// NewPauseCommand returns "pause".
func NewPauseCommand(cli *command.Cli) *cobra.Command {
	return &cobra.Command{
		Use:   "pause CONTAINER [CONTAINER...]",
		Short: "Pause all processes within one or more containers",
		Args:  command.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return forEach(cmd.Context(), cli, args, func(ctx context.Context, cl *client.Client, id string) error {
				_, err := cl.ContainerPause(ctx, id, client.ContainerPauseOptions{})
				return err
			})
		},
	}
}

// NewUnpauseCommand returns "unpause".
func NewUnpauseCommand(cli *command.Cli) *cobra.Command {
	return &cobra.Command{
		Use:   "unpause CONTAINER [CONTAINER...]",
		Short: "Unpause all processes within one or more containers",
		Args:  command.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return forEach(cmd.Context(), cli, args, func(ctx context.Context, cl *client.Client, id string) error {
				_, err := cl.ContainerUnpause(ctx, id, client.ContainerUnpauseOptions{})
				return err
			})
		},
	}
}

// NewRenameCommand returns "rename".
func NewRenameCommand(cli *command.Cli) *cobra.Command {
	return &cobra.Command{
		Use:   "rename CONTAINER NEW_NAME",
		Short: "Rename a container",
		Args:  command.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := cli.Client()
			if err != nil {
				return err
			}
			newName := strings.TrimSpace(args[1])
			if args[0] == "" || newName == "" {
				return errors.New("Error: Neither old nor new names may be empty")
			}
			if _, err := cl.ContainerRename(cmd.Context(), args[0], client.ContainerRenameOptions{NewName: newName}); err != nil {
				return fmt.Errorf("%w\nError: failed to rename container named %s", err, args[0])
			}
			return nil
		},
	}
}

// NewWaitCommand returns "wait".
func NewWaitCommand(cli *command.Cli) *cobra.Command {
	return &cobra.Command{
		Use:   "wait CONTAINER [CONTAINER...]",
		Short: "Block until one or more containers stop, then print their exit codes",
		Args:  command.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := cli.Client()
			if err != nil {
				return err
			}
			var errs []string
			for _, id := range args {
				w := cl.ContainerWait(cmd.Context(), id, client.ContainerWaitOptions{})
				select {
				case r := <-w.Result:
					fmt.Fprintf(cli.Out(), "%d\n", r.StatusCode)
				case err := <-w.Error:
					errs = append(errs, err.Error())
				}
			}
			if len(errs) > 0 {
				return errors.New(strings.Join(errs, "\n"))
			}
			return nil
		},
	}
}
