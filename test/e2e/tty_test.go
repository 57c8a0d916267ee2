// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package e2e

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/console"
	"gotest.tools/v3/assert"

	"github.com/berth-project/berth/internal/testutil"
)

// term is a docker command running under a pseudo-terminal, as a user at a
// terminal runs it.
type term struct {
	t      *testing.T
	master console.Console
	mu     sync.Mutex
	out    bytes.Buffer
	done   chan struct{}
	code   int
}

func startTerm(t *testing.T, args ...string) *term {
	t.Helper()
	master, slavePath, err := console.NewPty()
	assert.NilError(t, err)
	master.Resize(console.WinSize{Height: 30, Width: 100})
	slave, err := os.OpenFile(slavePath, os.O_RDWR, 0)
	assert.NilError(t, err)
	cmd := dockerCmd(shared, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	assert.NilError(t, cmd.Start())
	slave.Close()
	tm := &term{t: t, master: master, done: make(chan struct{})}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			tm.mu.Lock()
			tm.out.Write(buf[:n])
			tm.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	go func() {
		cmd.Wait()
		tm.code = cmd.ProcessState.ExitCode()
		close(tm.done)
	}()
	t.Cleanup(func() {
		select {
		case <-tm.done:
		default:
			cmd.Process.Kill()
			<-tm.done
		}
		master.Close()
	})
	return tm
}

func (tm *term) output() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.out.String()
}

func (tm *term) send(s string) {
	_, err := tm.master.Write([]byte(s))
	assert.NilError(tm.t, err)
}

// expect waits until the output contains s.
func (tm *term) expect(s string) {
	tm.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(tm.output(), s) {
		if time.Now().After(deadline) {
			tm.t.Fatalf("terminal never showed %q; it shows %q", s, tm.output())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (tm *term) wait() int {
	tm.t.Helper()
	select {
	case <-tm.done:
		return tm.code
	case <-time.After(20 * time.Second):
		tm.t.Fatalf("docker did not exit; terminal shows %q", tm.output())
		return 0
	}
}

func TestRunInteractive(t *testing.T) {
	testutil.RequiresRoot(t)
	tm := startTerm(t, "run", "-it", "--rm", "busybox", "sh")
	tm.expect("# ")
	tm.send("stty size; tty\r")
	tm.expect("30 100")
	tm.expect("/dev/pts/0")
	tm.master.Resize(console.WinSize{Height: 40, Width: 120})
	time.Sleep(200 * time.Millisecond)
	tm.send("stty size\r")
	tm.expect("40 120")
	tm.send("exit 5\r")
	assert.Equal(t, tm.wait(), 5)
}

func TestDetachAndAttach(t *testing.T) {
	testutil.RequiresRoot(t)
	tm := startTerm(t, "run", "-it", "--name", "detach", "busybox", "sh")
	rmOnCleanup(t, "detach")
	tm.expect("# ")
	tm.send("\x10\x11") // ctrl-p ctrl-q
	assert.Equal(t, tm.wait(), 0)
	assert.Equal(t, ok(t, "inspect", "-f", "{{.State.Running}}", "detach"), "true")
	tm2 := startTerm(t, "attach", "detach")
	tm2.send("echo back\r")
	tm2.expect("back")
	tm2.send("exit 2\r")
	assert.Equal(t, tm2.wait(), 2)
}

func TestExecInteractive(t *testing.T) {
	testutil.RequiresRoot(t)
	ok(t, "run", "-d", "--name", "execit", "busybox", "sleep", "100")
	rmOnCleanup(t, "execit")
	tm := startTerm(t, "exec", "-it", "execit", "sh")
	tm.expect("# ")
	tm.send("tty; exit 6\r")
	tm.expect("/dev/pts/")
	assert.Equal(t, tm.wait(), 6)
}
