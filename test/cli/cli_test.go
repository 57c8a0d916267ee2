// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package cli_test

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

func TestRunOutputAndExitCodes(t *testing.T) {
	requireDaemon(t)
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string
	}{
		{"echo", []string{"busybox-placeholder", "echo", "hello"}, 0, "hello\n"},
		{"exit-code", []string{"busybox-placeholder", "sh", "-c", "echo out; echo err >&2; exit 3"}, 3, "out\n"},
		{"not-found", []string{"busybox-placeholder", "no-such-command"}, 127, ""},
		{"not-executable", []string{"busybox-placeholder", "/etc/passwd"}, 126, ""},
		{"env-workdir-user", []string{"-e", "A=1", "-w", "/tmp", "-u", "1000", "busybox-placeholder", "sh", "-c", "echo $A $(pwd) $(id -u)"}, 0, "1 /tmp 1000\n"},
		{"entrypoint", []string{"--entrypoint", "echo", "busybox-placeholder", "a", "b"}, 0, "a b\n"},
		{"hostname", []string{"--hostname", "h1", "busybox-placeholder", "hostname"}, 0, "h1\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"run", "--rm", "--network", "none"}
			for _, a := range tc.args {
				if a == "busybox-placeholder" {
					a = image
				}
				args = append(args, a)
			}
			r := berth(args...)
			assert.Check(t, is.Equal(r.code, tc.code), r.stderr)
			assert.Check(t, is.Equal(r.stdout, tc.stdout))
		})
	}
}

func TestRunStdin(t *testing.T) {
	requireDaemon(t)
	r := run(berthBin, "piped input\n", "run", "--rm", "-i", "--network", "none", image, "cat")
	assert.Equal(t, r.code, 0, r.stderr)
	assert.Equal(t, r.stdout, "piped input\n")
}

func TestFlagErrors(t *testing.T) {
	requireDaemon(t)
	r := berth("run", "--no-such-flag", image)
	assert.Check(t, is.Equal(r.code, 125))
	assert.Check(t, is.Contains(r.stderr, "unknown flag: --no-such-flag"))
	r = berth("run", "--rm", "--restart", "always", image)
	assert.Check(t, is.Equal(r.code, 125))
	r = berth("ps", "extra")
	assert.Check(t, is.Equal(r.code, 1))
	assert.Check(t, is.Contains(r.stderr, "accepts no arguments"))
}

func TestContainerLifecycle(t *testing.T) {
	requireDaemon(t)
	n := name(t, "life")
	id := strings.TrimSpace(mustBerth(t, "run", "-d", "--name", n, "--network", "none", "--label", "k=v", image,
		"sh", "-c", "echo started; trap 'exit 7' TERM; while true; do sleep 0.1; done"))
	assert.Check(t, is.Len(id, 64))
	assert.Equal(t, mustBerth(t, "inspect", "-f", "{{.State.Running}} {{.Config.Labels.k}}", n), "true v\n")
	assert.Equal(t, mustBerth(t, "ps", "-q", "--no-trunc", "--filter", "name="+n), id+"\n")

	r := berth("exec", n, "sh", "-c", "echo in-exec; exit 4")
	assert.Check(t, is.Equal(r.code, 4))
	assert.Check(t, is.Equal(r.stdout, "in-exec\n"))
	assert.Equal(t, mustBerth(t, "exec", "-e", "X=y", "-w", "/etc", n, "sh", "-c", "echo $X $(pwd)"), "y /etc\n")

	assert.Equal(t, mustBerth(t, "stop", "-t", "5", n), n+"\n")
	assert.Equal(t, mustBerth(t, "wait", n), "7\n")
	assert.Equal(t, mustBerth(t, "logs", n), "started\n")
	assert.Equal(t, mustBerth(t, "inspect", "-f", "{{.State.ExitCode}}", n), "7\n")

	assert.Equal(t, mustBerth(t, "start", n), n+"\n")
	assert.Equal(t, mustBerth(t, "kill", "-s", "KILL", n), n+"\n")
	assert.Equal(t, mustBerth(t, "wait", n), "137\n")
	assert.Equal(t, mustBerth(t, "rm", n), n+"\n")
	r = berth("rm", n)
	assert.Check(t, is.Equal(r.code, 1))
	assert.Check(t, is.Contains(r.stderr, "No such container"))
}

func TestCreateStartAttach(t *testing.T) {
	requireDaemon(t)
	n := name(t, "c")
	mustBerth(t, "create", "--name", n, "--network", "none", image, "sh", "-c", "echo from-start; exit 5")
	r := berth("start", "-a", n)
	assert.Check(t, is.Equal(r.code, 5), r.stderr)
	assert.Check(t, is.Equal(r.stdout, "from-start\n"))
}

func TestInspectNotFound(t *testing.T) {
	requireDaemon(t)
	r := berth("inspect", prefix+"-no-such-object")
	assert.Check(t, is.Equal(r.code, 1))
	assert.Check(t, is.Equal(r.stdout, "[]\n"))
	assert.Check(t, is.Contains(r.stderr, "No such object: "+prefix+"-no-such-object"))
}

