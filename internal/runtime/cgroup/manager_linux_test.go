// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package cgroup_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/runtime/cgroup"
	"github.com/berth-project/berth/internal/testutil"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/poll"
)

// requireV1 gates the tests that read v1 file names. TestV2 covers v2, on
// every host.
func requireV1(t *testing.T) {
	t.Helper()
	testutil.RequiresRoot(t)
	if cgroups.IsCgroup2UnifiedMode() {
		t.Skip("cgroup v1 layout test on a cgroup v2 host; TestV2 covers v2")
	}
}

// controllerDir returns the directory holding controller's files.
func controllerDir(m *cgroup.Manager, controller string) string {
	if cgroups.IsCgroup2UnifiedMode() {
		controller = ""
	}
	return m.Paths()[controller]
}

// devNull allows /dev/null, which dash opens as the stdin of every
// background job.
var devNull = []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](3), Access: "rwm"}}

type cgroupFile struct{ controller, file, want string }

func checkFiles(t *testing.T, m *cgroup.Manager, files []cgroupFile) {
	t.Helper()
	for _, f := range files {
		got := readCgroupFile(t, controllerDir(m, f.controller), f.file)
		assert.Check(t, is.Equal(got, f.want), "%s/%s", f.controller, f.file)
	}
}

// blkioWeightFile is blkio.weight with the legacy CFQ scheduler and
// blkio.bfq.weight with BFQ, the only v1 scheduler with weights since 5.0.
func blkioWeightFile(m *cgroup.Manager) string {
	if _, err := os.Stat(filepath.Join(m.Paths()["blkio"], "blkio.weight")); err == nil {
		return "blkio.weight"
	}
	return "blkio.bfq.weight"
}

func TestApplyAndSetV1(t *testing.T) {
	requireV1(t)
	cpus := "0"
	if runtime.NumCPU() > 1 {
		cpus = "1"
	}
	m := newTestManager(t, &specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](3), Access: "rwm"}},
		Memory:  &specs.LinuxMemory{Limit: ptr[int64](64 << 20), Reservation: ptr[int64](32 << 20), Swap: ptr[int64](128 << 20)},
		CPU:     &specs.LinuxCPU{Shares: ptr[uint64](512), Quota: ptr[int64](50000), Period: ptr[uint64](100000), Cpus: "0", Mems: "0"},
		Pids:    &specs.LinuxPids{Limit: ptr[int64](10)},
		BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](200)},
	})
	cmd := start(t, m, "sleep", "100")
	assert.NilError(t, m.Apply(cmd.Process.Pid))

	for name, dir := range m.Paths() {
		procs := strings.Fields(readCgroupFile(t, dir, "cgroup.procs"))
		assert.Check(t, is.DeepEqual(procs, []string{strconv.Itoa(cmd.Process.Pid)}), "hierarchy %q", name)
	}
	weight := blkioWeightFile(m)
	checkFiles(t, m, []cgroupFile{
		{"memory", "memory.limit_in_bytes", "67108864"},
		{"memory", "memory.soft_limit_in_bytes", "33554432"},
		{"memory", "memory.memsw.limit_in_bytes", "134217728"},
		{"cpu", "cpu.shares", "512"},
		{"cpu", "cpu.cfs_quota_us", "50000"},
		{"cpu", "cpu.cfs_period_us", "100000"},
		{"cpuset", "cpuset.cpus", "0"},
		{"cpuset", "cpuset.mems", "0"},
		{"pids", "pids.max", "10"},
		{"blkio", weight, "200"},
		{"devices", "devices.list", "c 1:3 rwm"},
	})

	// A live update: the memory limit rises above the old memory+swap
	// limit, so the library must raise memsw first. No device rules are
	// given, so those in force stay.
	assert.NilError(t, m.Set(&specs.LinuxResources{
		Memory:  &specs.LinuxMemory{Limit: ptr[int64](192 << 20), Swap: ptr[int64](256 << 20)},
		CPU:     &specs.LinuxCPU{Shares: ptr[uint64](1024), Quota: ptr[int64](20000), Cpus: cpus},
		Pids:    &specs.LinuxPids{Limit: ptr[int64](20)},
		BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](300)},
	}))
	checkFiles(t, m, []cgroupFile{
		{"memory", "memory.limit_in_bytes", "201326592"},
		{"memory", "memory.soft_limit_in_bytes", "33554432"},
		{"memory", "memory.memsw.limit_in_bytes", "268435456"},
		{"cpu", "cpu.shares", "1024"},
		{"cpu", "cpu.cfs_quota_us", "20000"},
		{"cpu", "cpu.cfs_period_us", "100000"},
		{"cpuset", "cpuset.cpus", cpus},
		{"pids", "pids.max", "20"},
		{"blkio", weight, "300"},
		{"devices", "devices.list", "c 1:3 rwm"},
	})

	// Device rules given to Set replace the old ones.
	assert.NilError(t, m.Set(&specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
		{Allow: true, Type: "c", Major: ptr[int64](1), Minor: ptr[int64](5), Access: "rw"},
	}}))
	checkFiles(t, m, []cgroupFile{{"devices", "devices.list", "c 1:5 rw"}})
}

