// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package cgroup

import (
	"fmt"
	"maps"

	"github.com/opencontainers/cgroups"
	// Registers the device rule writers (devices.allow/deny on v1, an eBPF
	// program on v2); without it the managers refuse any device rule.
	_ "github.com/opencontainers/cgroups/devices"
	"github.com/opencontainers/cgroups/fs"
	"github.com/opencontainers/cgroups/fs2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Manager owns one container's cgroup: one directory per v1 hierarchy, or a
// single directory on v2. It is safe to rebuild in another process with Load.
type Manager struct {
	mgr cgroups.Manager
	res *cgroups.Resources // applied by Apply
	v2  bool
}

// New prepares, but does not create, the cgroup of container id.
// cgroupsPath is the OCI linux.cgroupsPath (see the package documentation
// for how it is resolved) and res the limits that Apply will set.
func New(id, cgroupsPath string, res *specs.LinuxResources) (*Manager, error) {
	r, err := Convert(res)
	if err != nil {
		return nil, err
	}
	p, err := cgroupPath(id, cgroupsPath)
	if err != nil {
		return nil, err
	}
	return newManager(&cgroups.Cgroup{Path: p, Resources: r}, nil)
}

// Load rebuilds the manager of an existing cgroup from what Paths returned,
// typically in a later runtime process. res is only needed by Apply and may
// be nil.
func Load(paths map[string]string, res *specs.LinuxResources) (*Manager, error) {
	if err := checkPaths(paths, cgroups.IsCgroup2UnifiedMode()); err != nil {
		return nil, err
	}
	r, err := Convert(res)
	if err != nil {
		return nil, err
	}
	return newManager(&cgroups.Cgroup{Resources: r}, maps.Clone(paths))
}

func newManager(cg *cgroups.Cgroup, paths map[string]string) (*Manager, error) {
	m := &Manager{res: cg.Resources, v2: cgroups.IsCgroup2UnifiedMode()}
	var err error
	if m.v2 {
		m.mgr, err = fs2.NewManager(cg, paths[""])
	} else {
		m.mgr, err = fs.NewManager(cg, paths)
	}
	if err != nil {
		return nil, fmt.Errorf("cgroup %s: %w", cg.Path, err)
	}
	return m, nil
}

// Apply creates the cgroup, moves pid into it and then sets the resource
// limits given to New. Limits are set after the move so that the kernel
// checks them against the process's usage, as runc does.
func (m *Manager) Apply(pid int) error {
	if err := m.checkControllers(m.res); err != nil {
		return fmt.Errorf("cgroup %s: %w", m.path(), err)
	}
	if err := m.mgr.Apply(pid); err != nil {
		return fmt.Errorf("cgroup %s: add pid %d: %w", m.path(), pid, err)
	}
	if err := m.mgr.Set(m.res); err != nil {
		return fmt.Errorf("cgroup %s: set resources: %w", m.path(), err)
	}
	return nil
}

// Create creates the cgroup and sets the limits given to New without moving
// any process in; AddPid then joins processes. The runtime calls it while
// the container's init is still starting, so the two overlap.
func (m *Manager) Create() error {
	return m.Apply(-1)
}

// AddPid moves pid into the existing cgroup, for a process exec'd into a
// running container.
func (m *Manager) AddPid(pid int) error {
	if err := m.mgr.AddPid("", pid); err != nil {
		return fmt.Errorf("cgroup %s: add pid %d: %w", m.path(), pid, err)
	}
	return nil
}

// Set updates the limits of a running container (runc update). Only the
// fields set in res change; when res has no device rules, the device rules
// in force are kept.
func (m *Manager) Set(res *specs.LinuxResources) error {
	if res == nil {
		return nil
	}
	r, err := Convert(res)
	if err != nil {
		return err
	}
	if len(res.Devices) == 0 {
		r.Devices, r.SkipDevices = nil, true
	}
	if err := m.checkControllers(r); err != nil {
		return fmt.Errorf("cgroup %s: %w", m.path(), err)
	}
	if err := m.mgr.Set(r); err != nil {
		return fmt.Errorf("cgroup %s: set resources: %w", m.path(), err)
	}
	return nil
}

// Freeze stops every process in the cgroup and returns once they all are.
func (m *Manager) Freeze() error { return m.freeze(cgroups.Frozen) }

// Thaw resumes the processes that Freeze stopped.
func (m *Manager) Thaw() error { return m.freeze(cgroups.Thawed) }

func (m *Manager) freeze(state cgroups.FreezerState) error {
	if err := m.mgr.Freeze(state); err != nil {
		return fmt.Errorf("cgroup %s: set freezer state %s: %w", m.path(), state, err)
	}
	return nil
}

// Frozen reports whether the cgroup is frozen by Freeze. A cgroup frozen
// only because an ancestor is frozen reports false, as with runc.
func (m *Manager) Frozen() (bool, error) {
	state, err := m.mgr.GetFreezerState()
	if err != nil {
		return false, fmt.Errorf("cgroup %s: read freezer state: %w", m.path(), err)
	}
	return state == cgroups.Frozen, nil
}

// Pids returns the processes in the cgroup and in all its descendants.
func (m *Manager) Pids() ([]int, error) {
	pids, err := m.mgr.GetAllPids()
	if err != nil {
		return nil, fmt.Errorf("cgroup %s: list pids: %w", m.path(), err)
	}
	return pids, nil
}

// Stats returns the cgroup's usage statistics.
func (m *Manager) Stats() (*cgroups.Stats, error) {
	st, err := m.mgr.GetStats()
	if err != nil {
		return nil, fmt.Errorf("cgroup %s: stats: %w", m.path(), err)
	}
	return st, nil
}

// OOMKillCount returns how many processes of the cgroup the kernel's OOM
// killer has killed.
func (m *Manager) OOMKillCount() (uint64, error) {
	n, err := m.mgr.OOMKillCount()
	if err != nil {
		return 0, fmt.Errorf("cgroup %s: oom kill count: %w", m.path(), err)
	}
	return n, nil
}

// Destroy removes the cgroup and any cgroups below it. The cgroup must have
// no live processes; a cgroup that is already gone is not an error.
func (m *Manager) Destroy() error {
	if err := m.mgr.Destroy(); err != nil {
		return fmt.Errorf("cgroup %s: destroy: %w", m.path(), err)
	}
	return nil
}

// Paths returns the cgroup directories to persist for Load (format in the
// package documentation).
func (m *Manager) Paths() map[string]string {
	// The fs manager hands out, and Destroy edits, its own map.
	return maps.Clone(m.mgr.GetPaths())
}

// path names the cgroup in errors: the v2 directory, or the v1 devices
// directory, which always exists (the library refuses to run without it).
func (m *Manager) path() string {
	if m.v2 {
		return m.mgr.Path("")
	}
	return m.mgr.Path("devices")
}
