// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package image

import (
	"fmt"
	"strings"

	"github.com/berth-project/berth/internal/cli/client"
	"github.com/berth-project/berth/internal/cli/command"
	"github.com/berth-project/berth/internal/cli/command/container"
	"github.com/berth-project/berth/internal/cli/command/system"
	"github.com/berth-project/berth/internal/cli/formatter"
	"github.com/moby/moby/api/types/registry"
	"github.com/spf13/cobra"
)

// NewHistoryCommand returns "history".
func NewHistoryCommand(cli *command.Cli) *cobra.Command {
	var human, quiet, noTrunc bool
	var format string
	cmd := &cobra.Command{
		Use:   "history [OPTIONS] IMAGE",
		Short: "Show the history of an image",
		Args:  command.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := cli.Client()
			if err != nil {
				return err
			}
			res, err := cl.ImageHistory(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			f := formatter.Format(format)
			switch {
			case quiet:
				f = "{{.ID}}"
			case format == "" || format == formatter.TableFormatKey:
				f = formatter.DefaultHistoryTableFormat
			}
			return formatter.HistoryWrite(formatter.Context{Output: cli.Out(), Format: f, Trunc: !noTrunc}, human, res.Items)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&human, "human", "H", true, "Print sizes and dates in human readable format")
	fs.BoolVarP(&quiet, "quiet", "q", false, "Only show image IDs")
	fs.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	fs.StringVar(&format, "format", "", "Format output using a custom template")
	return cmd
}

// NewInspectCommand returns "image inspect".
func NewInspectCommand(cli *command.Cli) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] IMAGE [IMAGE...]",
		Short: "Display detailed information on one or more images",
		Args:  command.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := cli.Client()
			if err != nil {
				return err
			}
			return command.Inspect(cli.Out(), cli.Err(), args, format, system.InspectImage(cmd.Context(), cl))
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template")
	return cmd
}

// NewPruneCommand returns "image prune".
func NewPruneCommand(cli *command.Cli) *cobra.Command {
	var all, force bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused images",
		Args:  command.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			warning := "WARNING! This will remove all dangling images."
			if all {
				warning = "WARNING! This will remove all images without at least one container associated to them."
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
			f.Add("dangling", fmt.Sprint(!all))
			res, err := cl.ImagePrune(cmd.Context(), client.ImagePruneOptions{Filters: f})
			if err != nil {
				return err
			}
			if len(res.Report.ImagesDeleted) > 0 {
				fmt.Fprintln(cli.Out(), "Deleted Images:")
				for _, d := range res.Report.ImagesDeleted {
					if d.Untagged != "" {
						fmt.Fprintf(cli.Out(), "untagged: %s\n", d.Untagged)
					} else {
						fmt.Fprintf(cli.Out(), "deleted: %s\n", d.Deleted)
					}
				}
				fmt.Fprintln(cli.Out())
			}
			fmt.Fprintf(cli.Out(), "Total reclaimed space: %s\n", formatter.HumanSize(int64(res.Report.SpaceReclaimed)))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Remove all unused images, not just dangling ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, `Provide filter values (e.g. "until=<timestamp>")`)
	return cmd
}

// NewSearchCommand returns "search".
func NewSearchCommand(cli *command.Cli) *cobra.Command {
	var limit int
	var noTrunc bool
	var filters []string
	var format string
	cmd := &cobra.Command{
		Use:   "search [OPTIONS] TERM",
		Short: "Search Docker Hub for images",
		Args:  command.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := cli.Client()
			if err != nil {
				return err
			}
			f, err := container.ParseFilters(filters)
			if err != nil {
				return err
			}
			auth, err := cli.EncodedAuth(args[0])
			if err != nil {
				return err
			}
			res, err := cl.ImageSearch(cmd.Context(), args[0], client.ImageSearchOptions{Filters: f, Limit: limit, RegistryAuth: auth})
			if err != nil {
				return err
			}
			if format == "" || format == formatter.TableFormatKey {
				format = "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}"
			}
			ctx := formatter.Context{Output: cli.Out(), Format: formatter.Format(format), Trunc: !noTrunc}
			return ctx.Write(&searchContext{}, func(emit func(formatter.SubContext) error) error {
				for _, r := range res.Items {
					if err := emit(&searchContext{r: r, trunc: !noTrunc}); err != nil {
						return err
					}
				}
				return nil
			})
		},
	}
	fs := cmd.Flags()
	fs.IntVar(&limit, "limit", 0, "Max number of search results")
	fs.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	fs.StringArrayVarP(&filters, "filter", "f", nil, "Filter output based on conditions provided")
	fs.StringVar(&format, "format", "", "Pretty-print search using a Go template")
	return cmd
}

type searchContext struct {
	r     registry.SearchResult
	trunc bool
}

func (c *searchContext) FullHeader() any {
	return formatter.HeaderContext{"Name": "NAME", "Description": "DESCRIPTION", "StarCount": "STARS",
		"IsOfficial": "OFFICIAL", "IsAutomated": "AUTOMATED"}
}
func (c *searchContext) MarshalJSON() ([]byte, error) { return formatter.MarshalJSON(c) }
func (c *searchContext) Name() string                 { return c.r.Name }
func (c *searchContext) Description() string {
	d := strings.ReplaceAll(c.r.Description, "\n", " ")
	if c.trunc {
		return formatter.Ellipsis(d, 45)
	}
	return d
}
func (c *searchContext) StarCount() string { return fmt.Sprint(c.r.StarCount) }
func (c *searchContext) IsOfficial() string {
	if c.r.IsOfficial {
		return "[OK]"
	}
	return ""
}
func (c *searchContext) IsAutomated() string { return "" }
