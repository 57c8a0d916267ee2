// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package oci

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/moby/sys/capability"
	"golang.org/x/sys/unix"
)

// The probes of the host that Spec and ValidateHostConfig use. They are
// variables so that tests (golden files in particular) do not depend on
// the machine they run on.
var (
	// numCPU is the number of CPUs that --cpus is checked against, as
	// Docker's sysinfo.NumCPU (the CPUs this process may run on).
	numCPU = runtime.NumCPU

	// cgroup2 reports whether /sys/fs/cgroup is the unified (v2)
	// hierarchy. It decides the default cgroup namespace mode.
	cgroup2 = sync.OnceValue(func() bool {
		var st unix.Statfs_t
		return unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
	})

	// allCaps lists every capability the running kernel knows, as
	// "CAP_…" names: what --privileged and --cap-add ALL grant.
	allCaps = sync.OnceValue(func() []string {
		list, err := capability.ListSupported()
		if err != nil {
			list = capability.ListKnown()
		}
		return capNames(list)
	})

	// knownCaps is every capability name berth knows, supported by this
	// kernel or not; a name outside it is "unknown capability".
	knownCaps = sync.OnceValue(func() []string { return capNames(capability.ListKnown()) })

	// thermalThrottlePaths are the per-CPU thermal_throttle directories
	// present on this host. Docker masks them (GHSA-6fw5-f8r9-fgfm).
	thermalThrottlePaths = sync.OnceValue(func() []string {
		var paths []string
		for cpu := 0; ; cpu++ {
			dir := fmt.Sprintf("/sys/devices/system/cpu/cpu%d", cpu)
			if _, err := os.Stat(dir); err != nil {
				return paths
			}
			if _, err := os.Stat(dir + "/thermal_throttle"); err == nil {
				paths = append(paths, dir+"/thermal_throttle")
			}
		}
	})
)

func capNames(list []capability.Cap) []string {
	names := make([]string, 0, len(list))
	for _, c := range list {
		names = append(names, "CAP_"+strings.ToUpper(c.String()))
	}
	return names
}

// CgroupV2 reports whether the host's /sys/fs/cgroup is a unified cgroup
// v2 hierarchy.
func CgroupV2() bool { return cgroup2() }
