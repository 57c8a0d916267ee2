// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package container

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/berth-project/berth/internal/cli/client"
	"github.com/berth-project/berth/internal/cli/command"
	"github.com/berth-project/berth/internal/cli/formatter"
	"github.com/moby/moby/api/types/container"
	"github.com/spf13/cobra"
)

// PsOptions are the flags of "ps".
type PsOptions struct {
	All, Quiet, Size, Latest, NoTrunc bool
	Last                              int
	Filters                           []string
	Format                            string
}

// ParseFilters turns --filter key=value flags into API filters.
func ParseFilters(fs []string) (client.Filters, error) {
	f := client.Filters{}
	for _, s := range fs {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return nil, fmt.Errorf("bad format of filter (expected name=value)")
		}
		f.Add(strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v))
	}
	return f, nil
}

// NewPsCommand returns "ps" (also "container ls").
func NewPsCommand(cli *command.Cli) *cobra.Command {
	var opts PsOptions
	cmd := &cobra.Command{
		Use:     "ps [OPTIONS]",
		Aliases: []string{"ls", "list"},
		Short:   "List containers",
		Args:    command.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			warmSummaryDecoder()
			cl, err := cli.Client()
			if err != nil {
				return err
			}
			f, err := ParseFilters(opts.Filters)
			if err != nil {
				return err
			}
			format := formatter.ContainerFormat(opts.Format, opts.Quiet, opts.Size)
			lo := client.ContainerListOptions{All: opts.All, Limit: opts.Last, Filters: f,
				Size: opts.Size}
			if !opts.Quiet && !cmd.Flags().Changed("size") && opts.Format != "" {
				lo.Size = formatter.ContainerFormatUsesSize(formatter.Format(opts.Format))
			}
			if opts.Latest {
				lo.Limit = 1
			}
			if lo.Limit > 0 {
				lo.All = true
			}
			res, err := cl.ContainerList(cmd.Context(), lo)
			if err != nil {
				return err
			}
			ctx := formatter.Context{Output: cli.Out(), Format: format, Trunc: !opts.NoTrunc}
			return formatter.ContainerWrite(ctx, res.Items)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&opts.All, "all", "a", false, "Show all containers (default shows just running)")
	fs.BoolVarP(&opts.Quiet, "quiet", "q", false, "Only display container IDs")
	fs.BoolVarP(&opts.Size, "size", "s", false, "Display total file sizes")
	fs.BoolVarP(&opts.Latest, "latest", "l", false, "Show the latest created container (includes all states)")
	fs.BoolVar(&opts.NoTrunc, "no-trunc", false, "Don't truncate output")
	fs.IntVarP(&opts.Last, "last", "n", -1, "Show n last created containers (includes all states)")
	fs.StringArrayVarP(&opts.Filters, "filter", "f", nil, "Filter output based on conditions provided")
	fs.StringVar(&opts.Format, "format", "", "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.")
	return cmd
}

// warmSummaryDecoder has encoding/json learn the list's types on another
// goroutine (another core) while the request is made: the first decode of
// a []container.Summary builds the field tables of Summary and of every
// nested type the data holds (ports, mounts, networks), which this sample
// has too.
func warmSummaryDecoder() {
	go json.Unmarshal([]byte(`[{"Ports":[{"IP":"","PrivatePort":1,"Type":"tcp"}],"Labels":{"a":"b"},`+
		`"HostConfig":{"NetworkMode":"none","Annotations":{"a":"b"}},`+
		`"NetworkSettings":{"Networks":{"n":{"IPAMConfig":{"IPv4Address":""},"Links":[],"Aliases":[],"DriverOpts":{}}}},`+
		`"Mounts":[{"Type":"bind","Name":"","Source":"","Destination":"","Driver":"","Mode":"","RW":true,"Propagation":""}],`+
		`"Health":{"Status":"","FailingStreak":0}}]`), new([]container.Summary))
}
