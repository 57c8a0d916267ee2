// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package container

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/berth-project/berth/internal/cli/client"
	"github.com/berth-project/berth/internal/cli/command"
	"github.com/berth-project/berth/internal/cli/formatter"
	"github.com/moby/moby/api/types/container"
	"github.com/spf13/cobra"
)

// StatsOptions are the flags of "stats".
type StatsOptions struct {
	All, NoStream, NoTrunc bool
	Format                 string
}

// NewStatsCommand returns "stats".
func NewStatsCommand(cli *command.Cli) *cobra.Command {
	var opts StatsOptions
	cmd := &cobra.Command{
		Use:   "stats [OPTIONS] [CONTAINER...]",
		Short: "Display a live stream of container(s) resource usage statistics",
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStats(cmd.Context(), cli, &opts, args)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&opts.All, "all", "a", false, "Show all containers (default shows just running)")
	fs.BoolVar(&opts.NoStream, "no-stream", false, "Disable streaming stats and only pull the first result")
	fs.BoolVar(&opts.NoTrunc, "no-trunc", false, "Do not truncate output")
	fs.StringVar(&opts.Format, "format", "", "Format output using a custom template")
	return cmd
}

func runStats(ctx context.Context, cli *command.Cli, opts *StatsOptions, args []string) error {
	cl, err := cli.Client()
	if err != nil {
		return err
	}
	names := args
	if len(names) == 0 {
		res, err := cl.ContainerList(ctx, client.ContainerListOptions{All: opts.All})
		if err != nil {
			return err
		}
		for _, c := range res.Items {
			names = append(names, c.ID[:12])
		}
	}
	format := formatter.Format(opts.Format)
	if opts.Format == "" || opts.Format == formatter.TableFormatKey {
		format = formatter.DefaultStatsTableFormat
	}
	var mu sync.Mutex
	entries := make([]formatter.StatsEntry, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		entries[i] = formatter.StatsEntry{Container: n, Name: "--", ID: n}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := cl.ContainerStats(ctx, n, client.ContainerStatsOptions{Stream: !opts.NoStream, IncludePreviousSample: true})
			if err != nil {
				mu.Lock()
				errs[i] = err
				mu.Unlock()
				return
			}
			defer res.Body.Close()
			dec := json.NewDecoder(res.Body)
			for {
				var s container.StatsResponse
				if err := dec.Decode(&s); err != nil {
					return
				}
				mu.Lock()
				entries[i] = formatter.NewStatsEntry(n, s)
				mu.Unlock()
				if opts.NoStream {
					return
				}
			}
		}()
	}
	render := func() error {
		mu.Lock()
		defer mu.Unlock()
		var b bytes.Buffer
		err := formatter.StatsWrite(formatter.Context{Output: &b, Format: format, Trunc: !opts.NoTrunc}, entries)
		if err != nil {
			return err
		}
		if !opts.NoStream && cli.Out().IsTerminal() {
			fmt.Fprint(cli.Out(), "\033[2J\033[H")
		}
		_, err = b.WriteTo(cli.Out())
		return err
	}
	if opts.NoStream {
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		return render()
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if err := render(); err != nil {
				return err
			}
		}
	}
}
