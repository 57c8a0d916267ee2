// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package monitor_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/jsonlog"
	"github.com/berth-project/berth/internal/monitor"
	"github.com/berth-project/berth/internal/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/poll"
)

// readLog returns a json-file log as "stream: text" lines.
func readLog(t *testing.T, path string) []string {
	t.Helper()
	var out []string
	err := jsonlog.Read(context.Background(), path, jsonlog.ReadOpts{Tail: -1}, func(e jsonlog.Entry) error {
		out = append(out, e.Stream+": "+string(e.Log))
		return nil
	})
	assert.NilError(t, err)
	return out
}

// TestExitAndLog runs containers to their end: the exit code (128+signal
// when killed), the log, the exit record and List.
func TestExitAndLog(t *testing.T) {
	tests := []struct {
		name   string
		script string
		kill   bool
		code   int
		log    []string
	}{
		{name: "zero", script: "echo out; echo err >&2", code: 0, log: []string{"stdout: out\n", "stderr: err\n"}},
		{name: "three", script: "echo a; exit 3", code: 3, log: []string{"stdout: a\n"}},
		{name: "unfinished line", script: "printf partial", code: 0, log: []string{"stdout: partial"}},
		{name: "killed", script: "sleep 1000", kill: true, code: 137},
	}
	e := newEnv(t)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := fmt.Sprintf("exit%d", i)
			logPath := filepath.Join(t.TempDir(), "log.json")
			pid := e.create(monitor.Config{ID: id, LogPath: logPath}, tc.script)
			assert.NilError(t, e.rt.Start(id))
			if tc.kill {
				assert.NilError(t, unix.Kill(pid, unix.SIGKILL))
			}
			ex := e.waitExit(id)
			assert.Check(t, is.Equal(ex.Code, tc.code))
			assert.Check(t, is.Equal(ex.Pid, pid))
			// stdout and stderr are separate pipes: only each one's order is kept.
			got := readLog(t, logPath)
			assert.Check(t, is.DeepEqual(sortedCopy(got), sortedCopy(tc.log)))
			p, ok := e.find(id)
			assert.Assert(t, ok)
			assert.Check(t, !p.Running)
			assert.Check(t, is.Equal(p.Code, tc.code))
			_, err := os.Stat(filepath.Join(e.dir, "exits", id))
			assert.Check(t, err)
			assert.NilError(t, e.c.Forget(id))
			_, ok = e.find(id)
			assert.Check(t, !ok)
			_, err = os.Stat(filepath.Join(e.dir, "exits", id))
			assert.Check(t, os.IsNotExist(err))
		})
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestAttachStdin attaches before start, writes stdin to `cat` and reads
// its output; with StdinOnce the end of the client's input ends cat's.
func TestAttachStdin(t *testing.T) {
	e := newEnv(t)
	id := "cat"
	e.create(monitor.Config{ID: id, OpenStdin: true, StdinOnce: true}, "cat; echo done >&2")
	var out, errOut syncBuffer
	wait := e.attach(id, monitor.Streams{Stdin: strings.NewReader("hello\nworld\n"), Stdout: &out, Stderr: &errOut})
	// A second client sees the output too.
	var out2 syncBuffer
	wait2 := e.attach(id, monitor.Streams{Stdout: &out2})
	assert.NilError(t, e.rt.Start(id))
	assert.NilError(t, wait())
	assert.NilError(t, wait2())
	assert.Check(t, is.Equal(out.String(), "hello\nworld\n"))
	assert.Check(t, is.Equal(errOut.String(), "done\n"))
	assert.Check(t, is.Equal(out2.String(), "hello\nworld\n"))
	assert.Check(t, is.Equal(e.waitExit(id).Code, 0))

	// Attaching to a process that has exited returns at once.
	assert.NilError(t, e.c.Attach(context.Background(), id, monitor.Streams{Stdout: &out}))
}

// TestCloseStdin ends a container's input from the daemon's side.
func TestCloseStdin(t *testing.T) {
	e := newEnv(t)
	logPath := filepath.Join(t.TempDir(), "log.json")
	e.create(monitor.Config{ID: "c", OpenStdin: true, LogPath: logPath}, "cat; echo eof")
	assert.NilError(t, e.rt.Start("c"))
	assert.NilError(t, e.c.CloseStdin("c"))
	assert.Check(t, is.Equal(e.waitExit("c").Code, 0))
	assert.Check(t, is.DeepEqual(readLog(t, logPath), []string{"stdout: eof\n"}))
}

// TestTTY gives a container a pty through the monitor: the window size
// set with Resize, output to the log and to an attach client.
func TestTTY(t *testing.T) {
	e := newEnv(t)
	id := "tty"
	logPath := filepath.Join(t.TempDir(), "log.json")
	e.create(monitor.Config{ID: id, Tty: true, OpenStdin: true, LogPath: logPath}, "tty; stty size; read x; echo got $x")
	assert.NilError(t, e.c.Resize(id, 30, 99))
	var out syncBuffer
	r, w, err := os.Pipe()
	assert.NilError(t, err)
	defer r.Close()
	wait := e.attach(id, monitor.Streams{Stdin: r, Stdout: &out})
	assert.NilError(t, e.rt.Start(id))
	poll.WaitOn(t, func(poll.LogT) poll.Result {
		if strings.Contains(out.String(), "30 99\r\n") {
			return poll.Success()
		}
		return poll.Continue("output so far %q", out.String())
	})
	_, err = w.Write([]byte("line\n"))
	assert.NilError(t, err)
	w.Close()
	assert.NilError(t, wait())
	o := out.String()
	assert.Check(t, is.Contains(o, "/dev/pts/0\r\n"))
	assert.Check(t, is.Contains(o, "got line\r\n"))
	assert.Check(t, is.Equal(e.waitExit(id).Code, 0))
	p, ok := e.find(id)
	assert.Check(t, ok && p.Tty)
	log := strings.Join(readLog(t, logPath), "")
	assert.Check(t, is.Contains(log, "stdout: 30 99\r\n"))
	assert.Check(t, is.Contains(log, "stdout: got line\r\n"))
}

