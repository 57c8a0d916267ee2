// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package oci

import (
	"slices"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// securityOpts is what HostConfig.SecurityOpt asks for.
type securityOpts struct {
	noNewPrivileges bool
	// seccomp is "" (the default profile), "builtin" (the same),
	// "unconfined", or a profile in JSON: the docker CLI reads the file
	// named by --security-opt seccomp=<file> and sends its content.
	seccomp string
	// unconfinedPaths is "systempaths=unconfined": no masked or
	// read-only paths. The docker CLI usually turns it into empty
	// HostConfig.MaskedPaths and ReadonlyPaths itself.
	unconfinedPaths bool
	writableCgroups bool
	// ignored are the AppArmor and SELinux options, which berth accepts
	// and does not apply.
	ignored []string
}

// parseSecurityOpts parses --security-opt values as moby's
// parseSecurityOpt does, with its error texts.
func parseSecurityOpts(opts []string) (securityOpts, error) {
	var so securityOpts
	for _, opt := range opts {
		switch opt {
		case "no-new-privileges":
			so.noNewPrivileges = true
			continue
		case "disable":
			so.ignored = append(so.ignored, opt)
			continue
		}
		// "=" is the separator; ":" is Docker's deprecated one, still
		// accepted by its daemon.
		var k, v string
		var ok bool
		if strings.Contains(opt, "=") {
			k, v, ok = strings.Cut(opt, "=")
		} else if strings.Contains(opt, ":") {
			k, v, ok = strings.Cut(opt, ":")
		}
		if !ok {
			return so, invalidf("invalid --security-opt 1: %q", opt)
		}
		switch k {
		case "label", "apparmor":
			so.ignored = append(so.ignored, opt)
		case "seccomp":
			so.seccomp = v
		case "no-new-privileges":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return so, invalidf("invalid --security-opt 2: %q", opt)
			}
			so.noNewPrivileges = b
		case "systempaths":
			if v != "unconfined" {
				return so, invalidf("invalid --security-opt 2: %q", opt)
			}
			so.unconfinedPaths = true
		case "writable-cgroups":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return so, invalidf("invalid --security-opt 2: %q", opt)
			}
			so.writableCgroups = b
		default:
			return so, invalidf("invalid --security-opt 2: %q", opt)
		}
	}
	return so, nil
}

// IgnoredSecurityOptions returns the security options of hc that berth
// accepts but does not apply (AppArmor profiles and SELinux labels: berth
// supports neither), so that the daemon can say so in its log or in the
// create response's warnings. Invalid options are not listed;
// ValidateHostConfig reports them.
func IgnoredSecurityOptions(hc *container.HostConfig) []string {
	if hc == nil {
		return nil
	}
	so, _ := parseSecurityOpts(hc.SecurityOpt)
	return so.ignored
}

// seccompProfile returns the seccomp configuration for the container, as
// moby's WithSeccomp: none for privileged containers and "unconfined",
// the default profile (filtered by s's bounding capabilities and the
// kernel version) for "" and "builtin", or the given JSON profile.
func seccompProfile(so securityOpts, privileged bool, s *specs.Spec) (*specs.LinuxSeccomp, error) {
	switch {
	case so.seccomp == "unconfined", privileged:
		return nil, nil
	case so.seccomp == "" || so.seccomp == "builtin":
		return seccomp.GetDefaultProfile(s)
	default:
		p, err := seccomp.LoadProfile(so.seccomp, s)
		if err != nil {
			return nil, invalid(err)
		}
		return p, nil
	}
}

// tweakCaps applies --cap-add and --cap-drop to Docker's default set, as
// moby's caps.TweakCapabilities: names are case-insensitive with or
// without "CAP_"; "ALL" in cap-add grants every capability but the
// dropped ones, "ALL" in cap-drop keeps only the added ones. Unlike
// Docker, a capability added twice is listed once.
func tweakCaps(add, drop []string) ([]string, error) {
	if len(add) == 0 && len(drop) == 0 {
		return defaultCaps(), nil
	}
	capAdd, err := normalizeCaps(add)
	if err != nil {
		return nil, err
	}
	capDrop, err := normalizeCaps(drop)
	if err != nil {
		return nil, err
	}
	var caps []string
	switch {
	case slices.Contains(capAdd, "ALL"):
		for _, c := range allCaps() {
			if !slices.Contains(capDrop, c) {
				caps = append(caps, c)
			}
		}
	case slices.Contains(capDrop, "ALL"):
		caps = capAdd
	default:
		for _, c := range defaultCaps() {
			if !slices.Contains(capDrop, c) {
				caps = append(caps, c)
			}
		}
		caps = append(caps, capAdd...)
	}
	var out []string
	for _, c := range caps {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	if out == nil {
		out = []string{}
	}
	return out, nil
}

// normalizeCaps is moby's NormalizeLegacyCapabilities.
func normalizeCaps(caps []string) ([]string, error) {
	var out []string
	for _, c := range caps {
		c = strings.ToUpper(c)
		if c == "ALL" {
			out = append(out, c)
			continue
		}
		if !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		if !slices.Contains(knownCaps(), c) {
			return nil, invalidf("unknown capability: %q", c)
		}
		if !slices.Contains(allCaps(), c) {
			return nil, invalidf("capability not supported by your kernel or not available in the current environment: %q", c)
		}
		out = append(out, c)
	}
	return out, nil
}

// ipcSysctls are the kernel.* sysctls that belong to the IPC namespace.
var ipcSysctls = []string{
	"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
	"kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
}

// validateSysctls accepts only sysctls that belong to a namespace the
// container has of its own: IPC ones (kernel.msg*, kernel.sem, kernel.shm*,
// fs.mqueue.*) need a private IPC namespace, net.* a network namespace
// other than the host's, kernel.hostname and kernel.domainname a private
// UTS namespace. The texts are those of runc's validator, which is where
// Docker reports them.
func validateSysctls(hc *container.HostConfig) error {
	for k := range hc.Sysctls {
		switch {
		case slices.Contains(ipcSysctls, k) || strings.HasPrefix(k, "fs.mqueue."):
			if hc.IpcMode.IsHost() {
				return invalidf("sysctl %q is not allowed in the hosts ipc namespace", k)
			}
		case strings.HasPrefix(k, "net."):
			if hc.NetworkMode.IsHost() {
				return invalidf("sysctl %q not allowed in host network namespace", k)
			}
		case k == "kernel.hostname" || k == "kernel.domainname":
			if hc.UTSMode.IsHost() {
				return invalidf("sysctl %q is not allowed in the hosts uts namespace", k)
			}
		default:
			return invalidf("sysctl %q is not in a separate kernel namespace", k)
		}
	}
	return nil
}
