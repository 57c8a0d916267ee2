package runtime_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"gotest.tools/v3/assert"
)

// TestCreateKilledMidway kills `create` with SIGKILL while it waits for a
// createRuntime hook, after init exists and the cgroup is made. `delete
// --force` must then remove everything: the init process, the cgroup and
// the state directory.
func TestCreateKilledMidway(t *testing.T) {
	r := newRT(t)
	hookDir := t.TempDir()
	hookPid := filepath.Join(hookDir, "hook.pid")
	hook := filepath.Join(hookDir, "hook.sh")
	assert.NilError(t, os.WriteFile(hook, []byte("#!/bin/sh\necho $$ > "+hookPid+"\nexec sleep 60\n"), 0o755))
	b := sh(t, "true", func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: hook}}}
	})
	id := containerID(t)
	mounts := hostMounts(t)

	create := exec.Command(berthBin, "runtime", "--root", r.root, "create", "--bundle", b, id)
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	assert.NilError(t, err)
	defer devnull.Close()
	create.Stdin, create.Stdout, create.Stderr = devnull, devnull, devnull
	assert.NilError(t, create.Start())
	t.Cleanup(func() {
		if data, err := os.ReadFile(hookPid); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil {
				unix.Kill(pid, unix.SIGKILL)
			}
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(hookPid); err == nil {
			break
		}
		assert.Assert(t, time.Now().Before(deadline), "the hook never ran")
		time.Sleep(5 * time.Millisecond)
	}
	st := r.ok("state", id)
	assert.Assert(t, strings.Contains(st, `"pid": `), st)
	initPid := statePid(t, r, id)
	assert.NilError(t, create.Process.Kill())
	create.Wait()

	r.ok("delete", "--force", id)
	r.assertNoLeftovers(id, readSpec(t, b).Linux.CgroupsPath, mounts)
	reap()
	assert.Assert(t, unix.Kill(initPid, 0) == unix.ESRCH, "init %d still exists", initPid)
}
