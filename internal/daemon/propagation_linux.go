// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package daemon

import (
	"fmt"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// rootPropagation checks the binds that ask for shared or slave
// propagation and returns the propagation the container's root needs for
// them, as Docker decides it ("" keeps the runtime's default, rslave).
//
// A bind is a copy of the mount its source is on. Mounts made in a shared
// bind show on the host only if the source's mount is shared and the
// container's root keeps it in its peer group (root "shared" instead of
// the default rslave, which would make every copy a slave). A slave bind
// receives the host's mounts only if the source's mount is shared or
// itself a slave. Docker refuses the bind when the host's side cannot
// give what it asks for, and so does berth.
func rootPropagation(mounts []specs.Mount) (string, error) {
	root := ""
	for _, m := range mounts {
		if m.Type != "bind" {
			continue
		}
		switch {
		case slices.Contains(m.Options, "shared") || slices.Contains(m.Options, "rshared"):
			if err := sourcePropagation(m.Source, "shared:"); err != nil {
				return "", err
			}
			root = "shared"
		case slices.Contains(m.Options, "slave") || slices.Contains(m.Options, "rslave"):
			if err := sourcePropagation(m.Source, "shared:", "master:"); err != nil {
				return "", err
			}
			if root == "" {
				root = "rslave"
			}
		}
	}
	return root, nil
}

// sourcePropagation checks that the mount path is on has one of the
// given optional fields of /proc/self/mountinfo ("shared:N" for a shared
// mount, "master:N" for a slave).
func sourcePropagation(path string, want ...string) error {
	mounts, err := mountinfo.GetMounts(mountinfo.ParentsFilter(path))
	if err != nil {
		return err
	}
	var on *mountinfo.Info
	for _, m := range mounts {
		if on == nil || len(m.Mountpoint) > len(on.Mountpoint) {
			on = m
		}
	}
	if on == nil {
		return fmt.Errorf("no mount found for %s", path)
	}
	for _, f := range strings.Fields(on.Optional) {
		for _, w := range want {
			if strings.HasPrefix(f, w) {
				return nil
			}
		}
	}
	what := "a shared"
	if len(want) > 1 {
		what = "a shared or slave"
	}
	return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("path %s is mounted on %s but it is not %s mount", path, on.Mountpoint, what))
}
