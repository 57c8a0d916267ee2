// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package e2e drives the stock docker CLI (28.x, on PATH) against a berth
// daemon that the test starts with its own data root, exec root, socket
// and cgroup parent, and checks output and exit codes as a user sees them.
package e2e

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"

	"github.com/berth-project/berth/internal/testutil"
)

var (
	berthBin string
	// busyboxTar is a busybox root filesystem as a tar, for `docker import`.
	busyboxTar string
	// shared is the daemon most tests share; tests that kill or restart a
	// daemon start their own.
	shared *testutil.Daemon
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Println("e2e: not root; these tests need root (they run containers)")
		return m.Run()
	}
	if _, err := exec.LookPath("docker"); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: the docker CLI is not on PATH")
		return 1
	}
	bin, remove, err := testutil.BuildBerth("../../cmd/berth")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer remove()
	berthBin = bin
	dir, err := os.MkdirTemp("", "berth-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	busyboxTar = filepath.Join(dir, "busybox.tar")
	if err := makeBusyboxTar(filepath.Join(dir, "rootfs"), busyboxTar); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	shared, err = testutil.NewDaemon(bin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer shared.Cleanup()
	if err := shared.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if out, err := dockerCmd(shared, "import", busyboxTar, "busybox:latest").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "import busybox: %v: %s\n%s", err, out, shared.Log())
		return 1
	}
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "--- shared daemon log (tail) ---\n%s\n", tail(shared.Log(), 60))
	}
	return code
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// makeBusyboxTar writes a busybox root filesystem (testutil.BusyboxRootfs)
// as a tar.
func makeBusyboxTar(rootfs, out string) error {
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return err
	}
	t := &fakeTB{}
	testutil.BusyboxRootfs(t, rootfs)
	if t.err != nil {
		return t.err
	}
	cmd := exec.Command("tar", "-C", rootfs, "-cf", out, ".")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("tar: %v: %s", err, b)
	}
	return nil
}

// fakeTB lets TestMain call helpers written for tests.
type fakeTB struct {
	testing.TB
	err error
}

func (f *fakeTB) Helper()                           {}
func (f *fakeTB) Fatal(args ...any)                 { f.err = fmt.Errorf("%s", fmt.Sprint(args...)); panic(f.err) }
func (f *fakeTB) Fatalf(format string, args ...any) { f.Fatal(fmt.Sprintf(format, args...)) }
func (f *fakeTB) Skip(args ...any)                  { f.Fatal(args...) }
func (f *fakeTB) Skipf(format string, args ...any)  { f.Fatal(fmt.Sprintf(format, args...)) }
func (f *fakeTB) Cleanup(func())                    {}
func (f *fakeTB) TempDir() string                   { d, _ := os.MkdirTemp("", "berth-e2e-"); return d }

func dockerCmd(d *testutil.Daemon, args ...string) *exec.Cmd {
	cmd := exec.Command("docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+d.Host, "DOCKER_CONFIG="+filepath.Join(d.Dir, "docker-config"), "DOCKER_CLI_HINTS=false")
	return cmd
}

// result is what a docker command did.
type result struct {
	Stdout, Stderr string
	Code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout: %q\nstderr: %q", r.Code, r.Stdout, r.Stderr)
}

// docker runs the docker CLI against d, with stdin from in (nil: none),
// and gives up after a minute.
func dockerIn(t *testing.T, d *testutil.Daemon, in io.Reader, args ...string) result {
	t.Helper()
	cmd := dockerCmd(d, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.Stdin = &stdout, &stderr, in
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("docker %s: timed out\nstdout: %s\nstderr: %s", strings.Join(args, " "), stdout.String(), stderr.String())
	}
	return result{Stdout: stdout.String(), Stderr: stderr.String(), Code: cmd.ProcessState.ExitCode()}
}

func docker(t *testing.T, args ...string) result {
	t.Helper()
	return dockerIn(t, shared, nil, args...)
}

// ok runs a command that must succeed and returns its trimmed stdout.
func ok(t *testing.T, args ...string) string {
	t.Helper()
	r := docker(t, args...)
	assert.Equal(t, r.Code, 0, "docker %s\n%s", strings.Join(args, " "), r)
	return strings.TrimSpace(r.Stdout)
}

// okOn is ok against another daemon.
func okOn(t *testing.T, d *testutil.Daemon, args ...string) string {
	t.Helper()
	r := dockerIn(t, d, nil, args...)
	assert.Equal(t, r.Code, 0, "docker %s\n%s", strings.Join(args, " "), r)
	return strings.TrimSpace(r.Stdout)
}

// fails runs a command that must fail with code and print want on stderr.
func fails(t *testing.T, code int, want string, args ...string) {
	t.Helper()
	r := docker(t, args...)
	assert.Equal(t, r.Code, code, "docker %s\n%s", strings.Join(args, " "), r)
	assert.Assert(t, strings.Contains(r.Stderr, want), "docker %s: stderr %q lacks %q", strings.Join(args, " "), r.Stderr, want)
}

// rmOnCleanup removes containers when the test ends.
func rmOnCleanup(t *testing.T, names ...string) {
	t.Cleanup(func() {
		dockerIn(t, shared, nil, append([]string{"rm", "-f"}, names...)...)
	})
}

// eventually polls fn until it returns true or 20 s pass.
func eventually(t *testing.T, what string, fn func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !fn() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tarEntries lists the names in a tar.
func tarEntries(t *testing.T, b []byte) []string {
	t.Helper()
	var names []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		assert.NilError(t, err)
		names = append(names, h.Name)
	}
}
