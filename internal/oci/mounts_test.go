// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package oci

import (
	"path/filepath"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

func TestMountsErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	tests := []struct {
		name string
		hc   container.HostConfig
		want string
	}{
		{"empty bind", container.HostConfig{Binds: []string{":/data"}}, "invalid volume specification: ':/data'"},
		{"target with mode only", container.HostConfig{Binds: []string{"/data:rw"}}, "invalid volume specification: '/data:rw'"},
		{"bad mode", container.HostConfig{Binds: []string{"/a:/b:rx"}}, "invalid mode: rx"},
		{"relative target", container.HostConfig{Binds: []string{"/a:b"}}, `invalid volume specification: '/a:b': invalid mount config for type "bind": invalid mount path: 'b' mount path must be absolute`},
		{"root target", container.HostConfig{Binds: []string{"/a:/"}}, `invalid volume specification: '/a:/': invalid mount config for type "bind": invalid specification: destination can't be '/'`},
		{"duplicate", container.HostConfig{Binds: []string{"/a:/b", "/c:/b"}}, "Duplicate mount point: /b"},
		{"mount source missing", container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeBind, Source: missing, Target: "/b"}}}, `invalid mount config for type "bind": bind source path does not exist: ` + missing},
		{"mount no target", container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeVolume, Source: "v"}}}, `invalid mount config for type "volume": field Target must not be empty`},
		{"tmpfs with source", container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeTmpfs, Source: "x", Target: "/t"}}}, `invalid mount config for type "tmpfs": field Source must not be specified`},
		{"tmpfs bad option", container.HostConfig{Tmpfs: map[string]string{"/t": "bogus"}}, `invalid tmpfs option ["bogus"]`},
		{"recursive read-only", container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeBind, Source: "/", Target: "/b", ReadOnly: true, BindOptions: &mount.BindOptions{ReadOnlyForceRecursive: true}}}}, `invalid mount config for type "bind": recursive read-only bind mounts (bind-recursive=readonly) are not supported by berth`},
		{"unknown type", container.HostConfig{Mounts: []mount.Mount{{Type: "npipe", Target: "/t"}}}, `invalid mount config for type "npipe": mount type unknown`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Mounts(&tc.hc, func(mount.Mount) (string, error) { return "/vol", nil })
			assert.Error(t, err, tc.want)
			assert.Check(t, errdefs.IsInvalidArgument(err))
		})
	}
}

func TestMountsBindCreatesSource(t *testing.T) {
	src := filepath.Join(t.TempDir(), "new")
	ms, err := Mounts(&container.HostConfig{
		Binds:  []string{src + ":/data:ro,rshared"},
		Tmpfs:  map[string]string{"/run": "exec,size=64k,noexec"},
		Mounts: []mount.Mount{{Type: mount.TypeBind, Source: src, Target: "/data/sub", BindOptions: &mount.BindOptions{NonRecursive: true}}},
	}, nil)
	assert.NilError(t, err)
	assert.Assert(t, is.Len(ms, 3))
	assert.DeepEqual(t, ms[0].Options, []string{"rbind", "ro", "rshared"})
	assert.DeepEqual(t, ms[1].Options, []string{"nosuid", "nodev", "rprivate", "size=64k", "noexec"})
	assert.Equal(t, ms[1].Destination, "/run")
	assert.DeepEqual(t, ms[2].Options, []string{"bind", "rprivate"})
}

func TestTweakCaps(t *testing.T) {
	fakeHost(t)
	tests := []struct {
		add, drop []string
		want      []string
	}{
		{nil, []string{"chown", "CAP_DAC_OVERRIDE", "fsetid", "fowner", "mknod", "net_raw", "setgid", "setuid", "setfcap", "setpcap", "net_bind_service", "sys_chroot", "kill"}, []string{"CAP_AUDIT_WRITE"}},
		{[]string{"net_admin", "CAP_CHOWN"}, []string{"all"}, []string{"CAP_NET_ADMIN", "CAP_CHOWN"}},
		{[]string{"ALL"}, nil, allCaps()},
		{nil, []string{"ALL"}, []string{}},
	}
	for _, tc := range tests {
		got, err := tweakCaps(tc.add, tc.drop)
		assert.NilError(t, err)
		assert.Check(t, is.DeepEqual(got, tc.want), "add %v drop %v", tc.add, tc.drop)
	}
}

func TestEnvironment(t *testing.T) {
	cfg := &container.Config{Env: []string{"A=1", "PATH=/x", "B"}, Tty: true}
	img := busyboxImage
	img2 := *img
	img2.Env = append([]string{"B=img", "C=img"}, img.Env...)
	assert.DeepEqual(t, environment(cfg, &img2, "h", nil), []string{"PATH=/x", "HOSTNAME=h", "TERM=xterm", "A=1", "C=img"})
}
