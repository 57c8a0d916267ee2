// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package system

import (
	"fmt"

	"github.com/berth-project/berth/internal/cli/client"
	"github.com/berth-project/berth/internal/cli/command"
	"github.com/berth-project/berth/internal/cli/command/container"
	"github.com/berth-project/berth/internal/cli/formatter"
	"github.com/docker/go-units"
	"github.com/spf13/cobra"
)

// dfRow is one line of "system df".
type dfRow struct {
	typ               string
	total, active     int64
	size, reclaimable int64
	showPercent       bool
}

func (r *dfRow) FullHeader() any {
	return formatter.HeaderContext{"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE"}
}
func (r *dfRow) MarshalJSON() ([]byte, error) { return formatter.MarshalJSON(r) }
func (r *dfRow) Type() string                 { return r.typ }
func (r *dfRow) TotalCount() string           { return fmt.Sprint(r.total) }
func (r *dfRow) Active() string               { return fmt.Sprint(r.active) }
func (r *dfRow) Size() string                 { return units.HumanSize(float64(r.size)) }
func (r *dfRow) Reclaimable() string {
	s := units.HumanSize(float64(r.reclaimable))
	if r.showPercent && r.size > 0 {
		s += fmt.Sprintf(" (%d%%)", int64(float64(r.reclaimable)/float64(r.size)*100))
	}
	return s
}

// NewDfCommand returns "system df".
func NewDfCommand(cli *command.Cli) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "df [OPTIONS]",
		Short: "Show docker disk usage",
		Args:  command.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := cli.Client()
			if err != nil {
				return err
			}
			du, err := cl.DiskUsage(cmd.Context(), client.DiskUsageOptions{Containers: true, Images: true, BuildCache: true, Volumes: true})
			if err != nil {
				return err
			}
			rows := []*dfRow{
				{"Images", du.Images.TotalCount, du.Images.ActiveCount, du.Images.TotalSize, du.Images.Reclaimable, true},
				{"Containers", du.Containers.TotalCount, du.Containers.ActiveCount, du.Containers.TotalSize, du.Containers.Reclaimable, true},
				{"Local Volumes", du.Volumes.TotalCount, du.Volumes.ActiveCount, du.Volumes.TotalSize, du.Volumes.Reclaimable, true},
				{"Build Cache", du.BuildCache.TotalCount, du.BuildCache.ActiveCount, du.BuildCache.TotalSize, du.BuildCache.Reclaimable, false},
			}
			f := formatter.Format(format)
			if format == "" || format == formatter.TableFormatKey {
				f = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
			}
			ctx := formatter.Context{Output: cli.Out(), Format: f}
			return ctx.Write(&dfRow{}, func(emit func(formatter.SubContext) error) error {
				for _, r := range rows {
					if err := emit(r); err != nil {
						return err
					}
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "Format output using a custom template")
	cmd.Flags().BoolP("verbose", "v", false, "Show detailed information on space usage")
	return cmd
}

// NewPruneCommand returns "system prune".
func NewPruneCommand(cli *command.Cli) *cobra.Command {
	var all, force, volumes bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused data",
		Args:  command.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			msg := "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n"
			if volumes {
				msg += "  - all anonymous volumes not used by at least one container\n"
			}
			if all {
				msg += "  - all images without at least one container associated to them\n  - all build cache\n"
			} else {
				msg += "  - all dangling images\n  - unused build cache\n"
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
			ctx := cmd.Context()
			var total uint64
			cr, err := cl.ContainerPrune(ctx, client.ContainerPruneOptions{Filters: f})
			if err != nil {
				return err
			}
			total += cr.Report.SpaceReclaimed
			if len(cr.Report.ContainersDeleted) > 0 {
				fmt.Fprintln(cli.Out(), "Deleted Containers:")
				for _, id := range cr.Report.ContainersDeleted {
					fmt.Fprintln(cli.Out(), id)
				}
				fmt.Fprintln(cli.Out())
			}
			nr, err := cl.NetworkPrune(ctx, client.NetworkPruneOptions{Filters: f})
			if err != nil {
				return err
			}
			if len(nr.Report.NetworksDeleted) > 0 {
				fmt.Fprintln(cli.Out(), "Deleted Networks:")
				for _, n := range nr.Report.NetworksDeleted {
					fmt.Fprintln(cli.Out(), n)
				}
				fmt.Fprintln(cli.Out())
			}
			if volumes {
				vr, err := cl.VolumePrune(ctx, client.VolumePruneOptions{Filters: f})
				if err != nil {
					return err
				}
				total += vr.Report.SpaceReclaimed
				if len(vr.Report.VolumesDeleted) > 0 {
					fmt.Fprintln(cli.Out(), "Deleted Volumes:")
					for _, v := range vr.Report.VolumesDeleted {
						fmt.Fprintln(cli.Out(), v)
					}
					fmt.Fprintln(cli.Out())
				}
			}
			imf := f.Clone()
			imf.Add("dangling", fmt.Sprint(!all))
			ir, err := cl.ImagePrune(ctx, client.ImagePruneOptions{Filters: imf})
			if err != nil {
				return err
			}
			total += ir.Report.SpaceReclaimed
			if len(ir.Report.ImagesDeleted) > 0 {
				fmt.Fprintln(cli.Out(), "Deleted Images:")
				for _, d := range ir.Report.ImagesDeleted {
					if d.Untagged != "" {
						fmt.Fprintf(cli.Out(), "untagged: %s\n", d.Untagged)
					} else {
						fmt.Fprintf(cli.Out(), "deleted: %s\n", d.Deleted)
					}
				}
				fmt.Fprintln(cli.Out())
			}
			if br, err := cl.BuildCachePrune(ctx, client.BuildCachePruneOptions{All: all, Filters: f}); err == nil {
				total += br.Report.SpaceReclaimed
			}
			fmt.Fprintf(cli.Out(), "Total reclaimed space: %s\n", units.HumanSize(float64(total)))
			return nil
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&all, "all", "a", false, "Remove all unused images not just dangling ones")
	fs.BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	fs.BoolVar(&volumes, "volumes", false, "Prune anonymous volumes")
	fs.StringArrayVar(&filters, "filter", nil, `Provide filter values (e.g. "label=<key>=<value>")`)
	return cmd
}
