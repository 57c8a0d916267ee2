// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package cgroup places a container's processes in a cgroup and applies the
// OCI linux.resources limits to it, on cgroup v1 and on unified cgroup v2
// hosts. It is a thin layer over the fs (v1) and fs2 (v2) managers of
// github.com/opencontainers/cgroups; the systemd cgroup driver is not
// supported.
//
// # Hierarchies
//
// The mode is decided once per process by cgroups.IsCgroup2UnifiedMode: a
// host whose /sys/fs/cgroup is a cgroup2 mount is v2, everything else is v1.
// A hybrid host (v1 controllers under /sys/fs/cgroup/<controller> plus a
// cgroup2 mount at /sys/fs/cgroup/unified) is v1: the container also joins
// the unified hierarchy, but only for process tracking, never for limits.
//
// # Paths
//
// The OCI linux.cgroupsPath is resolved as runc's cgroupfs driver does:
//
//   - empty: "/berth/<container id>";
//   - absolute: relative to the root of every hierarchy, so "/a/b" is
//     /sys/fs/cgroup/memory/a/b on v1 and /sys/fs/cgroup/a/b on v2;
//   - relative: relative to the calling process's own cgroup in each v1
//     hierarchy. On v2 it is taken relative to the parent of the caller's
//     cgroup: the caller's own cgroup holds processes, and the kernel's
//     "no internal processes" rule forbids enabling controllers for children
//     of a populated non-root cgroup, so no limit could be applied below it
//     (cgroups(7), "Cgroups v2 no internal processes rule");
//   - "slice:prefix:name" (systemd driver syntax) is refused.
//
// # Persisted paths
//
// Manager.Paths is what the runtime stores in state.json and hands back to
// Load. On v1 it maps each mounted controller name ("memory", "cpu",
// "name=systemd", and "" for the hybrid unified mount) to the absolute
// directory of the container's cgroup in that hierarchy. On v2 it has a
// single entry whose key is "" and whose value is the absolute cgroup
// directory. This is the same format as runc's cgroup_paths, so it needs no
// version of its own; it changes only if the library's format does.
//
// # Absent controllers
//
// A controller that is not mounted (v1) or not enabled for the cgroup (v2)
// is skipped silently, unless the resources ask it for a limit: then Apply
// and Set fail with an error naming the controller, before anything is
// written. net_cls, net_prio and the CPU realtime limits do not exist on v2
// and always fail there.
package cgroup