func TestFreezeV1(t *testing.T) {
	requireV1(t)
	m := newTestManager(t, nil)
	cmd := start(t, m, "sleep", "100")
	pid := cmd.Process.Pid
	assert.NilError(t, m.Apply(pid))
	waitState(t, pid, "S")

	assert.NilError(t, m.Freeze())
	checkFiles(t, m, []cgroupFile{{"freezer", "freezer.state", "FROZEN"}})
	frozen, err := m.Frozen()
	assert.NilError(t, err)
	assert.Check(t, frozen)
	// A task stopped by the v1 freezer is in TASK_FROZEN (either parked
	// in __refrigerator() or, since Linux 6.1, frozen in place in its
	// freezable sleep), which /proc reports as "D".
	waitState(t, pid, "D")

	assert.NilError(t, m.Thaw())
	checkFiles(t, m, []cgroupFile{{"freezer", "freezer.state", "THAWED"}})
	frozen, err = m.Frozen()
	assert.NilError(t, err)
	assert.Check(t, !frozen)
	waitState(t, pid, "S")
}

func TestPidsAndStatsV1(t *testing.T) {
	requireV1(t)
	m := newTestManager(t, &specs.LinuxResources{
		Devices: devNull,
		Memory:  &specs.LinuxMemory{Limit: ptr[int64](64 << 20)},
	})
	// Both processes start inside the cgroup, so the memory they touch is
	// charged to it (v1 does not move charges with a migrating task).
	cmd, _, release := startGated(t, m, "sleep 100 >&- 2>&- & exec sleep 100")
	main := cmd.Process.Pid
	assert.NilError(t, m.Apply(main))
	release()

	var child int
	poll.WaitOn(t, func(poll.LogT) poll.Result {
		pids, err := m.Pids()
		if err != nil {
			return poll.Error(err)
		}
		if len(pids) != 2 {
			return poll.Continue("pids %v", pids)
		}
		child = pids[0] + pids[1] - main
		return poll.Success()
	})
	// Pids is recursive: move the child into a sub-cgroup.
	sub := filepath.Join(m.Paths()["devices"], "sub")
	assert.NilError(t, os.Mkdir(sub, 0o755))
	assert.NilError(t, os.WriteFile(filepath.Join(sub, "cgroup.procs"), []byte(strconv.Itoa(child)), 0o644))
	pids, err := m.Pids()
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(sorted(pids...), sorted(main, child)))

	st, err := m.Stats()
	assert.NilError(t, err)
	assert.Check(t, st.MemoryStats.Usage.Usage > 0, "memory usage %d", st.MemoryStats.Usage.Usage)
	assert.Check(t, is.Equal(st.MemoryStats.Usage.Limit, uint64(64<<20)))
	assert.Check(t, is.Equal(st.PidsStats.Current, uint64(2)))
	n, err := m.OOMKillCount()
	assert.NilError(t, err)
	assert.Check(t, is.Equal(n, uint64(0)))
}

