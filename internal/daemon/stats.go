// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	containertypes "github.com/moby/moby/api/types/container"

	ctr "github.com/berth-project/berth/internal/container"
)

// ContainerTop runs ps on the host and keeps the container's processes,
// as Docker does.
func (d *Daemon) ContainerTop(ctx context.Context, ref, psArgs string) (containertypes.TopResponse, error) {
	var resp containertypes.TopResponse
	c, err := d.store.Get(ref)
	if err != nil {
		return resp, err
	}
	c.Mu.Lock()
	running := c.IsRunning()
	c.Mu.Unlock()
	if !running {
		return resp, errdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is not running", c.ID))
	}
	pids, err := d.rt.Pids(c.ID)
	if err != nil {
		return resp, err
	}
	if psArgs == "" {
		psArgs = "-ef"
	}
	// As moby does: ps restricted to the container's processes (-q), or,
	// for options that do not go with -q (f, say), all of them, filtered
	// here by the PID column.
	args := strings.Fields(psArgs)
	q := make([]string, len(pids))
	for i, p := range pids {
		q[i] = strconv.Itoa(p)
	}
	out, err := exec.CommandContext(ctx, "ps", append(args, "-q", strings.Join(q, ","))...).Output()
	if err != nil {
		out, err = exec.CommandContext(ctx, "ps", args...).Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				// the first line of ps's stderr says why
				if line, _, _ := strings.Cut(string(ee.Stderr), "\n"); line != "" {
					err = errors.New(line)
				}
			}
			return resp, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("ps: %v", err))
		}
	}
	return parsePS(string(out), pids)
}

// parsePS keeps the lines of ps output whose PID is one of pids. The PID
// column is "PID".
func parsePS(out string, pids []int) (containertypes.TopResponse, error) {
	var resp containertypes.TopResponse
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) == 0 {
		return resp, nil
	}
	header := strings.Fields(lines[0])
	pidCol := -1
	for i, h := range header {
		if h == "PID" {
			pidCol = i
			break
		}
	}

	if pidCol < 0 {
		return resp, errdefs.ErrInvalidArgument.WithMessage("Couldn't find PID field in ps output")
	}
	want := map[int]bool{}
	for _, p := range pids {
		want[p] = true
	}
	resp.Titles = header
	resp.Processes = [][]string{}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) <= pidCol {
			continue
		}
		pid, err := strconv.Atoi(f[pidCol])
		if err != nil || !want[pid] {
			continue
		}
		if len(f) > len(header) {
			f = append(f[:len(header)-1], strings.Join(f[len(header)-1:], " "))
		}
		resp.Processes = append(resp.Processes, f)
	}
	return resp, nil
}

// ContainerStats writes the container's resource usage as JSON, once or
// every second while streaming, from its cgroup.
func (d *Daemon) ContainerStats(ctx context.Context, ref string, stream bool, w io.Writer) error {
	c, err := d.store.Get(ref)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	var prev *containertypes.StatsResponse
	for {
		s := d.stats(c)
		if prev != nil {
			s.PreCPUStats = prev.CPUStats
			s.PreRead = prev.Read
		}
		if err := enc.Encode(s); err != nil {
			return nil
		}
		if !stream {
			return nil
		}
		prev = &s
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

func (d *Daemon) stats(c *ctr.Container) containertypes.StatsResponse {
	c.Mu.Lock()
	running := c.IsRunning()
	s := containertypes.StatsResponse{Name: c.Name, ID: c.ID, Read: time.Now().UTC()}
	c.Mu.Unlock()
	s.OSType = "linux"
	if !running {
		return s
	}
	st, err := d.rt.Stats(c.ID)
	if err != nil {
		return s
	}
	s.CPUStats.CPUUsage.TotalUsage = st.CpuStats.CpuUsage.TotalUsage
	s.CPUStats.CPUUsage.UsageInKernelmode = st.CpuStats.CpuUsage.UsageInKernelmode
	s.CPUStats.CPUUsage.UsageInUsermode = st.CpuStats.CpuUsage.UsageInUsermode
	s.CPUStats.CPUUsage.PercpuUsage = st.CpuStats.CpuUsage.PercpuUsage
	s.CPUStats.SystemUsage = systemCPUUsage()
	s.CPUStats.OnlineCPUs = uint32(onlineCPUs())
	s.CPUStats.ThrottlingData.Periods = st.CpuStats.ThrottlingData.Periods
	s.CPUStats.ThrottlingData.ThrottledPeriods = st.CpuStats.ThrottlingData.ThrottledPeriods
	s.CPUStats.ThrottlingData.ThrottledTime = st.CpuStats.ThrottlingData.ThrottledTime
	s.MemoryStats.Usage = st.MemoryStats.Usage.Usage
	s.MemoryStats.MaxUsage = st.MemoryStats.Usage.MaxUsage
	s.MemoryStats.Failcnt = st.MemoryStats.Usage.Failcnt
	s.MemoryStats.Limit = st.MemoryStats.Usage.Limit
	if s.MemoryStats.Limit == 0 || s.MemoryStats.Limit > uint64(1)<<62 {
		s.MemoryStats.Limit = memTotal()
	}
	s.MemoryStats.Stats = st.MemoryStats.Stats
	s.PidsStats.Current = st.PidsStats.Current
	s.PidsStats.Limit = st.PidsStats.Limit
	for _, e := range st.BlkioStats.IoServiceBytesRecursive {
		s.BlkioStats.IoServiceBytesRecursive = append(s.BlkioStats.IoServiceBytesRecursive, containertypes.BlkioStatEntry{Major: e.Major, Minor: e.Minor, Op: e.Op, Value: e.Value})
	}
	return s
}

// systemCPUUsage is the host's total CPU time in nanoseconds, from the
// first line of /proc/stat, as Docker computes it.
func systemCPUUsage() uint64 {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0
	}
	fields := strings.Fields(sc.Text())
	var total uint64
	for _, v := range fields[1:min(len(fields), 8)] {
		n, _ := strconv.ParseUint(v, 10, 64)
		total += n
	}
	return total * 1e9 / 100 // clock ticks (USER_HZ = 100) to ns
}

func onlineCPUs() int {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return 1
	}
	n := 0
	for _, r := range strings.Split(strings.TrimSpace(string(b)), ",") {
		a, z, ok := strings.Cut(r, "-")
		x, _ := strconv.Atoi(a)
		y := x
		if ok {
			y, _ = strconv.Atoi(z)
		}
		n += y - x + 1
	}
	return n
}

func memTotal() uint64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "MemTotal:") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				n, _ := strconv.ParseUint(f[1], 10, 64)
				return n * 1024
			}
		}
	}
	return 0
}
