// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package system

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/berth-project/berth/internal/cli/client"
	"github.com/berth-project/berth/internal/cli/command"
	"github.com/berth-project/berth/internal/cli/command/container"
	"github.com/berth-project/berth/internal/cli/formatter"
	"github.com/moby/moby/api/types/events"
	"github.com/spf13/cobra"
)

// rfc3339NanoFixed is docker's event time layout: nanoseconds always shown.
const rfc3339NanoFixed = "2006-01-02T15:04:05.000000000Z07:00"

// Timestamp turns a --since/--until value into what the API expects:
// durations ("10m") are relative to now, RFC 3339 and date forms become
// Unix seconds, anything else is passed on.
func Timestamp(value string, now time.Time) string {
	if value == "" {
		return ""
	}
	if d, err := time.ParseDuration(value); err == nil {
		t := now.Add(-d)
		return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond())
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, value, time.Local); err == nil {
			return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond())
		}
	}
	if _, err := strconv.ParseFloat(value, 64); err == nil {
		return value
	}
	return value
}

// NewEventsCommand returns "events".
func NewEventsCommand(cli *command.Cli) *cobra.Command {
	var since, until, format string
	var filters []string
	cmd := &cobra.Command{
		Use:   "events [OPTIONS]",
		Short: "Get real time events from the server",
		Args:  command.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := cli.Client()
			if err != nil {
				return err
			}
			f, err := container.ParseFilters(filters)
			if err != nil {
				return err
			}
			if format == formatter.JSONFormatKey {
				format = formatter.JSONFormat
			}
			var write func(io.Writer, events.Message) error
			if format == "" {
				write = printEvent
			} else {
				tmpl, err := formatter.ParseTemplate(format)
				if err != nil {
					return fmt.Errorf("template parsing error: %w", err)
				}
				write = func(w io.Writer, m events.Message) error {
					if err := tmpl.Execute(w, m); err != nil {
						return err
					}
					_, err := fmt.Fprintln(w)
					return err
				}
			}
			now := time.Now()
			res := cl.Events(cmd.Context(), client.EventsListOptions{Since: Timestamp(since, now), Until: Timestamp(until, now), Filters: f})
			for {
				select {
				case m, ok := <-res.Messages:
					if !ok {
						return nil
					}
					if err := write(cli.Out(), m); err != nil {
						return err
					}
				case err := <-res.Err:
					if err == io.EOF {
						return nil
					}
					return err
				}
			}
		},
	}
	fs := cmd.Flags()
	fs.StringArrayVarP(&filters, "filter", "f", nil, "Filter output based on conditions provided")
	fs.StringVar(&format, "format", "", "Format output using a custom template")
	fs.StringVar(&since, "since", "", "Show all events created since timestamp")
	fs.StringVar(&until, "until", "", "Stream events until this timestamp")
	return cmd
}

func printEvent(w io.Writer, m events.Message) error {
	var b strings.Builder
	b.WriteString(time.Unix(0, m.TimeNano).Format(rfc3339NanoFixed))
	fmt.Fprintf(&b, " %s %s %s", m.Type, m.Action, m.Actor.ID)
	if len(m.Actor.Attributes) > 0 {
		var keys []string
		for k := range m.Actor.Attributes {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var attrs []string
		for _, k := range keys {
			attrs = append(attrs, k+"="+m.Actor.Attributes[k])
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(attrs, ", "))
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}
