// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package oci turns a Docker container's configuration (the Engine API's
// container.Config and container.HostConfig, plus the image's config) into
// the OCI runtime spec that berth's runtime (internal/runtime) runs. The
// result matches what Docker's daemon builds (moby's daemon/oci_linux.go on
// top of its pkg/oci defaults) for the same `docker run` flags; where berth
// differs, the comment at the code says so.
//
// # Entry points
//
//   - [ValidateHostConfig] checks a HostConfig when a container is created,
//     before anything is made, and returns Docker's error texts wrapped in
//     errdefs.ErrInvalidArgument (HTTP 400).
//   - [ValidateRestartPolicy] does the same for a restart policy alone (it
//     is also part of ValidateHostConfig).
//   - [Spec] builds the spec each time the container starts. It repeats the
//     checks of ValidateHostConfig, so a container created by an older
//     berth still gets a clear error.
//   - [Mounts] turns HostConfig.Binds, HostConfig.Mounts and HostConfig.Tmpfs
//     into spec mounts, given a [VolumeResolver] for named and anonymous
//     volumes; the daemon passes the result to Spec as Input.Mounts.
//
// # What Spec decides
//
// Everything in the spec comes from the Input: the package keeps no state
// and does no I/O except reading the container's /etc/passwd and
// /etc/group (inside Input.Rootfs, resolved with securejoin), stat(2) of
// the host devices named by --device (and the walk of /dev for
// --privileged), and a few read-only probes of the host (number of CPUs,
// cgroup v1 or v2, the kernel's capabilities, thermal_throttle paths to
// mask); those probes sit in host.go.
//
// Things Spec deliberately leaves out:
//
//   - labels: Docker does not put container labels in the spec, and neither
//     does berth; only HostConfig.Annotations become spec annotations,
//     as in Docker. Nothing secret is ever added to annotations.
//   - the stop signal and the restart policy: they are the daemon's.
//   - AppArmor and SELinux: berth supports neither. "apparmor=…", "label=…"
//     and "label:…" security options are accepted and ignored;
//     [IgnoredSecurityOptions] lists them so that the daemon can warn.
//   - networking inside the namespace (interfaces, routes, DNS): the daemon
//     prepares the network namespace (Input.NetNSPath) and the files
//     bind-mounted over /etc/hosts, /etc/resolv.conf and /etc/hostname.
package oci
