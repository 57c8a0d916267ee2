// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/cgroups"
)

// need names the controller that a kind of limit is written to, and tells
// whether a set of resources asks for such a limit.
type need struct {
	controller string
	asked      func(r *cgroups.Resources) bool
}

// v1Needs and v2Needs list what the library's fs and fs2 managers write
// from each field; fields a manager ignores are left out.
var (
	v1Needs = []need{
		{"memory", func(r *cgroups.Resources) bool { return memoryAsked(r) || r.OomKillDisable || swappinessAsked(r) }},
		{"cpu", func(r *cgroups.Resources) bool { return r.CpuShares != 0 || cpuAsked(r) || realtimeAsked(r) }},
		{"cpuset", cpusetAsked},
		{"pids", pidsAsked},
		{"blkio", blkioAsked},
		{"hugetlb", hugetlbAsked},
		{"net_cls", func(r *cgroups.Resources) bool { return r.NetClsClassid != 0 }},
		{"net_prio", func(r *cgroups.Resources) bool { return len(r.NetPrioIfpriomap) > 0 }},
		{"rdma", rdmaAsked},
	}
	v2Needs = []need{
		{"memory", memoryAsked},
		{"cpu", func(r *cgroups.Resources) bool { return r.CpuWeight != 0 || cpuAsked(r) }},
		{"cpuset", cpusetAsked},
		{"pids", pidsAsked},
		{"io", blkioAsked},
		{"hugetlb", hugetlbAsked},
		{"rdma", rdmaAsked},
		// Not controllers on v2 at all, so never available.
		{"net_cls", func(r *cgroups.Resources) bool { return r.NetClsClassid != 0 }},
		{"net_prio", func(r *cgroups.Resources) bool { return len(r.NetPrioIfpriomap) > 0 }},
	}
)

func memoryAsked(r *cgroups.Resources) bool {
	return r.Memory != 0 || r.MemoryReservation != 0 || r.MemorySwap != 0
}

// swappinessAsked mirrors the fs manager, which treats -1 as "leave alone".
func swappinessAsked(r *cgroups.Resources) bool {
	return r.MemorySwappiness != nil && int64(*r.MemorySwappiness) != -1
}

func cpuAsked(r *cgroups.Resources) bool {
	return r.CpuQuota != 0 || r.CpuPeriod != 0 || r.CpuBurst != nil || r.CPUIdle != nil
}

func realtimeAsked(r *cgroups.Resources) bool { return r.CpuRtRuntime != 0 || r.CpuRtPeriod != 0 }
func cpusetAsked(r *cgroups.Resources) bool   { return r.CpusetCpus != "" || r.CpusetMems != "" }
func pidsAsked(r *cgroups.Resources) bool     { return r.PidsLimit != nil }
func hugetlbAsked(r *cgroups.Resources) bool  { return len(r.HugetlbLimit) > 0 }
func rdmaAsked(r *cgroups.Resources) bool     { return len(r.Rdma) > 0 }

func blkioAsked(r *cgroups.Resources) bool {
	return r.BlkioWeight != 0 || r.BlkioLeafWeight != 0 || len(r.BlkioWeightDevice) > 0 ||
		len(r.BlkioThrottleReadBpsDevice) > 0 || len(r.BlkioThrottleWriteBpsDevice) > 0 ||
		len(r.BlkioThrottleReadIOPSDevice) > 0 || len(r.BlkioThrottleWriteIOPSDevice) > 0
}

// checkControllers fails, naming the controller, when r asks for a limit
// that no available controller can enforce. The libraries would otherwise
// either skip the limit silently (v2) or fail on an empty path (v1).
func (m *Manager) checkControllers(r *cgroups.Resources) error {
	needs := v1Needs
	if m.v2 {
		needs = v2Needs
		if realtimeAsked(r) {
			return fmt.Errorf("cpu realtime limits are not supported on cgroup v2: %w", errdefs.ErrNotImplemented)
		}
	}
	var avail map[string]bool
	for _, n := range needs {
		if !n.asked(r) {
			continue
		}
		if avail == nil {
			var err error
			if avail, err = m.available(); err != nil {
				return err
			}
		}
		if !avail[n.controller] {
			return fmt.Errorf("%s limits need the %s cgroup controller, which is not available on this host: %w",
				n.controller, n.controller, errdefs.ErrNotImplemented)
		}
	}
	return nil
}

// available returns the controllers the container's cgroup can use: on v1
// the mounted hierarchies, on v2 the controllers listed in cgroup.controllers
// of the cgroup or, before it exists, of its nearest existing ancestor (the
// one whose subtree_control Apply will extend).
func (m *Manager) available() (map[string]bool, error) {
	avail := map[string]bool{}
	if !m.v2 {
		for name := range m.mgr.GetPaths() {
			avail[name] = true
		}
		return avail, nil
	}
	for dir := m.mgr.Path(""); ; dir = filepath.Dir(dir) {
		data, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
		if errors.Is(err, fs.ErrNotExist) && dir != "/" {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read available cgroup controllers: %w", err)
		}
		for _, c := range strings.Fields(string(data)) {
			avail[c] = true
		}
		return avail, nil
	}
}
