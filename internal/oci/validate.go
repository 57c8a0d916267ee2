// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package oci

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
)

// minMemory is Docker's smallest memory limit and reservation (6 MiB): not
// a kernel limit, but enough for a container to start.
const minMemory = 6 << 20

// ValidateHostConfig checks hc as Docker's daemon does when a container is
// created (moby's verifyContainerSettings and
// verifyPlatformContainerResources), so that a container that could never
// start is refused up front. Errors carry Docker's texts and match
// errdefs.ErrInvalidArgument. A nil hc is valid. hc is not modified.
func ValidateHostConfig(hc *container.HostConfig) error {
	if hc == nil {
		return nil
	}
	if err := ValidateRestartPolicy(hc.RestartPolicy); err != nil {
		return err
	}
	if hc.AutoRemove && !hc.RestartPolicy.IsNone() {
		return invalidf("can't create 'AutoRemove' container with restart policy")
	}
	if err := validateResources(&hc.Resources); err != nil {
		return err
	}
	if err := validateModes(hc); err != nil {
		return err
	}
	if hc.ShmSize < 0 {
		return invalidf("SHM size can not be less than 0")
	}
	if hc.OomScoreAdj < -1000 || hc.OomScoreAdj > 1000 {
		return invalidf("Invalid value %d, range for oom score adj is [-1000, 1000]", hc.OomScoreAdj)
	}
	for dest := range hc.Tmpfs {
		if err := validateMountTarget(dest); err != nil {
			return invalid(err)
		}
	}
	if _, err := parseSecurityOpts(hc.SecurityOpt); err != nil {
		return err
	}
	if _, err := rlimits(hc.Ulimits); err != nil {
		return err
	}
	if err := validateSysctls(hc); err != nil {
		return err
	}
	if !hc.Privileged {
		if _, err := tweakCaps(hc.CapAdd, hc.CapDrop); err != nil {
			return err
		}
	}
	for _, d := range hc.Devices {
		if err := validateDeviceMapping(d); err != nil {
			return err
		}
	}
	return nil
}

// ValidateRestartPolicy checks a restart policy ("no", "always",
// "unless-stopped", or "on-failure" with an optional maximum retry count)
// with Docker's error texts. The empty name means "no".
func ValidateRestartPolicy(p container.RestartPolicy) error {
	switch p.Name {
	case "", container.RestartPolicyDisabled, container.RestartPolicyAlways, container.RestartPolicyUnlessStopped:
		if p.MaximumRetryCount != 0 {
			msg := "invalid restart policy: maximum retry count can only be used with 'on-failure'"
			if p.MaximumRetryCount < 0 {
				msg += " and cannot be negative"
			}
			return invalidf("%s", msg)
		}
		return nil
	case container.RestartPolicyOnFailure:
		if p.MaximumRetryCount < 0 {
			return invalidf("invalid restart policy: maximum retry count cannot be negative")
		}
		return nil
	default:
		return invalidf("invalid restart policy: unknown policy '%s'; use one of '%s', '%s', '%s', or '%s'",
			p.Name, container.RestartPolicyDisabled, container.RestartPolicyAlways,
			container.RestartPolicyOnFailure, container.RestartPolicyUnlessStopped)
	}
}