// TestExec runs exec processes through the monitor, attached before they
// start, with an exit code and a pty.
func TestExec(t *testing.T) {
	e := newEnv(t)
	id := "box"
	e.create(monitor.Config{ID: id}, "sleep 1000")
	assert.NilError(t, e.rt.Start(id))

	exec := func(execID string, tty bool, args ...string) (string, monitor.Exit) {
		full := id + "/" + execID
		cfg := monitor.Config{ID: full, Tty: tty}
		var out syncBuffer
		wait := e.attach(full, monitor.Streams{Stdout: &out, Stderr: &out})
		opts := runtime.ExecOpts{
			Process: &specs.Process{Args: args, Env: []string{"PATH=/bin"}, Cwd: "/", Terminal: tty},
			Launch:  e.c.Launcher(cfg),
		}
		if tty {
			opts.Console = e.c.Console(full)
		}
		pid, err := e.rt.Exec(id, opts)
		assert.NilError(t, err)
		assert.NilError(t, e.c.Watch(full, pid))
		assert.NilError(t, wait())
		return out.String(), e.waitExit(full)
	}
	out, ex := exec("e1", false, "sh", "-c", "echo hi; exit 5")
	assert.Check(t, is.Equal(out, "hi\n"))
	assert.Check(t, is.Equal(ex.Code, 5))
	out, ex = exec("e2", true, "tty")
	assert.Check(t, is.Equal(ex.Code, 0))
	assert.Check(t, strings.HasPrefix(out, "/dev/pts/"), "%q", out)
	_, err := os.Stat(filepath.Join(e.dir, "exits", "box%2Fe1"))
	assert.Check(t, err)
	// The container itself still runs.
	p, ok := e.find(id)
	assert.Check(t, ok && p.Running)
}

// TestWatchAfterExit: a process that exits before Watch comes still gets
// its status.
func TestWatchAfterExit(t *testing.T) {
	e := newEnv(t)
	id := "early"
	cfg := monitor.Config{ID: id}
	st, err := e.rt.Create(runtime.CreateOpts{ID: id, Bundle: e.bundle("exit 7", false), Launch: e.c.Launcher(cfg)})
	assert.NilError(t, err)
	assert.NilError(t, e.rt.Start(id))
	// Wait until the monitor has reaped it.
	poll.WaitOn(t, func(poll.LogT) poll.Result {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", st.Pid)); os.IsNotExist(err) {
			return poll.Success()
		}
		return poll.Continue("pid %d still there", st.Pid)
	})
	assert.NilError(t, e.c.Watch(id, st.Pid))
	assert.Check(t, is.Equal(e.waitExit(id).Code, 7))
}

// TestClientGone: the monitor and its containers outlive the client (the
// daemon); an exit while no client is connected shows in List after
// reconnecting, and exit records outlive the monitor itself.
func TestClientGone(t *testing.T) {
	e := newEnv(t)
	id := "survivor"
	pid := e.create(monitor.Config{ID: id}, "sleep 1000")
	assert.NilError(t, e.rt.Start(id))
	assert.NilError(t, e.c.Close())

	assert.NilError(t, unix.Kill(pid, unix.SIGKILL))
	monPid := e.monPid
	e.connect()
	assert.Check(t, is.Equal(e.monPid, monPid), "a second monitor was started")
	poll.WaitOn(t, func(poll.LogT) poll.Result {
		p, ok := e.find(id)
		if ok && !p.Running {
			return poll.Success()
		}
		return poll.Continue("%+v", p)
	})
	p, _ := e.find(id)
	assert.Check(t, is.Equal(p.Code, 137))
	assert.Check(t, is.Equal(p.Pid, pid))

	// A new monitor reads the records the old one wrote.
	e.stopMonitor()
	e.connect()
	assert.Check(t, e.monPid != monPid)
	p, ok := e.find(id)
	assert.Assert(t, ok)
	assert.Check(t, !p.Running)
	assert.Check(t, is.Equal(p.Code, 137))
}

// TestSlowAttacher: a client that does not read is dropped; the
// container and the log go on.
func TestSlowAttacher(t *testing.T) {
	e := newEnv(t)
	id := "chatty"
	logPath := filepath.Join(t.TempDir(), "log.json")
	e.create(monitor.Config{ID: id, LogPath: logPath}, "i=0; while [ $i -lt 20000 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done")
	block := make(chan struct{})
	wait := e.attach(id, monitor.Streams{Stdout: blockingWriter(block)})
	assert.NilError(t, e.rt.Start(id))
	assert.Check(t, is.Equal(e.waitExit(id).Code, 0))
	close(block)
	assert.Check(t, is.ErrorContains(wait(), "dropped"))
	lines := readLog(t, logPath)
	assert.Check(t, is.Len(lines, 20000))
}

type blockingWriter chan struct{}

func (b blockingWriter) Write(p []byte) (int, error) {
	<-b
	return len(p), nil
}
