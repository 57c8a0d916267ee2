// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package container

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/berth-project/berth/internal/cli/client"
	"github.com/berth-project/berth/internal/cli/command"
	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/spf13/cobra"
)

// NewTopCommand returns "top".
func NewTopCommand(cli *command.Cli) *cobra.Command {
	return &cobra.Command{
		Use:   "top CONTAINER [ps OPTIONS]",
		Short: "Display the running processes of a container",
		Args:  command.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := cli.Client()
			if err != nil {
				return err
			}
			res, err := cl.ContainerTop(cmd.Context(), args[0], client.ContainerTopOptions{Arguments: args[1:]})
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cli.Out(), 20, 1, 3, ' ', 0)
			fmt.Fprintln(w, strings.Join(res.Titles, "\t"))
			for _, p := range res.Processes {
				fmt.Fprintln(w, strings.Join(p, "\t"))
			}
			return w.Flush()
		},
	}
}

// NewPortCommand returns "port".
func NewPortCommand(cli *command.Cli) *cobra.Command {
	return &cobra.Command{
		Use:   "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short: "List port mappings or a specific mapping for the container",
		Args:  command.RequiresRangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := cli.Client()
			if err != nil {
				return err
			}
			res, err := cl.ContainerInspect(cmd.Context(), args[0], client.ContainerInspectOptions{})
			if err != nil {
				return err
			}
			var ports network.PortMap
			if ns := res.Container.NetworkSettings; ns != nil {
				ports = ns.Ports
			}
			if len(args) == 2 {
				spec := args[1]
				if !strings.Contains(spec, "/") {
					spec += "/tcp"
				}
				p, err := network.ParsePort(spec)
				if err != nil {
					return err
				}
				bs, ok := ports[p]
				if !ok || len(bs) == 0 {
					return fmt.Errorf("Error: No public port '%s' published for %s", p, args[0])
				}
				for _, b := range bs {
					fmt.Fprintln(cli.Out(), hostPort(b))
				}
				return nil
			}
			var keys []network.Port
			for p := range ports {
				keys = append(keys, p)
			}
			slices.SortFunc(keys, func(a, b network.Port) int {
				if a.Num() != b.Num() {
					return int(a.Num()) - int(b.Num())
				}
				return strings.Compare(string(a.Proto()), string(b.Proto()))
			})
			for _, p := range keys {
				for _, b := range ports[p] {
					fmt.Fprintf(cli.Out(), "%s -> %s\n", p, hostPort(b))
				}
			}
			return nil
		},
	}
}

func hostPort(b network.PortBinding) string {
	ip := "0.0.0.0"
	if b.HostIP.IsValid() {
		ip = b.HostIP.String()
	}
	if b.HostIP.Is6() {
		return "[" + ip + "]:" + b.HostPort
	}
	return ip + ":" + b.HostPort
}

// NewDiffCommand returns "diff".
func NewDiffCommand(cli *command.Cli) *cobra.Command {
	return &cobra.Command{
		Use:   "diff CONTAINER",
		Short: "Inspect changes to files or directories on a container's filesystem",
		Args:  command.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := cli.Client()
			if err != nil {
				return err
			}
			res, err := cl.ContainerDiff(cmd.Context(), args[0], client.ContainerDiffOptions{})
			if err != nil {
				return err
			}
			for _, c := range res.Changes {
				fmt.Fprintf(cli.Out(), "%s %s\n", c.Kind, c.Path)
			}
			return nil
		},
	}
}

// NewExportCommand returns "export".
func NewExportCommand(cli *command.Cli) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "export [OPTIONS] CONTAINER",
		Short: "Export a container's filesystem as a tar archive",
		Args:  command.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output == "" && cli.Out().IsTerminal() {
				return errors.New("cowardly refusing to save to a terminal. Use the -o flag or redirect")
			}
			cl, err := cli.Client()
			if err != nil {
				return err
			}
			rc, err := cl.ContainerExport(cmd.Context(), args[0], client.ContainerExportOptions{})
			if err != nil {
				return err
			}
			defer rc.Close()
			var w io.Writer = cli.Out()
			if output != "" {
				f, err := os.Create(output)
				if err != nil {
					return fmt.Errorf("failed to export container: %w", err)
				}
				defer f.Close()
				w = f
			}
			_, err = io.Copy(w, rc)
			return err
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}

