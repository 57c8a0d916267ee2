package runtime_test

import (
	"os/exec"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// TestRunTerminalForeground runs a terminal container with `run` and no
// console socket, under script(1) so that the runtime has a terminal: the
// runtime relays the container's pty, passes the window size, and lines
// end in one "\r\n", as with runc.
func TestRunTerminalForeground(t *testing.T) {
	r := newRT(t)
	b := sh(t, `tty; stty size`, func(s *specs.Spec) { s.Process.Terminal = true })
	cmd := "stty cols 99 rows 30; exec " + berthBin + " runtime --root " + r.root + " run --bundle " + b + " " + containerID(t)
	out, err := exec.Command("script", "-qec", cmd, "/dev/null").CombinedOutput()
	assert.NilError(t, err, string(out))
	o := string(out)
	assert.Assert(t, is.Contains(o, "/dev/pts/0\r\n"), "%q", o)
	assert.Assert(t, is.Contains(o, "30 99\r\n"), "%q", o)
	assert.Assert(t, !strings.Contains(o, "\r\r\n"), "%q", o)
}

// TestTerminalBelongsToUser runs a terminal container as uid 1000: its
// pty's slave is the user's (group tty stays), so the program can open
// its own terminal by name, as under runc and Docker.
func TestTerminalBelongsToUser(t *testing.T) {
	r := newRT(t)
	b := sh(t, `stat -c %u:%g $(tty); echo opened > $(tty)`, func(s *specs.Spec) {
		s.Process.Terminal = true
		s.Process.User = specs.User{UID: 1000, GID: 1000}
	})
	cmd := "exec " + berthBin + " runtime --root " + r.root + " run --bundle " + b + " " + containerID(t)
	out, err := exec.Command("script", "-qec", cmd, "/dev/null").CombinedOutput()
	assert.NilError(t, err, string(out))
	assert.Check(t, is.Contains(string(out), "1000:5\r\nopened\r\n"), "%q", out)
}
