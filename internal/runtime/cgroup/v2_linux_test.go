// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package cgroup_test

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/berth-project/berth/internal/testutil"
	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// v2Env marks the test binary re-run by TestV2 in its own mount namespace.
const v2Env = "BERTH_CGROUP_TEST_V2"

// TestV2 runs the cgroup v2 tests. On a v2 host they run directly. On a v1
// or hybrid host the test binary runs itself again in a private mount
// namespace with the cgroup2 hierarchy mounted on /sys/fs/cgroup, so the
// fs2 code runs there too. There that hierarchy only has the controllers
// that no v1 hierarchy claims (a controller is bound to one hierarchy at a
// time), so the tests adapt to the controllers they find.
func TestV2(t *testing.T) {
	testutil.RequiresRoot(t)
	if os.Getenv(v2Env) != "" {
		// cgroups.IsCgroup2UnifiedMode caches its first answer, so this
		// mount must come before anything asks it.
		assert.NilError(t, unix.Mount("cgroup2", "/sys/fs/cgroup", "cgroup2", 0, ""))
	}
	if !cgroups.IsCgroup2UnifiedMode() {
		runInV2Namespace(t)
		return
	}

	// Apply enables controllers in the subtree_control of every ancestor,
	// the root included; put the root back as it was.
	before := controllerSet(readCgroupFile(t, "/sys/fs/cgroup", "cgroup.subtree_control"))
	t.Cleanup(func() {
		for c := range controllerSet(readCgroupFile(t, "/sys/fs/cgroup", "cgroup.subtree_control")) {
			if !before[c] {
				_ = os.WriteFile("/sys/fs/cgroup/cgroup.subtree_control", []byte("-"+c), 0o644)
			}
		}
	})
	avail := controllerSet(readCgroupFile(t, "/sys/fs/cgroup", "cgroup.controllers"))
	t.Logf("cgroup v2 controllers: %v", avail)

	t.Run("limits", func(t *testing.T) { testV2Limits(t, avail) })
	t.Run("devices", testDeviceRules)
	t.Run("freeze", testV2Freeze)
	t.Run("load and destroy", testLoadAndDestroy)
	t.Run("pids limit", func(t *testing.T) {
		if !avail["pids"] {
			t.Skip("no pids controller on this cgroup v2 hierarchy")
		}
		testPidsLimit(t)
	})
}

// runInV2Namespace runs TestV2 again in a new mount namespace. Go makes
// the new namespace's mounts private (MS_REC|MS_PRIVATE on /) when
// Unshareflags has CLONE_NEWNS, so the cgroup2 mount stays invisible to the
// host.
func runInV2Namespace(t *testing.T) {
	exe, err := os.Executable()
	assert.NilError(t, err)
	cmd := exec.Command(exe, "-test.run=^TestV2$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), v2Env+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	t.Logf("TestV2 in a private mount namespace:\n%s", out)
	assert.NilError(t, err)
}

func controllerSet(s string) map[string]bool {
	set := map[string]bool{}
	for _, c := range strings.Fields(s) {
		set[c] = true
	}
	return set
}

// testV2Limits applies one kind of limit at a time: available controllers
// must get the v2 value (converted from the OCI v1-style value where
// needed), absent ones must make Apply fail naming the controller.
func testV2Limits(t *testing.T, avail map[string]bool) {
	hugepage := "2MB"
	if sizes := cgroups.HugePageSizes(); len(sizes) > 0 {
		hugepage = sizes[0]
	}
	weight := strconv.FormatUint(cgroups.ConvertCPUSharesToCgroupV2Value(512), 10)
	tests := []struct {
		name, controller string
		res              *specs.LinuxResources
		files            []cgroupFile
	}{
		{
			name: "memory", controller: "memory",
			res:   &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](64 << 20), Reservation: ptr[int64](32 << 20)}},
			files: []cgroupFile{{"", "memory.max", "67108864"}, {"", "memory.low", "33554432"}},
		},
		{
			name: "cpu", controller: "cpu",
			res:   &specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr[uint64](512), Quota: ptr[int64](50000), Period: ptr[uint64](100000)}},
			files: []cgroupFile{{"", "cpu.weight", weight}, {"", "cpu.max", "50000 100000"}},
		},
		{
			name: "pids", controller: "pids",
			res:   &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: ptr[int64](10)}},
			files: []cgroupFile{{"", "pids.max", "10"}},
		},
		{
			name: "hugetlb", controller: "hugetlb",
			// The kernel rounds the limit down to whole pages; 16GiB is a
			// multiple of every common huge page size.
			res:   &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: hugepage, Limit: 16 << 30}}},
			files: []cgroupFile{{"", "hugetlb." + hugepage + ".max", "17179869184"}},
		},
		{
			name: "net_cls", controller: "net_cls",
			res: &specs.LinuxResources{Network: &specs.LinuxNetwork{ClassID: ptr[uint32](0x100001)}},
		},
		{
			name: "realtime", controller: "cpu realtime",
			res: &specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: ptr[int64](1000)}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestManager(t, tc.res)
			cmd := start(t, m, "sleep", "100")
			err := m.Apply(cmd.Process.Pid)
			if !avail[tc.controller] {
				assert.Check(t, is.ErrorContains(err, tc.controller))
				assert.Check(t, is.ErrorContains(err, "not"))
				return
			}
			assert.NilError(t, err)
			checkFiles(t, m, tc.files)
		})
	}
}

func testV2Freeze(t *testing.T) {
	m := newTestManager(t, nil)
	cmd := start(t, m, "sleep", "100")
	pid := cmd.Process.Pid
	assert.NilError(t, m.Apply(pid))
	dir := m.Paths()[""]

	assert.NilError(t, m.Freeze())
	frozen, err := m.Frozen()
	assert.NilError(t, err)
	assert.Check(t, frozen)
	// "frozen 1" in cgroup.events is the kernel's word that every task is
	// stopped. /proc cannot tell: the v2 freezer traps tasks in the signal
	// delivery path, in an ordinary interruptible sleep ("S").
	assert.Check(t, is.Contains(readCgroupFile(t, dir, "cgroup.events"), "frozen 1"))
	waitState(t, pid, "S")

	assert.NilError(t, m.Thaw())
	frozen, err = m.Frozen()
	assert.NilError(t, err)
	assert.Check(t, !frozen)
	assert.Check(t, is.Contains(readCgroupFile(t, dir, "cgroup.events"), "frozen 0"))
}