// validateResources is moby's verifyPlatformContainerResources for the
// limits berth supports. Docker's warnings about controllers the kernel
// lacks are not repeated here: the runtime refuses a limit it cannot set.
func validateResources(r *container.Resources) error {
	if r.Memory != 0 && r.Memory < minMemory {
		return invalidf("Minimum memory limit allowed is 6MB")
	}
	if r.Memory > 0 && r.MemorySwap > 0 && r.MemorySwap < r.Memory {
		return invalidf("Minimum memoryswap limit should be larger than memory limit, see usage")
	}
	if r.Memory == 0 && r.MemorySwap > 0 {
		return invalidf("You should always set the Memory limit when using Memoryswap limit, see usage")
	}
	if s := r.MemorySwappiness; s != nil && *s != -1 && (*s < 0 || *s > 100) {
		return invalidf("Invalid value: %v, valid memory swappiness range is 0-100", *s)
	}
	if r.MemoryReservation > 0 && r.MemoryReservation < minMemory {
		return invalidf("Minimum memory reservation allowed is 6MB")
	}
	if r.Memory > 0 && r.MemoryReservation > 0 && r.Memory < r.MemoryReservation {
		return invalidf("Minimum memory limit can not be less than memory reservation limit, see usage")
	}
	if r.NanoCPUs > 0 && r.CPUPeriod > 0 {
		return invalidf("Conflicting options: Nano CPUs and CPU Period cannot both be set")
	}
	if r.NanoCPUs > 0 && r.CPUQuota > 0 {
		return invalidf("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
	}
	if n := numCPU(); r.NanoCPUs < 0 || r.NanoCPUs > int64(n)*1e9 {
		return invalidf("Range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", n, n)
	}
	if r.CPUShares < 0 {
		return invalidf("shares: invalid argument")
	}
	if r.CPUPeriod != 0 && (r.CPUPeriod < 1000 || r.CPUPeriod > 1000000) {
		return invalidf("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
	}
	if r.CPUQuota > 0 && r.CPUQuota < 1000 {
		return invalidf("CPU cfs quota can not be less than 1ms (i.e. 1000)")
	}
	// -1 is the kernel's "no limit"; any other negative quota would only
	// fail later, when the runtime writes it to the cgroup.
	if r.CPUQuota < -1 {
		return invalidf("CPU cfs quota can not be less than 1ms (i.e. 1000), or -1 for no limit")
	}
	if err := validateUintList(r.CpusetCpus); err != nil {
		return invalidf("Invalid value %s for cpuset cpus: %v", r.CpusetCpus, err)
	}
	if err := validateUintList(r.CpusetMems); err != nil {
		return invalidf("Invalid value %s for cpuset mems: %v", r.CpusetMems, err)
	}
	if r.BlkioWeight > 0 && (r.BlkioWeight < 10 || r.BlkioWeight > 1000) {
		return invalidf("Range of blkio weight is from 10 to 1000")
	}
	if r.IOMaximumBandwidth != 0 || r.IOMaximumIOps != 0 {
		return invalidf("Invalid QoS settings: linux does not support Maximum IO Bandwidth or Maximum IO IOps")
	}
	if r.CPUCount != 0 || r.CPUPercent != 0 {
		// Docker drops these with a warning on Linux; they are
		// Windows-only, and silently ignoring a limit is worse.
		return invalidf("Invalid QoS settings: linux does not support CPU count or CPU percent")
	}
	if len(r.DeviceRequests) > 0 {
		return invalidf("could not select device driver %q with capabilities: %v", r.DeviceRequests[0].Driver, r.DeviceRequests[0].Capabilities)
	}
	return nil
}

// validateUintList checks a cpuset list such as "0-2,4" (Docker's
// parsers.ParseUintList, with its error texts).
func validateUintList(val string) error {
	if val == "" {
		return nil
	}
	for _, r := range strings.Split(val, ",") {
		lo, hi, isRange := strings.Cut(r, "-")
		min, err := strconv.ParseUint(lo, 10, 32)
		if err != nil {
			return fmt.Errorf("invalid format: %s", val)
		}
		if !isRange {
			continue
		}
		max, err := strconv.ParseUint(hi, 10, 32)
		if err != nil || max < min {
			return fmt.Errorf("invalid format: %s", val)
		}
	}
	return nil
}

// validateModes checks the namespace modes (moby's
// verifyPlatformContainerSettings and the API types' Valid methods).
func validateModes(hc *container.HostConfig) error {
	if !hc.IpcMode.Valid() || hc.IpcMode.IsContainer() && hc.IpcMode.Container() == "" {
		return invalidf("invalid IPC mode: %v", hc.IpcMode)
	}
	if !hc.PidMode.Valid() {
		return invalidf("invalid PID mode: %v", hc.PidMode)
	}
	if !hc.UTSMode.Valid() {
		return invalidf("invalid UTS mode: %v", hc.UTSMode)
	}
	if !hc.UsernsMode.Valid() {
		return invalidf("invalid USER mode: %v", hc.UsernsMode)
	}
	if !hc.CgroupnsMode.Valid() {
		return invalidf("invalid cgroup namespace mode: %v", hc.CgroupnsMode)
	}
	if !hc.Cgroup.Valid() {
		return invalidf("invalid cgroup mode: %v", hc.Cgroup)
	}
	if hc.Cgroup.IsContainer() {
		return invalidf("--cgroup container:<id> is not supported")
	}
	if hc.NetworkMode.IsContainer() && hc.NetworkMode.ConnectedContainer() == "" {
		return invalidf("invalid network mode: invalid container format container:<name|id>")
	}
	if hc.NetworkMode.IsContainer() && len(hc.PortBindings) > 0 || hc.NetworkMode.IsContainer() && hc.PublishAllPorts {
		return invalidf("conflicting options: port publishing and the container type network mode")
	}
	return nil
}

// rlimits turns --ulimit values into process rlimits, checking each as
// Docker's units.ParseUlimit does (name, and soft not above hard).
func rlimits(ulimits []*container.Ulimit) ([]rlimit, error) {
	var out []rlimit
	for _, u := range ulimits {
		if u == nil {
			continue
		}
		parsed, err := units.ParseUlimit(fmt.Sprintf("%s=%d:%d", u.Name, u.Soft, u.Hard))
		if err != nil {
			return nil, invalidf("invalid ulimit %s=%d:%d: %v", u.Name, u.Soft, u.Hard, err)
		}
		out = append(out, rlimit{name: "RLIMIT_" + strings.ToUpper(parsed.Name), soft: u.Soft, hard: u.Hard})
	}
	return out, nil
}

// rlimit is one process rlimit. Soft and hard are converted to uint64 as
// Docker does, so -1 becomes RLIM_INFINITY.
type rlimit struct {
	name       string
	soft, hard int64
}

// validateDeviceMapping checks one --device mapping (the docker CLI's
// validateDevice and validDeviceMode).
func validateDeviceMapping(d container.DeviceMapping) error {
	if d.PathOnHost == "" {
		return invalidf("invalid device mapping: empty host path")
	}
	if d.PathInContainer != "" && !strings.HasPrefix(d.PathInContainer, "/") {
		return invalidf("invalid device mapping: %s: container path must be absolute", d.PathInContainer)
	}
	if d.CgroupPermissions != "" && !validDeviceMode(d.CgroupPermissions) {
		return invalidf("invalid device mode: %s", d.CgroupPermissions)
	}
	return nil
}

func validDeviceMode(mode string) bool {
	if len(mode) == 0 || len(mode) > 3 {
		return false
	}
	seen := map[rune]bool{}
	for _, c := range mode {
		if !strings.ContainsRune("rwm", c) || seen[c] {
			return false
		}
		seen[c] = true
	}
	return true
}

var errNoCommand = errors.New("No command specified") //nolint:staticcheck // Docker's text
