package runtime_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// editConfig rewrites a bundle's config.json as generic JSON, so that a
// test can make it invalid in ways the spec types cannot express.
func editConfig(t *testing.T, bundle string, edit func(m map[string]any)) {
	t.Helper()
	path := filepath.Join(bundle, "config.json")
	data, err := os.ReadFile(path)
	assert.NilError(t, err)
	var m map[string]any
	assert.NilError(t, json.Unmarshal(data, &m))
	edit(m)
	data, err = json.Marshal(m)
	assert.NilError(t, err)
	assert.NilError(t, os.WriteFile(path, data, 0o644))
}

// TestCreateBadInput gives create bad input: it must fail with a one-line
// error naming the problem and leave no state directory, no cgroup and no
// mount behind.
func TestCreateBadInput(t *testing.T) {
	tests := []struct {
		name   string
		id     string                              // default: containerID
		bundle func(t *testing.T, b string) string // default: b
		mutate func(*specs.Spec)                   // applied through the spec types
		edit   func(t *testing.T, b string)        // applied to the files
		args   []string                            // more create flags
		want   string
	}{
		{
			name: "malformed json",
			edit: func(t *testing.T, b string) {
				assert.NilError(t, os.WriteFile(filepath.Join(b, "config.json"), []byte(`{"ociVersion": "1.2.0", "process": {`), 0o644))
			},
			want: "config.json",
		},
		{
			name: "missing process",
			edit: func(t *testing.T, b string) { editConfig(t, b, func(m map[string]any) { delete(m, "process") }) },
			want: "process",
		},
		{
			name:   "empty args",
			mutate: func(s *specs.Spec) { s.Process.Args = nil },
			want:   "args",
		},
		{
			name:   "relative cwd",
			mutate: func(s *specs.Spec) { s.Process.Cwd = "tmp" },
			want:   "cwd",
		},
		{
			name:   "unknown rlimit",
			mutate: func(s *specs.Spec) { s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_BOGUS", Soft: 1, Hard: 1}} },
			want:   "RLIMIT_BOGUS",
		},
		{
			name: "invalid namespace type",
			mutate: func(s *specs.Spec) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
			},
			want: "bogus",
		},
		{
			name:   "missing namespace path",
			mutate: withNamespace(specs.NetworkNamespace, "/nonexistent/netns"),
			want:   "/nonexistent/netns",
		},
		{
			name: "id mappings without user namespace",
			mutate: func(s *specs.Spec) {
				s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
				s.Linux.GIDMappings = s.Linux.UIDMappings
			},
			want: "user namespace",
		},
		{
			name:   "relative mount destination",
			mutate: withMounts(specs.Mount{Destination: "data", Type: "tmpfs", Source: "tmpfs"}),
			want:   `"data"`,
		},
		{
			name:   "missing bind mount source",
			mutate: withMounts(specs.Mount{Destination: "/data", Type: "bind", Source: "/nonexistent/source", Options: []string{"rbind"}}),
			want:   "/nonexistent/source",
		},
		{
			name:   "missing bundle",
			bundle: func(t *testing.T, b string) string { return filepath.Join(t.TempDir(), "nonexistent") },
			want:   "does not exist",
		},
		{
			name: "missing rootfs",
			edit: func(t *testing.T, b string) { assert.NilError(t, os.RemoveAll(filepath.Join(b, "rootfs"))) },
			want: "rootfs",
		},
		{
			name: "invalid id",
			id:   "../x",
			want: "invalid container id",
		},
		{
			name:   "terminal without console socket",
			mutate: func(s *specs.Spec) { s.Process.Terminal = true },
			want:   "console-socket",
		},
		{
			name: "console socket without terminal",
			args: []string{"--console-socket", "/nonexistent/console.sock"},
			want: "terminal",
		},
		{
			name: "mount inside /proc",
			mutate: withMounts(specs.Mount{Destination: "/proc/sys/kernel/core_pattern", Type: "bind",
				Source: "/etc/hostname", Options: []string{"bind"}}),
			want: `"/proc/sys/kernel/core_pattern" cannot be mounted because it is inside /proc`,
		},
		{
			name:   "tmpfs on /proc",
			mutate: withMounts(specs.Mount{Destination: "/proc//", Type: "tmpfs", Source: "tmpfs"}),
			want:   `"/proc//" cannot be mounted because it is not of type proc`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRT(t)
			mounts := hostMounts(t)
			var mutate []func(*specs.Spec)
			if tc.mutate != nil {
				mutate = append(mutate, tc.mutate)
			}
			b := sh(t, `echo the program ran`, mutate...)
			cgroupsPath := readSpec(t, b).Linux.CgroupsPath
			if tc.edit != nil {
				tc.edit(t, b)
			}
			if tc.bundle != nil {
				b = tc.bundle(t, b)
			}
			id := tc.id
			if id == "" {
				id = containerID(t)
			}
			args := append(append([]string{"create", "--bundle", b}, tc.args...), id)
			res := r.cmd("", args...)
			assertOneLineError(t, res, tc.want)
			assert.Check(t, is.Equal(res.stdout, ""))
			r.assertNoLeftovers(id, cgroupsPath, mounts)
			if tc.id != "" {
				_, err := os.Lstat(filepath.Join(r.root, tc.id))
				assert.Check(t, os.IsNotExist(err), "something made at %s", filepath.Join(r.root, tc.id))
			}
			assert.Check(t, is.Equal(strings.TrimSpace(r.ok("list", "-q")), ""))
		})
	}
}

