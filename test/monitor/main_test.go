// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package monitor_test runs real busybox containers with berth's runtime
// through the container monitor (`berth monitor`), as the daemon does:
// the runtime library runs in the test process, which is therefore also
// the binary the runtime re-executes as `berth init`.
package monitor_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/monitor"
	"github.com/berth-project/berth/internal/runtime"
	_ "github.com/berth-project/berth/internal/runtime/nsenter"
	"github.com/berth-project/berth/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"gotest.tools/v3/assert"
	"gotest.tools/v3/poll"
)

var (
	berthBin     string
	cgroupParent = fmt.Sprintf("/berth-monitor-test-%d", os.Getpid())
)

func TestMain(m *testing.M) {
	// The runtime executes this binary (sealed) as `berth init`.
	if len(os.Args) > 1 && os.Args[1] == "init" {
		runtime.InitMain()
	}
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if os.Geteuid() == 0 {
		bin, remove, err := testutil.BuildBerth("../../cmd/berth")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer remove()
		berthBin = bin
		defer func() {
			testutil.KillCgroup(cgroupParent)
			testutil.RemoveCgroup(cgroupParent)
		}()
	}
	return m.Run()
}

// env is one test's monitor, runtime root and client.
type env struct {
	t      testing.TB
	dir    string
	rt     *runtime.Runtime
	c      *monitor.Client
	monPid int
	n      int
}

func newEnv(t testing.TB) *env {
	t.Helper()
	testutil.RequiresRoot(t)
	testutil.RequiresBusybox(t)
	e := &env{t: t, dir: t.TempDir(), rt: runtime.New(t.TempDir(), nil)}
	// Cleanups run last-registered first: containers, then the monitor,
	// then the directories.
	t.Cleanup(e.stopMonitor)
	t.Cleanup(func() {
		sts, _ := e.rt.List()
		for _, st := range sts {
			e.rt.Delete(st.ID, true)
		}
	})
	e.connect()
	return e
}

// connect (re)connects to the monitor, starting it if needed.
func (e *env) connect() {
	e.t.Helper()
	if e.c != nil {
		e.c.Close()
	}
	c, err := monitor.Connect(context.Background(), e.dir, berthBin)
	assert.NilError(e.t, err)
	e.c = c
	data, err := os.ReadFile(filepath.Join(e.dir, "monitor.pid"))
	assert.NilError(e.t, err)
	e.monPid, err = strconv.Atoi(strings.TrimSpace(string(data)))
	assert.NilError(e.t, err)
}

// stopMonitor kills the monitor this test started and waits until it is
// gone (it is the host init's child).
func (e *env) stopMonitor() {
	if e.c != nil {
		e.c.Close()
	}
	if e.monPid == 0 {
		return
	}
	unix.Kill(e.monPid, unix.SIGKILL)
	for i := 0; i < 2000 && !e.released(); i++ {
		time.Sleep(5 * time.Millisecond)
	}
	e.monPid = 0
}

// released tells whether the monitor has let go of its lock, that is,
// has exited and closed its files (its zombie may linger: the host's init
// reaps it in its own time).
func (e *env) released() bool {
	f, err := os.Open(filepath.Join(e.dir, "monitor.pid"))
	if err != nil {
		return true
	}
	defer f.Close()
	return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil
}

// bundle makes a busybox bundle running `sh -c script` in the test's
// cgroup parent.
func (e *env) bundle(script string, tty bool) string {
	e.n++
	n := e.n
	return testutil.NewBundle(e.t, testutil.WithArgs("sh", "-c", script), func(s *specs.Spec) {
		s.Process.Terminal = tty
		s.Linux.CgroupsPath = fmt.Sprintf("%s/%s-%d", cgroupParent, strings.ReplaceAll(e.t.Name(), "/", "-"), n)
	})
}

// create creates a container through the monitor and watches it.
func (e *env) create(cfg monitor.Config, script string) int {
	e.t.Helper()
	opts := runtime.CreateOpts{ID: cfg.ID, Bundle: e.bundle(script, cfg.Tty), Launch: e.c.Launcher(cfg)}
	if cfg.Tty {
		opts.Console = e.c.Console(cfg.ID)
	}
	st, err := e.rt.Create(opts)
	assert.NilError(e.t, err)
	assert.NilError(e.t, e.c.Watch(cfg.ID, st.Pid))
	return st.Pid
}

// waitExit waits for id's exit event.
func (e *env) waitExit(id string) monitor.Exit {
	e.t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ex, ok := <-e.c.Exits():
			assert.Assert(e.t, ok, "monitor connection ended")
			if ex.ID == id {
				return ex
			}
		case <-timeout:
			e.t.Fatalf("no exit event for %s", id)
		}
	}
}

// find returns id's entry in List.
func (e *env) find(id string) (monitor.Process, bool) {
	e.t.Helper()
	procs, err := e.c.List()
	assert.NilError(e.t, err)
	for _, p := range procs {
		if p.ID == id {
			return p, true
		}
	}
	return monitor.Process{}, false
}

// attach attaches and returns once attached; wait returns Attach's
// result.
func (e *env) attach(id string, s monitor.Streams) (wait func() error) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	e.t.Cleanup(cancel)
	wait, err := e.c.AttachStart(ctx, id, s)
	assert.NilError(e.t, err)
	return wait
}

// syncBuffer is a bytes.Buffer safe for a writer and a poller.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

var _ = poll.WaitOn
