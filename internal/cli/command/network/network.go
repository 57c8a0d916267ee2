// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package network holds "network create, ls, inspect, rm, connect,
// disconnect, prune".
package network

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/berth-project/berth/internal/cli/client"
	"github.com/berth-project/berth/internal/cli/command"
	"github.com/berth-project/berth/internal/cli/command/container"
	"github.com/berth-project/berth/internal/cli/command/system"
	"github.com/berth-project/berth/internal/cli/formatter"
	"github.com/moby/moby/api/types/network"
	"github.com/spf13/cobra"
)

// NewNetworkCommand returns "network" with its subcommands.
func NewNetworkCommand(cli *command.Cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "network COMMAND",
		Short: "Manage networks",
		Args:  command.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newCreate(cli), newList(cli), newInspect(cli), newRemove(cli), newConnect(cli),
		newDisconnect(cli), newPrune(cli))
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
	var opts client.NetworkCreateOptions
	var subnets, gateways, ranges, labels, driverOpts []string
	var ipv6 bool
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] NETWORK",
		Short: "Create a network",
		Args:  command.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := cli.Client()
			if err != nil {
				return err
			}
			if len(gateways) > len(subnets) || len(ranges) > len(subnets) {
				return errors.New("every ip-range or gateway must have a corresponding subnet")
			}
			if len(subnets) > 0 {
				opts.IPAM = &network.IPAM{Driver: "default"}
				for i, s := range subnets {
					var c network.IPAMConfig
					if c.Subnet, err = netip.ParsePrefix(s); err != nil {
						return fmt.Errorf("invalid subnet %s: %w", s, err)
					}
					if i < len(gateways) {
						if c.Gateway, err = netip.ParseAddr(gateways[i]); err != nil {
							return fmt.Errorf("invalid gateway %s: %w", gateways[i], err)
						}
					}
					if i < len(ranges) {
						if c.IPRange, err = netip.ParsePrefix(ranges[i]); err != nil {
							return fmt.Errorf("invalid ip-range %s: %w", ranges[i], err)
						}
					}
					opts.IPAM.Config = append(opts.IPAM.Config, c)
				}
			}
			if cmd.Flags().Changed("ipv6") {
				opts.EnableIPv6 = &ipv6
			}
			opts.Labels, opts.Options = kv(labels), kv(driverOpts)
			res, err := cl.NetworkCreate(cmd.Context(), args[0], opts)
			if err != nil {
				return err
			}
			for _, w := range res.Warning {
				fmt.Fprintf(cli.Err(), "WARNING: %s\n", w)
			}
			fmt.Fprintln(cli.Out(), res.ID)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&opts.Driver, "driver", "d", "bridge", "Driver to manage the Network")
	fs.StringArrayVar(&subnets, "subnet", nil, "Subnet in CIDR format that represents a network segment")
	fs.StringArrayVar(&gateways, "gateway", nil, "IPv4 or IPv6 Gateway for the master subnet")
	fs.StringArrayVar(&ranges, "ip-range", nil, "Allocate container ip from a sub-range")
	fs.BoolVar(&opts.Internal, "internal", false, "Restrict external access to the network")
	fs.BoolVar(&opts.Attachable, "attachable", false, "Enable manual container attachment")
	fs.BoolVar(&ipv6, "ipv6", false, "Enable or disable IPv6 networking")
	fs.StringArrayVar(&labels, "label", nil, "Set metadata on a network")
	fs.StringArrayVarP(&driverOpts, "opt", "o", nil, "Set driver specific options")
	return cmd
}

