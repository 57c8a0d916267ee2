// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package formatter

import (
	"fmt"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
)

// DefaultStatsTableFormat is the format of "stats".
const DefaultStatsTableFormat = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"

// StatsEntry is one container's figures, computed as docker does.
type StatsEntry struct {
	Container        string
	Name, ID         string
	CPUPercentage    float64
	Memory, MemLimit float64
	MemoryPercentage float64
	NetRx, NetTx     float64
	BlockRead        float64
	BlockWrite       float64
	PidsCurrent      uint64
}

// NewStatsEntry computes the figures from a stats sample that carries the
// previous CPU sample.
func NewStatsEntry(arg string, s container.StatsResponse) StatsEntry {
	e := StatsEntry{Container: arg, Name: strings.TrimPrefix(s.Name, "/"), ID: s.ID, PidsCurrent: s.PidsStats.Current}
	cpuDelta := float64(s.CPUStats.CPUUsage.TotalUsage) - float64(s.PreCPUStats.CPUUsage.TotalUsage)
	sysDelta := float64(s.CPUStats.SystemUsage) - float64(s.PreCPUStats.SystemUsage)
	online := float64(s.CPUStats.OnlineCPUs)
	if online == 0 {
		online = float64(len(s.CPUStats.CPUUsage.PercpuUsage))
	}
	if sysDelta > 0 && cpuDelta > 0 {
		e.CPUPercentage = cpuDelta / sysDelta * online * 100
	}
	mem := float64(s.MemoryStats.Usage)
	// Page cache is not counted, as docker does: total_inactive_file on
	// cgroup v1, inactive_file on v2.
	for _, k := range []string{"total_inactive_file", "inactive_file"} {
		if v, ok := s.MemoryStats.Stats[k]; ok && float64(v) < mem {
			mem -= float64(v)
			break
		}
	}
	e.Memory, e.MemLimit = mem, float64(s.MemoryStats.Limit)
	if e.MemLimit != 0 {
		e.MemoryPercentage = mem / e.MemLimit * 100
	}
	for _, n := range s.Networks {
		e.NetRx += float64(n.RxBytes)
		e.NetTx += float64(n.TxBytes)
	}
	for _, b := range s.BlkioStats.IoServiceBytesRecursive {
		switch strings.ToLower(b.Op) {
		case "read":
			e.BlockRead += float64(b.Value)
		case "write":
			e.BlockWrite += float64(b.Value)
		}
	}
	return e
}

// StatsWrite writes the entries in ctx's format.
func StatsWrite(ctx Context, entries []StatsEntry) error {
	return ctx.Write(&StatsContext{}, func(emit func(SubContext) error) error {
		for _, e := range entries {
			if err := emit(&StatsContext{s: e, trunc: ctx.Trunc}); err != nil {
				return err
			}
		}
		return nil
	})
}

// StatsContext is one row of "stats".
type StatsContext struct {
	s     StatsEntry
	trunc bool
}

// FullHeader is the column header of every field.
func (c *StatsContext) FullHeader() any {
	return HeaderContext{"Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %",
		"MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS"}
}

// MarshalJSON renders the row for {{json .}}.
func (c *StatsContext) MarshalJSON() ([]byte, error) { return MarshalJSON(c) }

// Container is the name or ID the user gave.
func (c *StatsContext) Container() string { return c.s.Container }

// Name is the container's name.
func (c *StatsContext) Name() string {
	if c.s.Name == "" {
		return "--"
	}
	return c.s.Name
}

// ID is the container's ID.
func (c *StatsContext) ID() string {
	if c.trunc {
		return TruncateID(c.s.ID)
	}
	return c.s.ID
}

// CPUPerc is the CPU use in percent.
func (c *StatsContext) CPUPerc() string { return fmt.Sprintf("%.2f%%", c.s.CPUPercentage) }

// MemUsage is the memory use and limit.
func (c *StatsContext) MemUsage() string {
	return units.BytesSize(c.s.Memory) + " / " + units.BytesSize(c.s.MemLimit)
}

// MemPerc is the memory use in percent of the limit.
func (c *StatsContext) MemPerc() string { return fmt.Sprintf("%.2f%%", c.s.MemoryPercentage) }

// NetIO is the network traffic received and sent.
func (c *StatsContext) NetIO() string {
	return units.HumanSizeWithPrecision(c.s.NetRx, 3) + " / " + units.HumanSizeWithPrecision(c.s.NetTx, 3)
}

// BlockIO is the bytes read and written on block devices.
func (c *StatsContext) BlockIO() string {
	return units.HumanSizeWithPrecision(c.s.BlockRead, 3) + " / " + units.HumanSizeWithPrecision(c.s.BlockWrite, 3)
}

// PIDs is the number of processes.
func (c *StatsContext) PIDs() string { return fmt.Sprint(c.s.PidsCurrent) }