// TestAbsentControllerV1 asks for limits of controllers this host has not
// mounted: Apply must fail naming the controller, before creating anything.
// Other tests show that absent controllers do not matter without limits.
func TestAbsentControllerV1(t *testing.T) {
	requireV1(t)
	mounted := newTestManager(t, nil).Paths()
	tests := []struct {
		controller string
		res        *specs.LinuxResources
	}{
		{"hugetlb", &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}}}},
		{"net_cls", &specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: ptr[uint32](0x100001)}}},
		{"net_prio", &specs.LinuxResources{Network: &specs.LinuxNetwork{Priorities: []specs.LinuxInterfacePriority{{Name: "lo", Priority: 1}}}}},
		{"rdma", &specs.LinuxResources{Rdma: map[string]specs.LinuxRdma{"mlx5_0": {HcaHandles: ptr[uint32](1)}}}},
	}
	ran := 0
	for _, tc := range tests {
		if _, ok := mounted[tc.controller]; ok {
			continue
		}
		ran++
		t.Run(tc.controller, func(t *testing.T) {
			m := newTestManager(t, tc.res)
			cmd := start(t, m, "sleep", "100")
			err := m.Apply(cmd.Process.Pid)
			assert.Check(t, is.ErrorContains(err, tc.controller+" limits need the "+tc.controller+" cgroup controller, which is not available"))
			assert.Check(t, errdefs.IsNotImplemented(err))
			for _, p := range m.Paths() {
				_, err := os.Stat(p)
				assert.Check(t, errors.Is(err, fs.ErrNotExist), "%s exists", p)
			}
		})
	}
	if ran == 0 {
		t.Skip("every v1 controller is mounted on this host")
	}
}

func TestDeviceRules(t *testing.T) {
	testutil.RequiresRoot(t)
	testDeviceRules(t)
}

func TestPidsLimit(t *testing.T) {
	testutil.RequiresRoot(t)
	testPidsLimit(t)
}

// testPidsLimit starts a shell that forks ten sleeps in a cgroup limited to
// three tasks: the third fork must fail (EAGAIN from fork(2)).
func testPidsLimit(t *testing.T) {
	m := newTestManager(t, &specs.LinuxResources{Devices: devNull, Pids: &specs.LinuxPids{Limit: ptr[int64](3)}})
	// The sleeps close stdout and stderr so that Wait does not wait for them.
	cmd, out, release := startGated(t, m, "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 10 >&- 2>&- & done; wait")
	assert.NilError(t, m.Apply(cmd.Process.Pid))
	release()
	err := cmd.Wait()
	assert.Check(t, err != nil, "the shell forked ten children under pids.max 3: %s", out)
	assert.Check(t, is.Contains(out.String(), "fork"))
	dir := controllerDir(m, "pids")
	checkFiles(t, m, []cgroupFile{{"pids", "pids.max", "3"}})
	assert.Check(t, readCgroupFile(t, dir, "pids.events") != "max 0", "pids.events does not count a refused fork")
}

func TestLoadAndDestroy(t *testing.T) {
	testutil.RequiresRoot(t)
	testLoadAndDestroy(t)
}

// testLoadAndDestroy rebuilds a manager from Paths, as a later runtime
// process does, and uses it to join and then remove the cgroup.
func testLoadAndDestroy(t *testing.T) {
	m := newTestManager(t, nil)
	first := start(t, m, "sleep", "100")
	assert.NilError(t, m.Apply(first.Process.Pid))

	loaded, err := cgroup.Load(m.Paths(), nil)
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(loaded.Paths(), m.Paths()))
	second := start(t, m, "sleep", "100")
	assert.NilError(t, loaded.AddPid(second.Process.Pid))
	pids, err := loaded.Pids()
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(sorted(pids...), sorted(first.Process.Pid, second.Process.Pid)))

	for _, cmd := range []*os.Process{first.Process, second.Process} {
		assert.NilError(t, cmd.Kill())
	}
	assert.Check(t, first.Wait() != nil)
	assert.Check(t, second.Wait() != nil)
	paths := m.Paths()
	assert.NilError(t, loaded.Destroy())
	for _, p := range paths {
		_, err := os.Stat(p)
		assert.Check(t, errors.Is(err, fs.ErrNotExist), "%s still exists", p)
	}
	assert.NilError(t, loaded.Destroy(), "destroying again")
	assert.NilError(t, m.Destroy(), "destroying through the first manager")
}

func TestDestroyNeverCreated(t *testing.T) {
	testutil.RequiresRoot(t)
	m := newTestManager(t, nil)
	assert.NilError(t, m.Destroy())
}

func sorted(pids ...int) []int {
	slices.Sort(pids)
	return pids
}
