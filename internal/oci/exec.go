// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package oci

import (
	"path"

	"github.com/moby/moby/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Resources returns the cgroup limits of hc, for `update` of a running
// container.
func Resources(hc *container.HostConfig) (*specs.LinuxResources, error) {
	s := &specs.Spec{Linux: &specs.Linux{Resources: &specs.LinuxResources{}}}
	if err := setResources(s, hc); err != nil {
		return nil, err
	}
	return s.Linux.Resources, nil
}

// ExecProcess is the process of `docker exec`: the container's own process
// (its capabilities, rlimits, security settings) with the exec's command,
// the container's environment plus the exec's, and the exec's user and
// working directory when it gives them. rootfs is the container's mounted
// root filesystem, where a user name is looked up. A privileged exec gets
// every capability.
func ExecProcess(spec *specs.Spec, rootfs string, req *container.ExecCreateRequest) (*specs.Process, error) {
	p := *spec.Process
	p.Args = req.Cmd
	p.Terminal = req.Tty
	p.ConsoleSize = nil
	env := append([]string{}, spec.Process.Env...)
	for _, e := range req.Env {
		if i := envIndex(env, envKey(e)); i >= 0 {
			env[i] = e
		} else {
			env = append(env, e)
		}
	}
	p.Env = env
	if req.Tty && !hasEnv(env, "TERM") {
		p.Env = append(p.Env, "TERM=xterm")
	}
	if req.WorkingDir != "" {
		if !path.IsAbs(req.WorkingDir) {
			return nil, invalidf("the working directory '%s' is invalid, it needs to be an absolute path", req.WorkingDir)
		}
		p.Cwd = path.Clean(req.WorkingDir)
	}
	if req.User != "" {
		u, err := resolveUser(rootfs, req.User, nil)
		if err != nil {
			return nil, err
		}
		p.User = u
	}
	if req.Privileged {
		all := allCaps()
		p.Capabilities = &specs.LinuxCapabilities{Bounding: all, Effective: all, Permitted: all}
	}
	return &p, nil
}
