// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package system

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/berth-project/berth/internal/cli/client"
	"github.com/berth-project/berth/internal/cli/command"
	"github.com/berth-project/berth/internal/cli/formatter"
	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/system"
	"github.com/spf13/cobra"
)

// Info is what "info --format" templates see: the daemon's info with the
// client's beside it.
type Info struct {
	*system.Info
	ClientInfo   *ClientInfo
	ClientErrors []string
}

// ClientInfo is the client part of "info".
type ClientInfo struct {
	Version  string
	Context  string
	Debug    bool
	Plugins  []any
	Warnings []string
}

// NewInfoCommand returns "info".
func NewInfoCommand(cli *command.Cli) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "info [OPTIONS]",
		Short: "Display system-wide information",
		Args:  command.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			info := Info{ClientInfo: &ClientInfo{Version: Version, Context: "default", Plugins: []any{}}}
			cl, err := cli.Client()
			var serr error
			if err == nil {
				var r client.SystemInfoResult
				if r, serr = cl.Info(cmd.Context(), client.InfoOptions{}); serr == nil {
					info.Info = &r.Info
				}
			} else {
				serr = err
			}
			if format != "" {
				if format == formatter.JSONFormatKey {
					format = formatter.JSONFormat
				}
				tmpl, err := formatter.ParseTemplate(format)
				if err != nil {
					return fmt.Errorf("template parsing error: %w", err)
				}
				if err := tmpl.Execute(cli.Out(), info); err != nil {
					return fmt.Errorf("template parsing error: %w", err)
				}
				fmt.Fprintln(cli.Out())
				return serr
			}
			printInfo(cli.Out(), info)
			if serr != nil {
				return fmt.Errorf("Server:\nERROR: %w\nerrors pretty printing info", serr)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template")
	return cmd
}

func printInfo(w io.Writer, info Info) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("Client:")
	p(" Version:    %s", info.ClientInfo.Version)
	p(" Context:    %s", info.ClientInfo.Context)
	p(" Debug Mode: %v", info.ClientInfo.Debug)
	i := info.Info
	if i == nil {
		return
	}
	p("")
	p("Server:")
	p(" Containers: %d", i.Containers)
	p("  Running: %d", i.ContainersRunning)
	p("  Paused: %d", i.ContainersPaused)
	p("  Stopped: %d", i.ContainersStopped)
	p(" Images: %d", i.Images)
	p(" Server Version: %s", i.ServerVersion)
	p(" Storage Driver: %s", i.Driver)
	for _, kv := range i.DriverStatus {
		p("  %s: %s", kv[0], kv[1])
	}
	p(" Logging Driver: %s", i.LoggingDriver)
	p(" Cgroup Driver: %s", i.CgroupDriver)
	p(" Cgroup Version: %s", i.CgroupVersion)
	p(" Plugins:")
	p("  Volume: %s", strings.Join(i.Plugins.Volume, " "))
	p("  Network: %s", strings.Join(i.Plugins.Network, " "))
	p("  Log: %s", strings.Join(i.Plugins.Log, " "))
	p(" Swarm: %s", i.Swarm.LocalNodeState)
	var rts []string
	for k := range i.Runtimes {
		rts = append(rts, k)
	}
	slices.Sort(rts)
	p(" Runtimes: %s", strings.Join(rts, " "))
	p(" Default Runtime: %s", i.DefaultRuntime)
	p(" Init Binary: %s", i.InitBinary)
	p(" containerd version: %s", i.ContainerdCommit.ID)
	p(" runc version: %s", i.RuncCommit.ID)
	p(" init version: %s", i.InitCommit.ID)
	if len(i.SecurityOptions) > 0 {
		p(" Security Options:")
		for _, o := range i.SecurityOptions {
			for _, kv := range strings.Split(o, ",") {
				k, v, _ := strings.Cut(kv, "=")
				if k == "name" {
					p("  %s", v)
				} else {
					p("   %s: %s", strings.ToUpper(k[:1])+k[1:], v)
				}
			}
		}
	}
	p(" Kernel Version: %s", i.KernelVersion)
	p(" Operating System: %s", i.OperatingSystem)
	p(" OSType: %s", i.OSType)
	p(" Architecture: %s", i.Architecture)
	p(" CPUs: %d", i.NCPU)
	p(" Total Memory: %s", units.BytesSize(float64(i.MemTotal)))
	p(" Name: %s", i.Name)
	p(" ID: %s", i.ID)
	p(" Docker Root Dir: %s", i.DockerRootDir)
	p(" Debug Mode: %v", i.Debug)
	p(" Experimental: %v", i.ExperimentalBuild)
	if i.RegistryConfig != nil && len(i.RegistryConfig.InsecureRegistryCIDRs) > 0 {
		p(" Insecure Registries:")
		for _, c := range i.RegistryConfig.IndexConfigs {
			if !c.Secure && c.Name != "docker.io" {
				p("  %s", c.Name)
			}
		}
		for _, c := range i.RegistryConfig.InsecureRegistryCIDRs {
			p("  %s", c)
		}
	}
	p(" Live Restore Enabled: %v", i.LiveRestoreEnabled)
	if len(i.Warnings) > 0 {
		p("")
		for _, w2 := range i.Warnings {
			p("%s", w2)
		}
	}
}