func newList(cli *command.Cli) *cobra.Command {
	var quiet, noTrunc bool
	var format string
	var filters []string
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List networks",
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
			res, err := cl.NetworkList(cmd.Context(), client.NetworkListOptions{Filters: f})
			if err != nil {
				return err
			}
			ff := formatter.Format(format)
			switch {
			case quiet:
				ff = "{{.ID}}"
			case format == "" || format == formatter.TableFormatKey:
				ff = formatter.DefaultNetworkTableFormat
			}
			items := res.Items
			// docker lists networks by name
			for i := 1; i < len(items); i++ {
				for j := i; j > 0 && strings.ToLower(items[j].Name) < strings.ToLower(items[j-1].Name); j-- {
					items[j], items[j-1] = items[j-1], items[j]
				}
			}
			return formatter.NetworkWrite(formatter.Context{Output: cli.Out(), Format: ff, Trunc: !noTrunc}, items)
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&quiet, "quiet", "q", false, "Only display network IDs")
	fs.BoolVar(&noTrunc, "no-trunc", false, "Do not truncate the output")
	fs.StringVar(&format, "format", "", "Format output using a custom template")
	fs.StringArrayVarP(&filters, "filter", "f", nil, "Provide filter values (e.g. \"driver=bridge\")")
	return cmd
}

func newInspect(cli *command.Cli) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] NETWORK [NETWORK...]",
		Short: "Display detailed information on one or more networks",
		Args:  command.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := cli.Client()
			if err != nil {
				return err
			}
			return command.Inspect(cli.Out(), cli.Err(), args, format, system.InspectNetwork(cmd.Context(), cl))
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template")
	return cmd
}

func newRemove(cli *command.Cli) *cobra.Command {
	return &cobra.Command{
		Use:     "rm NETWORK [NETWORK...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more networks",
		Args:    command.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := cli.Client()
			if err != nil {
				return err
			}
			var errs []string
			for _, n := range args {
				if _, err := cl.NetworkRemove(cmd.Context(), n, client.NetworkRemoveOptions{}); err != nil {
					errs = append(errs, err.Error())
					continue
				}
				fmt.Fprintln(cli.Out(), n)
			}
			if len(errs) > 0 {
				return errors.New(strings.Join(errs, "\n"))
			}
			return nil
		},
	}
}

func newConnect(cli *command.Cli) *cobra.Command {
	var aliases []string
	var ip, ip6 string
	cmd := &cobra.Command{
		Use:   "connect [OPTIONS] NETWORK CONTAINER",
		Short: "Connect a container to a network",
		Args:  command.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := cli.Client()
			if err != nil {
				return err
			}
			ep := &network.EndpointSettings{Aliases: aliases}
			if ip != "" || ip6 != "" {
				ep.IPAMConfig = &network.EndpointIPAMConfig{}
				if ip != "" {
					if ep.IPAMConfig.IPv4Address, err = netip.ParseAddr(ip); err != nil {
						return err
					}
				}
				if ip6 != "" {
					if ep.IPAMConfig.IPv6Address, err = netip.ParseAddr(ip6); err != nil {
						return err
					}
				}
			}
			_, err = cl.NetworkConnect(cmd.Context(), args[0], client.NetworkConnectOptions{Container: args[1], EndpointConfig: ep})
			return err
		},
	}
	cmd.Flags().StringArrayVar(&aliases, "alias", nil, "Add network-scoped alias for the container")
	cmd.Flags().StringVar(&ip, "ip", "", "IPv4 address (e.g., \"172.30.100.104\")")
	cmd.Flags().StringVar(&ip6, "ip6", "", "IPv6 address (e.g., \"2001:db8::33\")")
	return cmd
}

func newDisconnect(cli *command.Cli) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "disconnect [OPTIONS] NETWORK CONTAINER",
		Short: "Disconnect a container from a network",
		Args:  command.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := cli.Client()
			if err != nil {
				return err
			}
			_, err = cl.NetworkDisconnect(cmd.Context(), args[0], client.NetworkDisconnectOptions{Container: args[1], Force: force})
			return err
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the container to disconnect from a network")
	return cmd
}

func newPrune(cli *command.Cli) *cobra.Command {
	var force bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all unused networks",
		Args:  command.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !force && !command.Confirm(cli, "WARNING! This will remove all custom networks not used by at least one container.") {
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
			res, err := cl.NetworkPrune(cmd.Context(), client.NetworkPruneOptions{Filters: f})
			if err != nil {
				return err
			}
			if len(res.Report.NetworksDeleted) > 0 {
				fmt.Fprintln(cli.Out(), "Deleted Networks:")
				for _, n := range res.Report.NetworksDeleted {
					fmt.Fprintln(cli.Out(), n)
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, `Provide filter values (e.g. "until=<timestamp>")`)
	return cmd
}
