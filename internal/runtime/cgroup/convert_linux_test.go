// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package cgroup

import (
	"testing"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/cgroups"
	devices "github.com/opencontainers/cgroups/devices/config"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

func ptr[T any](v T) *T { return &v }

// withDenyAll returns the rules Convert produces: deny all, then rules.
func withDenyAll(rules ...*devices.Rule) []*devices.Rule {
	return append([]*devices.Rule{{Type: 'a', Major: -1, Minor: -1, Permissions: "rwm"}}, rules...)
}

func TestConvert(t *testing.T) {
	tests := []struct {
		name string
		in   *specs.LinuxResources
		want *cgroups.Resources
	}{
		{name: "nil", in: nil, want: &cgroups.Resources{Devices: withDenyAll()}},
		{name: "empty", in: &specs.LinuxResources{}, want: &cgroups.Resources{Devices: withDenyAll()}},
		{
			name: "memory",
			in: &specs.LinuxResources{Memory: &specs.LinuxMemory{
				Limit: ptr[int64](64 << 20), Reservation: ptr[int64](32 << 20), Swap: ptr[int64](128 << 20),
				Kernel: ptr[int64](1 << 20), KernelTCP: ptr[int64](1 << 20), Swappiness: ptr[uint64](10),
				DisableOOMKiller: ptr(true), CheckBeforeUpdate: ptr(true),
			}},
			want: &cgroups.Resources{
				Devices: withDenyAll(), Memory: 64 << 20, MemoryReservation: 32 << 20, MemorySwap: 128 << 20,
				MemorySwappiness: ptr[uint64](10), OomKillDisable: true, MemoryCheckBeforeUpdate: true,
			},
		},
		{
			name: "cpu",
			in: &specs.LinuxResources{CPU: &specs.LinuxCPU{
				Shares: ptr[uint64](1024), Quota: ptr[int64](50000), Burst: ptr[uint64](1000), Period: ptr[uint64](100000),
				RealtimeRuntime: ptr[int64](950), RealtimePeriod: ptr[uint64](1000), Cpus: "0-1", Mems: "0", Idle: ptr[int64](1),
			}},
			want: &cgroups.Resources{
				Devices: withDenyAll(), CpuShares: 1024, CpuWeight: 100, CpuQuota: 50000, CpuBurst: ptr[uint64](1000),
				CpuPeriod: 100000, CpuRtRuntime: 950, CpuRtPeriod: 1000, CpusetCpus: "0-1", CpusetMems: "0", CPUIdle: ptr[int64](1),
			},
		},
		{
			name: "cpu shares at the v1 extremes",
			in:   &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr[uint64](2)}},
			want: &cgroups.Resources{Devices: withDenyAll(), CpuShares: 2, CpuWeight: 1},
		},
		{
			name: "pids",
			in:   &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](100)}},
			want: &cgroups.Resources{Devices: withDenyAll(), PidsLimit: ptr[int64](100)},
		},
		{
			name: "block io",
			in: &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
				Weight: ptr[uint16](300), LeafWeight: ptr[uint16](200),
				WeightDevice: []specs.LinuxWeightDevice{
					{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Weight: ptr[uint16](500)},
					{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 16}, LeafWeight: ptr[uint16](50)},
				},
				ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 1}},
				ThrottleWriteBpsDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 2}},
				ThrottleReadIOPSDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 3}},
				ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 4}},
			}},
			want: &cgroups.Resources{
				Devices: withDenyAll(), BlkioWeight: 300, BlkioLeafWeight: 200,
				BlkioWeightDevice:            []*cgroups.WeightDevice{cgroups.NewWeightDevice(8, 0, 500, 0), cgroups.NewWeightDevice(8, 16, 0, 50)},
				BlkioThrottleReadBpsDevice:   []*cgroups.ThrottleDevice{cgroups.NewThrottleDevice(8, 0, 1)},
				BlkioThrottleWriteBpsDevice:  []*cgroups.ThrottleDevice{cgroups.NewThrottleDevice(8, 0, 2)},
				BlkioThrottleReadIOPSDevice:  []*cgroups.ThrottleDevice{cgroups.NewThrottleDevice(8, 0, 3)},
				BlkioThrottleWriteIOPSDevice: []*cgroups.ThrottleDevice{cgroups.NewThrottleDevice(8, 0, 4)},
			},
		},
		{
			name: "hugepages, network, rdma and unified",
			in: &specs.LinuxResources{
				HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}},
				Network: &specs.LinuxNetwork{
					ClassID: ptr[uint32](0x100001), Priorities: []specs.LinuxInterfacePriority{{Name: "eth0", Priority: 5}},
				},
				Rdma:    map[string]specs.LinuxRdma{"mlx5_0": {HcaHandles: ptr[uint32](3), HcaObjects: ptr[uint32](1000)}},
				Unified: map[string]string{"memory.high": "1G"},
			},
			want: &cgroups.Resources{
				Devices:          withDenyAll(),
				HugetlbLimit:     []*cgroups.HugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}},
				NetClsClassid:    0x100001,
				NetPrioIfpriomap: []*cgroups.IfPrioMap{{Interface: "eth0", Priority: 5}},
				Rdma:             map[string]cgroups.LinuxRdma{"mlx5_0": {HcaHandles: ptr[uint32](3), HcaObjects: ptr[uint32](1000)}},
				Unified:          map[string]string{"memory.high": "1G"},
			},
		},
		{
			name: "devices in order after deny all, with wildcards",
			in: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
				{Allow: true, Access: "rwm"},
				{Allow: false, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](3), Access: "w"},
				{Allow: true, Type: "b", Major: ptr[int64](8), Access: "r"},
				{Allow: true, Type: "a", Minor: ptr[int64](-1), Access: "m"},
			}},
			want: &cgroups.Resources{Devices: withDenyAll(
				&devices.Rule{Type: 'a', Major: -1, Minor: -1, Permissions: "rwm", Allow: true},
				&devices.Rule{Type: 'c', Major: 1, Minor: 3, Permissions: "w"},
				&devices.Rule{Type: 'b', Major: 8, Minor: -1, Permissions: "r", Allow: true},
				&devices.Rule{Type: 'a', Major: -1, Minor: -1, Permissions: "m", Allow: true},
			)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Convert(tc.in)
			assert.NilError(t, err)
			assert.DeepEqual(t, got, tc.want)
		})
	}
}

func TestConvertInvalidDevice(t *testing.T) {
	tests := []struct {
		name string
		rule specs.LinuxDeviceCgroup
		err  string
	}{
		{name: "fifo type", rule: specs.LinuxDeviceCgroup{Type: "p", Access: "rwm"}, err: `device rule 0: invalid device type "p"`},
		{name: "no access", rule: specs.LinuxDeviceCgroup{Type: "c"}, err: `device rule 0: invalid device access ""`},
		{name: "bad access", rule: specs.LinuxDeviceCgroup{Type: "c", Access: "rwx"}, err: `device rule 0: invalid device access "rwx"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Convert(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{tc.rule}})
			assert.Check(t, is.ErrorContains(err, tc.err))
			assert.Check(t, errdefs.IsInvalidArgument(err))
		})
	}
}