// TestDuplicateID creates a second container with the ID (and the bundle,
// so the cgroup path too) of a running one: it fails, and the first one is
// unaffected.
func TestDuplicateID(t *testing.T) {
	r := newRT(t)
	b := sh(t, `sleep 1000`)
	id := r.started(b)
	pid := statePid(t, r, id)
	mounts := hostMounts(t)

	res := r.cmd("", "create", "--bundle", b, id)
	assertOneLineError(t, res, "already exists")
	res = r.cmd("", "run", "--bundle", b, id)
	assertOneLineError(t, res, "already exists")

	assert.Check(t, is.Contains(r.ok("state", id), `"status": "running"`))
	assert.Check(t, is.Equal(statePid(t, r, id), pid))
	procs, err := os.ReadFile(filepath.Join(cgroupDir(t, b, "memory"), "cgroup.procs"))
	assert.NilError(t, err, "the first container's cgroup is gone")
	assert.Check(t, is.Contains(strings.Fields(string(procs)), strconv.Itoa(pid)))
	res = r.exec(id, "echo", "still here")
	assert.Check(t, is.Equal(res.stdout, "still here\n"), res)
	for l := range hostMounts(t) {
		assert.Check(t, mounts[l], "new mount on the host: %s", l)
	}
}

// TestLifecycleErrors checks operations that the container's state does
// not allow.
func TestLifecycleErrors(t *testing.T) {
	r := newRT(t)
	running := r.started(sh(t, `sleep 1000`))
	stopped := containerID(t)
	r.ok("create", "--bundle", sh(t, `true`), stopped)
	r.ok("start", stopped)
	r.waitStatus(stopped, "stopped")

	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "start running", args: []string{"start", running}, want: "already been started"},
		{name: "start stopped", args: []string{"start", stopped}, want: "stopped"},
		{name: "kill stopped", args: []string{"kill", stopped, "KILL"}, want: "not running"},
		{name: "exec stopped", args: []string{"exec", stopped, "true"}, want: "stopped"},
		{name: "pause stopped", args: []string{"pause", stopped}, want: "not running"},
		{name: "delete running", args: []string{"delete", running}, want: "not stopped"},
		{name: "delete unknown", args: []string{"delete", "nonexistent"}, want: "does not exist"},
		{name: "state unknown", args: []string{"state", "nonexistent"}, want: "does not exist"},
		{name: "kill unknown", args: []string{"kill", "nonexistent"}, want: "does not exist"},
		{name: "unknown signal", args: []string{"kill", running, "SIGBOGUS"}, want: "SIGBOGUS"},
		{name: "state invalid id", args: []string{"state", "../x"}, want: "invalid container id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assertOneLineError(t, r.cmd("", tc.args...), tc.want)
		})
	}
	// Neither container was disturbed.
	assert.Check(t, is.Contains(r.ok("state", running), `"status": "running"`))
	assert.Check(t, is.Contains(r.ok("state", stopped), `"status": "stopped"`))
	r.ok("delete", stopped)
}

// TestDeleteForceOrphanDir removes a state directory that a create killed
// before it saved its state left behind.
func TestDeleteForceOrphanDir(t *testing.T) {
	r := newRT(t)
	assert.NilError(t, os.Mkdir(filepath.Join(r.root, "orphan"), 0o711))
	r.ok("delete", "--force", "orphan")
	_, err := os.Stat(filepath.Join(r.root, "orphan"))
	assert.Assert(t, os.IsNotExist(err))
}
