// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package oci

import specs "github.com/opencontainers/runtime-spec/specs-go"

// DefaultPath is the PATH a container gets when neither the image nor the
// container sets one.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// DefaultShmSize is the size of /dev/shm when HostConfig.ShmSize is 0
// (Docker's daemon default, 64 MiB).
const DefaultShmSize int64 = 64 << 20

// DefaultCgroupParent is the cgroup parent when neither Input.CgroupParent
// nor HostConfig.CgroupParent is set: containers live in /berth/<id> in
// every hierarchy, as Docker's live in /docker/<id>.
const DefaultCgroupParent = "/berth"

// initPath is where --init's binary is bind-mounted in the container.
const initPath = "/sbin/docker-init"

// defaultCaps is Docker's default capability set.
func defaultCaps() []string {
	return []string{
		"CAP_CHOWN",
		"CAP_DAC_OVERRIDE",
		"CAP_FSETID",
		"CAP_FOWNER",
		"CAP_MKNOD",
		"CAP_NET_RAW",
		"CAP_SETGID",
		"CAP_SETUID",
		"CAP_SETFCAP",
		"CAP_SETPCAP",
		"CAP_NET_BIND_SERVICE",
		"CAP_SYS_CHROOT",
		"CAP_KILL",
		"CAP_AUDIT_WRITE",
	}
}

// defaultMounts are Docker's standard mounts, in Docker's order. /dev/shm
// gets its size option later, from HostConfig.ShmSize.
func defaultMounts() []specs.Mount {
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777"}},
	}
}

// DefaultMaskedPaths is defaultMaskedPaths, for the host config's
// defaults.
func DefaultMaskedPaths() []string { return defaultMaskedPaths() }

// DefaultReadonlyPaths is defaultReadonlyPaths, for the host config's
// defaults.
func DefaultReadonlyPaths() []string { return defaultReadonlyPaths() }

// defaultMaskedPaths are the paths Docker hides from unprivileged
// containers (bind-mounting /dev/null or an empty read-only tmpfs over
// them), plus this host's thermal_throttle directories.
func defaultMaskedPaths() []string {
	return append([]string{
		"/proc/acpi",
		"/proc/asound",
		"/proc/interrupts",
		"/proc/kcore",
		"/proc/keys",
		"/proc/latency_stats",
		"/proc/sched_debug",
		"/proc/scsi",
		"/proc/timer_list",
		"/proc/timer_stats",
		"/sys/devices/virtual/powercap",
		"/sys/firmware",
	}, thermalThrottlePaths()...)
}

// defaultReadonlyPaths are the /proc paths Docker makes read-only.
func defaultReadonlyPaths() []string {
	return []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
}

// defaultDeviceRules is Docker's device cgroup: deny everything, allow the
// standard character devices, and deny /dev/fuse explicitly so that a
// later rule has to grant it. berth's runtime appends runc's own allow
// list (null, zero, full, random, urandom, tty, console, ptmx, pts, tun)
// after these rules.
func defaultDeviceRules() []specs.LinuxDeviceCgroup {
	rule := func(allow bool, major, minor int64) specs.LinuxDeviceCgroup {
		return specs.LinuxDeviceCgroup{Allow: allow, Type: "c", Major: &major, Minor: &minor, Access: "rwm"}
	}
	return []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		rule(true, 1, 5),     // /dev/zero
		rule(true, 1, 3),     // /dev/null
		rule(true, 1, 9),     // /dev/urandom
		rule(true, 1, 8),     // /dev/random
		rule(true, 5, 0),     // /dev/tty
		rule(true, 5, 1),     // /dev/console
		rule(false, 10, 229), // /dev/fuse
	}
}
