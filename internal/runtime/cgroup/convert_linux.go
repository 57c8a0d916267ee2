// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package cgroup

import (
	"fmt"
	"maps"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/cgroups"
	devices "github.com/opencontainers/cgroups/devices/config"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// denyAll is the rule every container's device list starts with, as in
// runc's default spec: a device the spec does not allow stays unreachable.
var denyAll = devices.Rule{
	Type:        devices.WildcardDevice,
	Major:       devices.Wildcard,
	Minor:       devices.Wildcard,
	Permissions: "rwm",
	Allow:       false,
}

// Convert turns OCI resources into the library's *cgroups.Resources. A nil
// res gives resources that only deny all devices.
//
// Values are copied with their v1 meaning (OCI memory.swap is memory+swap,
// as is Resources.MemorySwap). On cgroup v2 the fs2 manager converts swap to
// memory.swap.max (swap minus memory) and blkio weight to io.weight itself,
// but it ignores cpu shares, so Convert also fills CpuWeight with the v2
// equivalent of the shares. Kernel memory limits, memory.useHierarchy, and
// on v2 swappiness, disableOOMKiller and the blkio leaf weights have no
// effect.
func Convert(res *specs.LinuxResources) (*cgroups.Resources, error) {
	r := &cgroups.Resources{Devices: []*devices.Rule{new(denyAll)}}
	if res == nil {
		return r, nil
	}
	for i, d := range res.Devices {
		rule, err := deviceRule(d)
		if err != nil {
			return nil, fmt.Errorf("device rule %d: %w", i, err)
		}
		r.Devices = append(r.Devices, rule)
	}
	if m := res.Memory; m != nil {
		r.Memory = deref(m.Limit)
		r.MemoryReservation = deref(m.Reservation)
		r.MemorySwap = deref(m.Swap)
		r.MemorySwappiness = m.Swappiness
		r.OomKillDisable = deref(m.DisableOOMKiller)
		r.MemoryCheckBeforeUpdate = deref(m.CheckBeforeUpdate)
	}
	if c := res.CPU; c != nil {
		r.CpuShares = deref(c.Shares)
		r.CpuWeight = cgroups.ConvertCPUSharesToCgroupV2Value(r.CpuShares)
		r.CpuQuota = deref(c.Quota)
		r.CpuBurst = c.Burst
		r.CpuPeriod = deref(c.Period)
		r.CpuRtRuntime = deref(c.RealtimeRuntime)
		r.CpuRtPeriod = deref(c.RealtimePeriod)
		r.CpusetCpus = c.Cpus
		r.CpusetMems = c.Mems
		r.CPUIdle = c.Idle
	}
	if res.Pids != nil {
		r.PidsLimit = res.Pids.Limit
	}
	if b := res.BlockIO; b != nil {
		convertBlockIO(r, b)
	}
	for _, h := range res.HugepageLimits {
		r.HugetlbLimit = append(r.HugetlbLimit, &cgroups.HugepageLimit{Pagesize: h.Pagesize, Limit: h.Limit})
	}
	if n := res.Network; n != nil {
		r.NetClsClassid = deref(n.ClassID)
		for _, p := range n.Priorities {
			r.NetPrioIfpriomap = append(r.NetPrioIfpriomap, &cgroups.IfPrioMap{Interface: p.Name, Priority: int64(p.Priority)})
		}
	}
	if len(res.Rdma) > 0 {
		r.Rdma = make(map[string]cgroups.LinuxRdma, len(res.Rdma))
		for dev, l := range res.Rdma {
			r.Rdma[dev] = cgroups.LinuxRdma{HcaHandles: l.HcaHandles, HcaObjects: l.HcaObjects}
		}
	}
	if len(res.Unified) > 0 {
		r.Unified = maps.Clone(res.Unified)
	}
	return r, nil
}

func convertBlockIO(r *cgroups.Resources, b *specs.LinuxBlockIO) {
	r.BlkioWeight = deref(b.Weight)
	r.BlkioLeafWeight = deref(b.LeafWeight)
	for _, wd := range b.WeightDevice {
		r.BlkioWeightDevice = append(r.BlkioWeightDevice,
			cgroups.NewWeightDevice(wd.Major, wd.Minor, deref(wd.Weight), deref(wd.LeafWeight)))
	}
	throttle := func(tds []specs.LinuxThrottleDevice) []*cgroups.ThrottleDevice {
		var out []*cgroups.ThrottleDevice
		for _, td := range tds {
			out = append(out, cgroups.NewThrottleDevice(td.Major, td.Minor, td.Rate))
		}
		return out
	}
	r.BlkioThrottleReadBpsDevice = throttle(b.ThrottleReadBpsDevice)
	r.BlkioThrottleWriteBpsDevice = throttle(b.ThrottleWriteBpsDevice)
	r.BlkioThrottleReadIOPSDevice = throttle(b.ThrottleReadIOPSDevice)
	r.BlkioThrottleWriteIOPSDevice = throttle(b.ThrottleWriteIOPSDevice)
}

// deviceRule converts one OCI device cgroup rule. As in the runtime-spec, a
// missing type means all devices and a missing major or minor number is a
// wildcard; the access string is required.
func deviceRule(d specs.LinuxDeviceCgroup) (*devices.Rule, error) {
	rule := &devices.Rule{
		Type:        devices.WildcardDevice,
		Major:       devices.Wildcard,
		Minor:       devices.Wildcard,
		Permissions: devices.Permissions(d.Access),
		Allow:       d.Allow,
	}
	switch d.Type {
	case "", "a":
	case "b":
		rule.Type = devices.BlockDevice
	case "c":
		rule.Type = devices.CharDevice
	default:
		return nil, fmt.Errorf("invalid device type %q: %w", d.Type, errdefs.ErrInvalidArgument)
	}
	if d.Major != nil {
		rule.Major = *d.Major
	}
	if d.Minor != nil {
		rule.Minor = *d.Minor
	}
	if d.Access == "" || !rule.Permissions.IsValid() {
		return nil, fmt.Errorf("invalid device access %q: %w", d.Access, errdefs.ErrInvalidArgument)
	}
	return rule, nil
}

// deref returns *p, or the zero value (which the library reads as "unset")
// when p is nil.
func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}
