// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package cgroup_test

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/runtime/cgroup"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/poll"
)

// newTestManager returns a manager for a cgroup unique to this test run.
// When the test ends, even after a failure, whatever runs in the cgroup is
// killed and the cgroup and its /berth-test parent are removed.
func newTestManager(t *testing.T, res *specs.LinuxResources) *cgroup.Manager {
	t.Helper()
	name := strings.ReplaceAll(t.Name(), "/", "_")
	m, err := cgroup.New("", fmt.Sprintf("/berth-test/%s-%08x", name, rand.Uint32()), res)
	assert.NilError(t, err)
	paths := m.Paths()
	t.Cleanup(func() { removeTestCgroup(t, paths) })
	return m
}

func removeTestCgroup(t *testing.T, paths map[string]string) {
	m, err := cgroup.Load(paths, nil)
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	killAll(m)
	if err := m.Destroy(); err != nil {
		t.Errorf("cleanup: %v", err)
	}
	for _, p := range paths {
		_ = os.Remove(filepath.Dir(p)) // the shared /berth-test parent, once empty
	}
}

// killAll kills every process in the cgroup and waits until it is empty
// (a killed process leaves its cgroup as it exits, before it is reaped).
func killAll(m *cgroup.Manager) {
	// A frozen task cannot act on SIGKILL until it is thawed.
	if frozen, _ := m.Frozen(); frozen {
		_ = m.Thaw()
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		pids, _ := m.Pids()
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// start runs argv as a child of the test and kills it when the test ends.
func start(t *testing.T, m *cgroup.Manager, argv ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	assert.NilError(t, cmd.Start())
	t.Cleanup(func() {
		killAll(m)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

// startGated starts sh running script, but only once release is called, so
// the script can run entirely inside a cgroup applied in between.
func startGated(t *testing.T, m *cgroup.Manager, script string) (cmd *exec.Cmd, out *strings.Builder, release func()) {
	t.Helper()
	cmd = exec.Command("sh", "-c", "read _ && { "+script+"\n}")
	stdin, err := cmd.StdinPipe()
	assert.NilError(t, err)
	out = &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second // if a background child keeps the output open
	assert.NilError(t, cmd.Start())
	t.Cleanup(func() {
		killAll(m)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd, out, func() {
		_, err := io.WriteString(stdin, "\n")
		assert.NilError(t, err)
		assert.NilError(t, stdin.Close())
	}
}

func ptr[T any](v T) *T { return &v }

func readCgroupFile(t *testing.T, dir, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name))
	assert.NilError(t, err)
	return strings.TrimSpace(string(data))
}

// procState returns the state letter of /proc/<pid>/stat (proc(5)).
func procState(pid int) (string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", err
	}
	// The command name in parentheses may contain spaces; the state is
	// the first field after its closing parenthesis.
	rest := string(data[strings.LastIndexByte(string(data), ')')+1:])
	return strings.Fields(rest)[0], nil
}

func waitState(t *testing.T, pid int, want string) {
	t.Helper()
	poll.WaitOn(t, func(poll.LogT) poll.Result {
		got, err := procState(pid)
		if err != nil {
			return poll.Error(err)
		}
		if got != want {
			return poll.Continue("pid %d in state %s, want %s", pid, got, want)
		}
		return poll.Success()
	}, poll.WithTimeout(5*time.Second))
}

// testDeviceRules checks that device rules are enforced on open(2): a shell
// inside the cgroup may open /dev/null (allowed) but not /dev/zero. (true,
// not the special built-in ":", because a failed redirection of a special
// built-in ends a POSIX shell.)
func testDeviceRules(t *testing.T) {
	major, minor := int64(1), int64(3) // /dev/null
	m := newTestManager(t, &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
		{Allow: true, Type: "c", Major: &major, Minor: &minor, Access: "rw"},
	}})
	cmd, out, release := startGated(t, m, `true </dev/null && echo null ok; true </dev/zero || echo zero denied`)
	assert.NilError(t, m.Apply(cmd.Process.Pid))
	release()
	assert.NilError(t, cmd.Wait())
	assert.Check(t, is.Contains(out.String(), "null ok\n"))
	assert.Check(t, is.Contains(out.String(), "/dev/zero: Operation not permitted\nzero denied\n"))
}
