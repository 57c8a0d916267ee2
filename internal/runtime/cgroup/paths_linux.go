// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package cgroup

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/containerd/errdefs"
)

// cgroupPath resolves the OCI linux.cgroupsPath of container id into the
// value of cgroups.Cgroup.Path; the library itself joins it with the
// hierarchy roots (absolute) or the caller's own cgroup (relative).
func cgroupPath(id, cgroupsPath string) (string, error) {
	p := cgroupsPath
	if p == "" {
		if id == "" || id == "." || id == ".." || strings.Contains(id, "/") {
			return "", fmt.Errorf("cgroup for container id %q: %w", id, errdefs.ErrInvalidArgument)
		}
		p = "/berth/" + id
	}
	// The systemd driver names a transient unit "<prefix>-<name>.scope" in
	// a slice, written "slice:prefix:name"; runc only accepts it with
	// --systemd-cgroup. cgroupfs paths never look like that.
	if !filepath.IsAbs(p) && strings.Count(p, ":") == 2 {
		return "", fmt.Errorf("cgroups path %q uses the systemd slice:prefix:name form, but the systemd cgroup driver is not supported: %w",
			cgroupsPath, errdefs.ErrNotImplemented)
	}
	// Refuse anything that cleans to a hierarchy root (or to the caller's
	// own cgroup): Destroy removes the cgroup and every cgroup below it.
	if filepath.Clean("/"+p) == "/" {
		return "", fmt.Errorf("cgroups path %q does not name a cgroup of its own: %w", cgroupsPath, errdefs.ErrInvalidArgument)
	}
	return p, nil
}

// checkPaths validates paths handed to Load: one absolute, clean directory
// per hierarchy, and on v2 exactly one, under the key "".
func checkPaths(paths map[string]string, unified bool) error {
	if len(paths) == 0 {
		return fmt.Errorf("load cgroup: no paths: %w", errdefs.ErrInvalidArgument)
	}
	if _, ok := paths[""]; unified && (!ok || len(paths) != 1) {
		return fmt.Errorf("load cgroup: cgroup v2 needs exactly one path with key \"\", got %v: %w", paths, errdefs.ErrInvalidArgument)
	}
	for name, p := range paths {
		if !filepath.IsAbs(p) || filepath.Clean(p) != p {
			return fmt.Errorf("load cgroup: %s path %q is not absolute and clean: %w", name, p, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}
