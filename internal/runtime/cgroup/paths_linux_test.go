// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package cgroup

import (
	"testing"

	"github.com/containerd/errdefs"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

func TestCgroupPath(t *testing.T) {
	tests := []struct {
		name, id, path string
		want           string
		err            string
		class          func(error) bool
	}{
		{name: "default", id: "c1", want: "/berth/c1"},
		{name: "absolute", id: "c1", path: "/docker/c1", want: "/docker/c1"},
		{name: "relative", id: "c1", path: "sub/c1", want: "sub/c1"},
		{name: "colon in absolute path", id: "c1", path: "/a:b:c", want: "/a:b:c"},
		{
			name: "systemd form", id: "c1", path: "system.slice:berth:c1",
			err: "systemd cgroup driver is not supported", class: errdefs.IsNotImplemented,
		},
		{
			name: "systemd form with default slice", id: "c1", path: ":berth:c1",
			err: "systemd cgroup driver is not supported", class: errdefs.IsNotImplemented,
		},
		{name: "root", id: "c1", path: "/", err: "does not name a cgroup", class: errdefs.IsInvalidArgument},
		{name: "escapes to root", id: "c1", path: "/a/../..", err: "does not name a cgroup", class: errdefs.IsInvalidArgument},
		{name: "own cgroup", id: "c1", path: "..", err: "does not name a cgroup", class: errdefs.IsInvalidArgument},
		{name: "no id", err: `container id ""`, class: errdefs.IsInvalidArgument},
		{name: "id with slash", id: "../x", err: `container id "../x"`, class: errdefs.IsInvalidArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := cgroupPath(tc.id, tc.path)
			if tc.err != "" {
				assert.Check(t, is.ErrorContains(err, tc.err))
				assert.Check(t, tc.class(err), "wrong error class: %v", err)
				return
			}
			assert.NilError(t, err)
			assert.Equal(t, got, tc.want)
		})
	}
}

// New refuses the systemd form before it looks at the host's cgroups.
func TestNewSystemdPath(t *testing.T) {
	_, err := New("c1", "system.slice:berth:c1", nil)
	assert.Check(t, is.ErrorContains(err, `cgroups path "system.slice:berth:c1" uses the systemd slice:prefix:name form`))
	assert.Check(t, errdefs.IsNotImplemented(err))
}

func TestCheckPaths(t *testing.T) {
	tests := []struct {
		name    string
		paths   map[string]string
		unified bool
		err     string
	}{
		{name: "v1", paths: map[string]string{"memory": "/sys/fs/cgroup/memory/berth/c1", "": "/sys/fs/cgroup/unified/berth/c1"}},
		{name: "v2", paths: map[string]string{"": "/sys/fs/cgroup/berth/c1"}, unified: true},
		{name: "none", paths: nil, err: "no paths"},
		{name: "v2 with controller keys", paths: map[string]string{"memory": "/sys/fs/cgroup/berth/c1"}, unified: true, err: "exactly one path"},
		{name: "relative", paths: map[string]string{"memory": "berth/c1"}, err: "not absolute and clean"},
		{name: "unclean", paths: map[string]string{"memory": "/sys/fs/cgroup/memory/berth/../c1"}, err: "not absolute and clean"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkPaths(tc.paths, tc.unified)
			if tc.err == "" {
				assert.NilError(t, err)
				return
			}
			assert.Check(t, is.ErrorContains(err, tc.err))
			assert.Check(t, errdefs.IsInvalidArgument(err))
		})
	}
}
