package runtime_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// hookScript appends "<name> <state JSON>" to the log file given as its
// arguments.
const hookScript = "#!/bin/sh\nprintf '%s %s\\n' \"$1\" \"$(cat)\" >> \"$2\"\n"

var hookEnv = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}

// TestHooks runs all six kinds of hook and checks their order and the
// state each one reads on stdin.
func TestHooks(t *testing.T) {
	r := newRT(t)
	logDir := t.TempDir()
	logFile := filepath.Join(logDir, "log")
	hostHook := filepath.Join(t.TempDir(), "hook.sh")
	assert.NilError(t, os.WriteFile(hostHook, []byte(hookScript), 0o755))
	hook := func(name string) specs.Hook {
		return specs.Hook{Path: hostHook, Args: []string{"hook.sh", name, logFile}, Env: hookEnv}
	}
	b := sh(t, `sleep 1000`,
		withMounts(specs.Mount{Destination: "/hooklog", Type: "bind", Source: logDir, Options: []string{"rbind", "rw"}}),
		func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{
				Prestart:        []specs.Hook{hook("prestart")},
				CreateRuntime:   []specs.Hook{hook("createRuntime")},
				CreateContainer: []specs.Hook{hook("createContainer")},
				// startContainer runs in the container: its path is in
				// the rootfs and it logs through the bind mount.
				StartContainer: []specs.Hook{{Path: "/hook.sh", Args: []string{"hook.sh", "startContainer", "/hooklog/log"}, Env: hookEnv}},
				Poststart:      []specs.Hook{hook("poststart")},
				Poststop:       []specs.Hook{hook("poststop")},
			}
		})
	assert.NilError(t, os.WriteFile(filepath.Join(b, "rootfs/hook.sh"), []byte(hookScript), 0o755))

	id := containerID(t)
	r.ok("create", "--bundle", b, id)
	pid := statePid(t, r, id)
	assert.Check(t, is.DeepEqual(hookNames(t, logFile), []string{"prestart", "createRuntime", "createContainer"}))
	r.ok("start", id)
	assert.Check(t, is.DeepEqual(hookNames(t, logFile), []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart"}))
	r.ok("kill", id, "KILL")
	r.waitStatus(id, "stopped")
	r.ok("delete", id)

	log := readHookLog(t, logFile)
	var names []string
	for _, e := range log {
		names = append(names, e.name)
	}
	assert.Assert(t, is.DeepEqual(names, []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}))
	// startContainer runs once start has been called but before the
	// program is executed: the container is "created" (as with runc).
	wantStatus := []specs.ContainerState{"creating", "creating", "creating", "created", "running", "stopped"}
	for i, e := range log {
		assert.Check(t, is.Equal(e.state.ID, id), e.name)
		assert.Check(t, is.Equal(e.state.Bundle, b), e.name)
		assert.Check(t, e.state.Version != "", e.name)
		assert.Check(t, is.Equal(e.state.Status, wantStatus[i]), e.name)
		switch e.name {
		case "poststop":
		case "createContainer", "startContainer":
			// Run in the container's namespaces, they may see the
			// container's PID there (1, as runc gives) or the runtime's.
			assert.Check(t, e.state.Pid == pid || e.state.Pid == 1, "%s: pid %d, want %d or 1", e.name, e.state.Pid, pid)
		default:
			assert.Check(t, is.Equal(e.state.Pid, pid), e.name)
		}
	}
}

type hookLogEntry struct {
	name  string
	state specs.State
}

func readHookLog(t *testing.T, path string) []hookLogEntry {
	t.Helper()
	data, err := os.ReadFile(path)
	assert.NilError(t, err)
	var out []hookLogEntry
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		name, state, _ := strings.Cut(l, " ")
		e := hookLogEntry{name: name}
		assert.NilError(t, json.Unmarshal([]byte(state), &e.state), "%s hook read %q", name, state)
		out = append(out, e)
	}
	return out
}

func hookNames(t *testing.T, path string) []string {
	t.Helper()
	var names []string
	for _, e := range readHookLog(t, path) {
		names = append(names, e.name)
	}
	return names
}

// TestHookFailure makes one hook fail: create (or start) fails with the
// hook's kind in a one-line message, and a failed create leaves nothing.
func TestHookFailure(t *testing.T) {
	tests := []struct {
		kind    string
		script  string
		timeout int
		want    string
	}{
		{kind: "prestart", script: "echo boom >&2; exit 3", want: "prestart"},
		{kind: "createRuntime", script: "echo boom >&2; exit 3", want: "createRuntime"},
		{kind: "createContainer", script: "echo boom >&2; exit 3", want: "createContainer"},
		{kind: "createRuntime", script: "exec sleep 20", timeout: 1, want: "createRuntime"},
		{kind: "startContainer", script: "echo boom >&2; exit 3", want: "startContainer"},
	}
	for _, tc := range tests {
		name := tc.kind
		if tc.timeout > 0 {
			name += " timeout"
		}
		t.Run(name, func(t *testing.T) {
			r := newRT(t)
			mounts := hostMounts(t)
			script := "#!/bin/sh\n" + tc.script + "\n"
			path := filepath.Join(t.TempDir(), "fail.sh")
			assert.NilError(t, os.WriteFile(path, []byte(script), 0o755))
			b := sh(t, `echo the program ran`, func(s *specs.Spec) {
				h := []specs.Hook{{Path: path, Env: hookEnv}}
				if tc.timeout > 0 {
					h[0].Timeout = &tc.timeout
				}
				switch tc.kind {
				case "prestart":
					s.Hooks = &specs.Hooks{Prestart: h}
				case "createRuntime":
					s.Hooks = &specs.Hooks{CreateRuntime: h}
				case "createContainer":
					s.Hooks = &specs.Hooks{CreateContainer: h}
				case "startContainer":
					h[0].Path = "/fail.sh"
					s.Hooks = &specs.Hooks{StartContainer: h}
				}
			})
			assert.NilError(t, os.WriteFile(filepath.Join(b, "rootfs/fail.sh"), []byte(script), 0o755))
			cgroupsPath := readSpec(t, b).Linux.CgroupsPath
			id := containerID(t)

			if tc.kind == "startContainer" {
				r.ok("create", "--bundle", b, id)
				res := r.cmd("", "start", id)
				assertOneLineError(t, res, tc.want)
				assert.Check(t, is.Equal(res.stdout, ""))
				r.waitStatus(id, "stopped")
				r.ok("delete", id)
			} else {
				res := r.cmd("", "create", "--bundle", b, id)
				assertOneLineError(t, res, tc.want)
				if tc.timeout > 0 {
					assert.Check(t, is.Contains(res.stderr, "timed out"))
				} else {
					assert.Check(t, is.Contains(res.stderr, "boom"))
				}
			}
			r.assertNoLeftovers(id, cgroupsPath, mounts)
		})
	}
}

// TestPoststopFailure: a failing poststop hook is only a warning; delete
// still removes the container.
func TestPoststopFailure(t *testing.T) {
	r := newRT(t)
	path := filepath.Join(t.TempDir(), "fail.sh")
	assert.NilError(t, os.WriteFile(path, []byte("#!/bin/sh\nexit 3\n"), 0o755))
	b := sh(t, `true`, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: path}}}
	})
	id := containerID(t)
	r.ok("create", "--bundle", b, id)
	r.ok("start", id)
	r.waitStatus(id, "stopped")
	r.ok("delete", id)
	r.assertNoLeftovers(id, readSpec(t, b).Linux.CgroupsPath, hostMounts(t))
}