// NewCommitCommand returns "commit".
func NewCommitCommand(cli *command.Cli) *cobra.Command {
	var opts client.ContainerCommitOptions
	var pause bool
	cmd := &cobra.Command{
		Use:   "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
		Short: "Create a new image from a container's changes",
		Args:  command.RequiresRangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := cli.Client()
			if err != nil {
				return err
			}
			if len(args) == 2 {
				opts.Reference = args[1]
			}
			opts.NoPause = !pause
			res, err := cl.ContainerCommit(cmd.Context(), args[0], opts)
			if err != nil {
				return err
			}
			fmt.Fprintln(cli.Out(), res.ID)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&opts.Author, "author", "a", "", `Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")`)
	fs.StringArrayVarP(&opts.Changes, "change", "c", nil, "Apply Dockerfile instruction to the created image")
	fs.StringVarP(&opts.Comment, "message", "m", "", "Commit message")
	fs.BoolVarP(&pause, "pause", "p", true, "Pause container during commit")
	return cmd
}

// NewUpdateCommand returns "update".
func NewUpdateCommand(cli *command.Cli) *cobra.Command {
	var o ContainerOptions
	var restart string
	cmd := &cobra.Command{
		Use:   "update [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Update configuration of one or more containers",
		Args:  command.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().NFlag() == 0 {
				return errors.New("you must provide one or more flags when using this command")
			}
			var r container.Resources
			if err := o.parseResources(&r); err != nil {
				return err
			}
			if !cmd.Flags().Changed("memory-swappiness") {
				r.MemorySwappiness = nil
			}
			opts := client.ContainerUpdateOptions{Resources: &r}
			if cmd.Flags().Changed("restart") {
				p, err := parseRestart(restart)
				if err != nil {
					return err
				}
				opts.RestartPolicy = &p
			}
			var warnings []string
			err := forEach(cmd.Context(), cli, args, func(ctx command.Context, cl *client.Client, id string) error {
				res, err := cl.ContainerUpdate(ctx, id, opts)
				warnings = append(warnings, res.Warnings...)
				return err
			})
			if len(warnings) > 0 {
				fmt.Fprintln(cli.Out(), strings.Join(warnings, "\n"))
			}
			return err
		},
	}
	fs := cmd.Flags()
	o.flags = fs
	fs.StringVarP(&o.Memory, "memory", "m", "", "Memory limit")
	fs.StringVar(&o.MemorySwap, "memory-swap", "", "Swap limit equal to memory plus swap: -1 to enable unlimited swap")
	fs.StringVar(&o.MemoryReserve, "memory-reservation", "", "Memory soft limit")
	fs.Int64Var(&o.Swappiness, "memory-swappiness", -1, "Tune container memory swappiness (0 to 100)")
	fs.StringVar(&o.CPUs, "cpus", "", "Number of CPUs")
	fs.Int64VarP(&o.CPUShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	fs.Int64Var(&o.CPUPeriod, "cpu-period", 0, "Limit CPU CFS (Completely Fair Scheduler) period")
	fs.Int64Var(&o.CPUQuota, "cpu-quota", 0, "Limit CPU CFS (Completely Fair Scheduler) quota")
	fs.StringVar(&o.CpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	fs.StringVar(&o.CpusetMems, "cpuset-mems", "", "MEMs in which to allow execution (0-3, 0,1)")
	fs.Int64Var(&o.PidsLimit, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")
	fs.Uint16Var(&o.BlkioWeight, "blkio-weight", 0, "Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)")
	fs.StringVar(&restart, "restart", "", "Restart policy to apply when a container exits")
	return cmd
}

// NewPruneCommand returns "container prune".
func NewPruneCommand(cli *command.Cli) *cobra.Command {
	var force bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all stopped containers",
		Args:  command.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !force && !command.Confirm(cli, "WARNING! This will remove all stopped containers.") {
				return command.StatusError{StatusCode: 1, Status: "Total reclaimed space: 0B"}
			}
			cl, err := cli.Client()
			if err != nil {
				return err
			}
			f, err := ParseFilters(filters)
			if err != nil {
				return err
			}
			res, err := cl.ContainerPrune(cmd.Context(), client.ContainerPruneOptions{Filters: f})
			if err != nil {
				return err
			}
			if len(res.Report.ContainersDeleted) > 0 {
				fmt.Fprintln(cli.Out(), "Deleted Containers:")
				for _, id := range res.Report.ContainersDeleted {
					fmt.Fprintln(cli.Out(), id)
				}
				fmt.Fprintln(cli.Out())
			}
			fmt.Fprintf(cli.Out(), "Total reclaimed space: %s\n", units.HumanSize(float64(res.Report.SpaceReclaimed)))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, `Provide filter values (e.g. "until=<timestamp>")`)
	return cmd
}
