package runtime_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

func TestRunExitCodeAndOutput(t *testing.T) {
	r := newRT(t)
	res := r.run(sh(t, "echo out; echo err >&2; exit 7"))
	assert.Equal(t, res.code, 7, res)
	assert.Equal(t, res.stdout, "out\n")
	assert.Equal(t, res.stderr, "err\n")
}

func TestStdin(t *testing.T) {
	r := newRT(t)
	res := r.cmd("piped input\n", "run", "--bundle", sh(t, "cat"), containerID(t))
	assert.Equal(t, res.code, 0, res)
	assert.Equal(t, res.stdout, "piped input\n")
}

// TestStateMachine walks created → running → stopped → deleted and checks
// that state, kill and delete work from fresh processes.
func TestStateMachine(t *testing.T) {
	r := newRT(t)
	b := sh(t, "sleep 100")
	id := containerID(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	r.ok("create", "--bundle", b, "--pid-file", pidFile, id)

	var st map[string]any
	assert.NilError(t, json.Unmarshal([]byte(r.ok("state", id)), &st))
	assert.Equal(t, st["status"], "created")
	assert.Equal(t, st["id"], id)
	assert.Equal(t, st["bundle"], b)
	pid, err := os.ReadFile(pidFile)
	assert.NilError(t, err)
	assert.Equal(t, string(pid), jsonNumber(st["pid"]))

	r.ok("start", id)
	r.waitStatus(id, "running")
	assert.Assert(t, is.Contains(r.ok("list"), id))

	res := r.cmd("", "start", id)
	assert.Assert(t, res.code != 0)
	assert.Assert(t, is.Contains(res.stderr, "cannot start a container that has already been started"))

	res = r.cmd("", "delete", id)
	assert.Assert(t, res.code != 0)
	assert.Assert(t, is.Contains(res.stderr, "is not stopped"))

	r.ok("kill", id, "KILL")
	r.waitStatus(id, "stopped")
	res = r.cmd("", "kill", id)
	assert.Assert(t, res.code != 0)
	assert.Assert(t, is.Contains(res.stderr, "is not running"))

	r.ok("delete", id)
	res = r.cmd("", "state", id)
	assert.Assert(t, res.code != 0)
	assert.Assert(t, is.Contains(res.stderr, "does not exist"))
	_, err = os.Stat(filepath.Join(r.root, id))
	assert.Assert(t, os.IsNotExist(err))
}

func jsonNumber(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestDeleteCreated(t *testing.T) {
	r := newRT(t)
	id := containerID(t)
	r.ok("create", "--bundle", sh(t, "true"), id)
	r.ok("delete", id)
	assert.Assert(t, !strings.Contains(r.ok("list", "-q"), id))
}

func TestDeleteForceRunning(t *testing.T) {
	r := newRT(t)
	id := containerID(t)
	r.ok("run", "-d", "--bundle", sh(t, "sleep 100"), id)
	r.waitStatus(id, "running")
	r.ok("delete", "-f", id)
	assert.Assert(t, !strings.Contains(r.ok("list", "-q"), id))
}
