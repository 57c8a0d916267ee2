// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package e2e

import (
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"gotest.tools/v3/assert"

	"github.com/berth-project/berth/internal/testutil"
)

// ownDaemon starts a daemon of the test's own, with busybox imported.
func ownDaemon(t *testing.T) *testutil.Daemon {
	t.Helper()
	d := testutil.StartDaemon(t, berthBin)
	okOn(t, d, "import", busyboxTar, "busybox:latest")
	return d
}

func restart(t *testing.T, d *testutil.Daemon) {
	t.Helper()
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
}

// TestLiveRestore kills the daemon with SIGKILL while containers run, with
// and without a TTY, and checks that the restarted daemon has them all.
func TestLiveRestore(t *testing.T) {
	testutil.RequiresRoot(t)
	d := ownDaemon(t)
	okOn(t, d, "run", "-d", "--name", "plain", "-i", "busybox", "sh", "-c", `echo before; while read l; do echo got $l; [ "$l" = quit ] && exit 0; done`)
	okOn(t, d, "run", "-d", "-t", "-i", "--name", "tty", "busybox", "sh")
	r := dockerIn(t, d, nil, "run", "--name", "done", "busybox", "sh", "-c", "echo bye; exit 3")
	assert.Equal(t, r.Code, 3, r.String())
	okOn(t, d, "run", "-d", "--name", "later", "busybox", "sh", "-c", "sleep 1; echo late; exit 4")
	eventually(t, "first log line", func() bool { return dockerIn(t, d, nil, "logs", "plain").Stdout == "before\n" })

	d.Kill()
	time.Sleep(1500 * time.Millisecond) // "later" exits while the daemon is away
	restart(t, d)

	assert.Equal(t, okOn(t, d, "inspect", "-f", "{{.State.Status}}", "plain"), "running")
	assert.Equal(t, okOn(t, d, "inspect", "-f", "{{.State.Status}}", "tty"), "running")
	assert.Equal(t, okOn(t, d, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "done"), "exited 3")
	assert.Equal(t, okOn(t, d, "logs", "done"), "bye")
	assert.Equal(t, okOn(t, d, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "later"), "exited 4")
	assert.Equal(t, okOn(t, d, "logs", "later"), "late")
	assert.Equal(t, okOn(t, d, "logs", "plain"), "before")
	assert.Equal(t, okOn(t, d, "exec", "plain", "echo", "exec"), "exec")
	assert.Equal(t, okOn(t, d, "exec", "tty", "echo", "exec"), "exec")
	// attach still reaches the container's stdin and output
	r = dockerIn(t, d, strings.NewReader("x\nquit\n"), "attach", "plain")
	assert.Equal(t, r.Stdout, "got x\ngot quit\n", r.String())
	assert.Equal(t, okOn(t, d, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "plain"), "exited 0")
	okOn(t, d, "stop", "-t", "1", "tty")
	assert.Equal(t, okOn(t, d, "inspect", "-f", "{{.State.Status}}", "tty"), "exited")
	okOn(t, d, "rm", "plain", "tty", "done", "later")
}

// TestCrashDuringLifecycle kills the daemon at random moments while
// containers are created, started and removed, then checks that the
// restarted daemon lists and removes everything and leaves no mount,
// cgroup or state behind.
func TestCrashDuringLifecycle(t *testing.T) {
	testutil.RequiresRoot(t)
	d := ownDaemon(t)
	for round := range 4 {
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for w := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					name := "c" + string(rune('a'+w)) + strings.Repeat("x", i%3) + string(rune('0'+round))
					dockerCmd(d, "run", "-d", "--name", name, "busybox", "sleep", "60").Run()
					dockerCmd(d, "rm", "-f", name).Run()
				}
			}()
		}
		time.Sleep(time.Duration(200+rand.IntN(400)) * time.Millisecond)
		d.Kill()
		close(stop)
		wg.Wait()
		restart(t, d)
		assert.Equal(t, dockerIn(t, d, nil, "ps", "-a").Code, 0)
	}
	if ids := okOn(t, d, "ps", "-aq"); ids != "" {
		okOn(t, d, append([]string{"rm", "-f"}, strings.Fields(ids)...)...)
	}
	assert.Equal(t, okOn(t, d, "ps", "-aq"), "")
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	assert.Assert(t, !strings.Contains(string(mounts), d.ExecRoot+"/containers/"), "a container mount is left")
	for _, dir := range testutil.CgroupDirs(d.CgroupParent) {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			assert.Assert(t, !e.IsDir(), "cgroup %s/%s is left; the daemon said of it:\n%s", dir, e.Name(), linesWith(d.Log(), e.Name()))
		}
	}
	for _, sub := range []string{"/runtime", "/containers"} {
		entries, _ := os.ReadDir(d.ExecRoot + sub)
		assert.Equal(t, len(entries), 0, "%s%s is not empty", d.ExecRoot, sub)
	}
	entries, _ := os.ReadDir(d.DataRoot + "/containers")
	assert.Equal(t, len(entries), 0)
}

func linesWith(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