// TestParity compares berth's output with docker's for the same state.
func TestParity(t *testing.T) {
	requireDocker(t)
	running := name(t, "running")
	exited := name(t, "exited")
	mustBerth(t, "run", "-d", "--name", running, "--network", "none", "--label", "a=b", image, "sleep", "300")
	r := berth("run", "--name", exited, "--network", "none", image, "sh", "-c", "echo hi; exit 2")
	assert.Equal(t, r.code, 2, r.stderr)
	filter := "name=" + prefix + "_TestParity"
	for _, args := range [][]string{
		{"ps", "--filter", filter},
		{"ps", "-a", "--filter", filter},
		{"ps", "-a", "-q", "--filter", filter},
		{"ps", "-a", "--no-trunc", "--filter", filter},
		{"ps", "-a", "-s", "--filter", filter},
		{"ps", "-a", "--format", "json", "--filter", filter},
		{"ps", "-a", "--format", "{{json .}}", "--filter", filter},
		{"ps", "-a", "--format", "table {{.Names}}\t{{.Status}}\t{{.Labels}}", "--filter", filter},
		{"ps", "-a", "--filter", "status=exited", "--filter", filter},
		{"images", prefix + "/*"},
		{"images", "-q", prefix + "/*"},
		{"images", "--no-trunc", prefix + "/*"},
		{"images", "--digests", prefix + "/*"},
		{"images", "--format", "json", prefix + "/*"},
		{"history", image},
		{"history", "--no-trunc", image},
		{"inspect", "-f", "{{.State.Status}} {{.Config.Cmd}} {{json .Config.Labels}}", running},
		{"inspect", "-f", "{{.Id}} {{.Config.Image}}", running},
		{"container", "inspect", "-f", "{{.State.ExitCode}}", exited},
		{"image", "inspect", "-f", "{{.Id}} {{.RepoTags}}", image},
		{"inspect", prefix + "-no-such-object"},
		{"logs", exited},
		{"rm", prefix + "-no-such-container"},
		{"wait", exited},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) { sameAsDocker(t, args...) })
	}
}

// TestSignalProxy sends signals to an attached `berth run`: they reach
// the container (the trap runs and sets the exit status), except with
// --sig-proxy=false, where SIGTERM ends the CLI and leaves the
// container running.
func TestSignalProxy(t *testing.T) {
	requireDaemon(t)
	script := "trap 'echo got USR1' USR1; trap 'echo got TERM; exit 3' TERM; echo ready; while true; do sleep 0.1; done"
	start := func(t *testing.T, name string, extra ...string) (*exec.Cmd, *lineReader) {
		t.Helper()
		args := append([]string{"-H", socket, "run", "--name", name, "--network", "none"}, extra...)
		cmd := exec.Command(berthBin, append(args, image, "sh", "-c", script)...)
		cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+filepath.Join(os.TempDir(), prefix+"-config"))
		out, err := cmd.StdoutPipe()
		assert.NilError(t, err)
		assert.NilError(t, cmd.Start())
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); berth("rm", "-f", name) })
		lr := newLineReader(out)
		assert.Equal(t, lr.next(t), "ready")
		return cmd, lr
	}

	t.Run("proxied", func(t *testing.T) {
		cmd, lr := start(t, name(t, "sig"))
		assert.NilError(t, cmd.Process.Signal(syscall.SIGUSR1))
		assert.Equal(t, lr.next(t), "got USR1")
		assert.NilError(t, cmd.Process.Signal(syscall.SIGTERM))
		assert.Equal(t, lr.next(t), "got TERM")
		err := cmd.Wait()
		var ee *exec.ExitError
		assert.Assert(t, errors.As(err, &ee), "%v", err)
		assert.Equal(t, ee.ExitCode(), 3)
	})
	t.Run("not-proxied", func(t *testing.T) {
		n := name(t, "nosig")
		cmd, _ := start(t, n, "--sig-proxy=false")
		assert.NilError(t, cmd.Process.Signal(syscall.SIGTERM))
		err := cmd.Wait()
		var ee *exec.ExitError
		assert.Assert(t, errors.As(err, &ee), "%v", err)
		assert.Equal(t, mustBerth(t, "inspect", "-f", "{{.State.Running}}", n), "true\n")
	})
}

// lineReader hands out the lines of a stream, failing a test that waits
// more than 20 s for one.
type lineReader struct{ lines chan string }

func newLineReader(r io.Reader) *lineReader {
	lr := &lineReader{lines: make(chan string, 16)}
	go func() {
		s := bufio.NewScanner(r)
		for s.Scan() {
			lr.lines <- s.Text()
		}
		close(lr.lines)
	}()
	return lr
}

func (lr *lineReader) next(t *testing.T) string {
	t.Helper()
	select {
	case l, ok := <-lr.lines:
		if !ok {
			t.Fatal("output ended")
		}
		return l
	case <-time.After(20 * time.Second):
		t.Fatal("no line within 20 s")
	}
	return ""
}
