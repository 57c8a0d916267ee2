// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package cli_test runs berth's CLI against a running daemon and, when a
// docker CLI is available, checks that berth prints what docker prints
// for the same daemon state: the same test proves parity with Docker and,
// pointed at berth's daemon, that the CLI and daemon work together.
//
// Environment:
//
//	BERTH_TEST_SOCKET  daemon address (unix:///path/to.sock); without it the tests start
//	                   a berth daemon of their own (with its own roots and socket)
//	BERTH_TEST_TARGET  berth|docker: which daemon serves that socket (default berth)
//	BERTH_TEST_DOCKER  docker CLI for the output comparisons (default "docker" from $PATH;
//	                   "none" disables them)
//
// Containers use --network none only, so a daemon without a bridge works.
// Everything a test creates carries the prefix "berthclitest" and is
// removed at the end.
package cli_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testutil"
)

const (
	prefix = "berthclitest"
	image  = prefix + "/busybox:latest"
)

var (
	socket    string // daemon address
	target    string // berth or docker
	berthBin  string
	dockerBin string // reference CLI, "" when none
	setupErr  error
)

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	socket = os.Getenv("BERTH_TEST_SOCKET")
	target = os.Getenv("BERTH_TEST_TARGET")
	if target == "" {
		target = "berth"
	}
	if socket == "" && os.Geteuid() != 0 {
		return m.Run() // every test skips, saying why
	}
	bin, remove, err := testutil.BuildBerth("../../cmd/berth")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer remove()
	berthBin = bin
	if socket == "" {
		d, err := testutil.NewDaemon(bin)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer d.Cleanup()
		if err := d.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		socket, target = d.Host, "berth"
	}
	dockerBin = os.Getenv("BERTH_TEST_DOCKER")
	if dockerBin == "" {
		dockerBin = "docker"
	}
	if dockerBin == "none" {
		dockerBin = ""
	} else if p, err := exec.LookPath(dockerBin); err == nil {
		dockerBin = p
	} else {
		dockerBin = ""
	}
	setupErr = importBusybox()
	defer cleanup()
	return m.Run()
}

// requireDaemon skips the test when no daemon was given.
func requireDaemon(t *testing.T) {
	t.Helper()
	if socket == "" {
		t.Skip("not root and BERTH_TEST_SOCKET is not set: point it at a running berth daemon or dockerd (unix:///path/to.sock), or run as root to start one")
	}
	if setupErr != nil {
		t.Fatalf("setup: %v", setupErr)
	}
}

// requireDocker skips a comparison when there is no docker CLI.
func requireDocker(t *testing.T) {
	t.Helper()
	requireDaemon(t)
	if dockerBin == "" {
		t.Skip("no docker CLI (BERTH_TEST_DOCKER): output comparisons skipped")
	}
}

// result is what one CLI invocation did.
type result struct {
	stdout, stderr string
	code           int
}

func run(bin string, stdin string, args ...string) result {
	cmd := exec.Command(bin, append([]string{"-H", socket}, args...)...)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+filepath.Join(os.TempDir(), prefix+"-config"))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
		errb.WriteString(err.Error())
	}
	return result{out.String(), errb.String(), code}
}

// berth runs the berth CLI.
func berth(args ...string) result { return run(berthBin, "", args...) }

// mustBerth runs the berth CLI and fails the test unless it succeeds.
func mustBerth(t *testing.T, args ...string) string {
	t.Helper()
	r := berth(args...)
	if r.code != 0 {
		t.Fatalf("berth %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// sameAsDocker runs args with both CLIs and fails unless stdout and the
// exit status are equal. Outputs with relative times may straddle a
// second, so a difference is retried a few times.
func sameAsDocker(t *testing.T, args ...string) result {
	t.Helper()
	requireDocker(t)
	var b, d result
	for i := 0; i < 4; i++ {
		b, d = berth(args...), run(dockerBin, "", args...)
		if b.stdout == d.stdout && b.code == d.code {
			return b
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Errorf("%s: berth and docker differ\n--- berth (exit %d):\n%s%s--- docker (exit %d):\n%s%s",
		strings.Join(args, " "), b.code, b.stdout, b.stderr, d.code, d.stdout, d.stderr)
	return b
}

// importBusybox makes the test image from a busybox root filesystem with
// "berth import".
func importBusybox() error {
	dir, err := os.MkdirTemp("", prefix+"-rootfs-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := testutil.WriteBusyboxRootfs(dir); err != nil {
		return err
	}
	tarball := filepath.Join(os.TempDir(), fmt.Sprintf("%s-%d.tar", prefix, os.Getpid()))
	defer os.Remove(tarball)
	if out, err := exec.Command("tar", "-C", dir, "-cf", tarball, ".").CombinedOutput(); err != nil {
		return fmt.Errorf("tar: %v: %s", err, out)
	}
	if r := berth("import", tarball, image); r.code != 0 {
		return fmt.Errorf("berth import: exit %d: %s", r.code, r.stderr)
	}
	return nil
}

// cleanup removes every container and image of the tests.
func cleanup() {
	ids := strings.Fields(berth("ps", "-aq", "--filter", "name="+prefix).stdout)
	if len(ids) > 0 {
		berth(append([]string{"rm", "-f"}, ids...)...)
	}
	for _, ref := range strings.Fields(berth("images", "--format", "{{.Repository}}:{{.Tag}}", prefix+"/*").stdout) {
		berth("rmi", "-f", ref)
	}
	os.RemoveAll(filepath.Join(os.TempDir(), prefix+"-config"))
}

// name returns a container name unique to the test.
func name(t *testing.T, suffix string) string {
	n := strings.NewReplacer("/", "_", " ", "_").Replace(prefix + "_" + t.Name() + "_" + suffix)
	t.Cleanup(func() { berth("rm", "-f", n) })
	return n
}
