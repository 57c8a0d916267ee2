package runtimecmd

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/docker/go-units"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
)

func updateCmd(g *globals) *cobra.Command {
	var resources string
	fl := map[string]*string{}
	cmd := &cobra.Command{
		Use:   "update [flags] <container-id>",
		Short: "update container resource constraints",
		Args:  exactArgs(1, "<container-id>"),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt := g.runtime()
			st, err := rt.Load(args[0])
			if err != nil {
				return err
			}
			spec, err := rt.Spec(st)
			if err != nil {
				return err
			}
			res := spec.Linux.Resources
			if res == nil {
				res = &specs.LinuxResources{}
			}
			if resources != "" {
				var r io.Reader = os.Stdin
				if resources != "-" {
					f, err := os.Open(resources)
					if err != nil {
						return err
					}
					defer f.Close()
					r = f
				}
				// The document is merged over the current resources: fields
				// it leaves out keep their values, as in runc.
				if err := json.NewDecoder(r).Decode(res); err != nil {
					return fmt.Errorf("decode resources: %w", err)
				}
			}
			if err := applyUpdateFlags(cmd, fl, res); err != nil {
				return err
			}
			return rt.Update(args[0], res)
		},
	}
	cmd.Flags().StringVarP(&resources, "resources", "r", "", "path to the file containing the resources to update or '-' to read from the standard input")
	for _, f := range []struct{ name, usage string }{
		{"blkio-weight", "specifies per cgroup weight, range is from 10 to 1000"},
		{"cpu-period", "CPU CFS period to be used for hardcapping (in usecs). 0 to use system default"},
		{"cpu-quota", "CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period"},
		{"cpu-share", "CPU shares (relative weight vs. other containers)"},
		{"cpu-rt-period", "CPU realtime period to be used for hardcapping (in usecs)"},
		{"cpu-rt-runtime", "CPU realtime hardcap limit (in usecs)"},
		{"cpuset-cpus", "CPU(s) to use"},
		{"cpuset-mems", "Memory node(s) to use"},
		{"memory", "Memory limit (in bytes)"},
		{"memory-reservation", "Memory reservation or soft_limit (in bytes)"},
		{"memory-swap", "Total memory usage (memory + swap); set '-1' to enable unlimited swap"},
		{"pids-limit", "Maximum number of pids allowed in the container"},
	} {
		fl[f.name] = cmd.Flags().String(f.name, "", f.usage)
	}
	return cmd
}

func applyUpdateFlags(cmd *cobra.Command, fl map[string]*string, res *specs.LinuxResources) error {
	if res.Memory == nil {
		res.Memory = &specs.LinuxMemory{}
	}
	if res.CPU == nil {
		res.CPU = &specs.LinuxCPU{}
	}
	for name, v := range fl {
		if !cmd.Flags().Changed(name) {
			continue
		}
		bad := func(err error) error { return fmt.Errorf("invalid value for --%s: %q: %v", name, *v, err) }
		num := func() (int64, error) {
			if *v == "-1" {
				return -1, nil
			}
			if n, err := strconv.ParseInt(*v, 10, 64); err == nil {
				return n, nil
			}
			return units.RAMInBytes(*v)
		}
		switch name {
		case "cpuset-cpus":
			res.CPU.Cpus = *v
			continue
		case "cpuset-mems":
			res.CPU.Mems = *v
			continue
		}
		n, err := num()
		if err != nil {
			return bad(err)
		}
		u := uint64(n)
		switch name {
		case "blkio-weight":
			w := uint16(n)
			if res.BlockIO == nil {
				res.BlockIO = &specs.LinuxBlockIO{}
			}
			res.BlockIO.Weight = &w
		case "cpu-period":
			res.CPU.Period = &u
		case "cpu-quota":
			res.CPU.Quota = &n
		case "cpu-share":
			res.CPU.Shares = &u
		case "cpu-rt-period":
			res.CPU.RealtimePeriod = &u
		case "cpu-rt-runtime":
			res.CPU.RealtimeRuntime = &n
		case "memory":
			res.Memory.Limit = &n
		case "memory-reservation":
			res.Memory.Reservation = &n
		case "memory-swap":
			res.Memory.Swap = &n
		case "pids-limit":
			res.Pids = &specs.LinuxPids{Limit: &n}
		}
	}
	return nil
}
