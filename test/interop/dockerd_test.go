// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package interop_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testutil"
)

// dockerCLI is Debian's docker.io client, the same release as its dockerd
// (another docker earlier in $PATH may be a different one).
const dockerCLI = "/usr/bin/docker"

// dockerd is a private Docker daemon started for one test.
type dockerd struct {
	t   *testing.T
	dir string // data root, exec root, socket, logs: everything it owns
	env []string
}

// startDockerd starts a private dockerd the way test/dropin/docker.sh
// does: its own data root, exec root, socket, pidfile, containerd (started
// by dockerd under the exec root) and containerd namespaces, a cgroup
// parent of its own, no iptables rules, no forwarding and no default
// bridge at all (--bridge none), so its containers get --network none and
// nothing leaves the machine. The host's /etc/docker/daemon.json is never
// read, and a host dockerd or containerd is left alone. When the test ends
// it removes every container, stops dockerd and whatever it started by
// PID, unmounts what it mounted and deletes its directory.
func startDockerd(t *testing.T) *dockerd {
	t.Helper()
	for _, bin := range []string{"dockerd", dockerCLI} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s not found: install Debian's docker.io (test/dropin/docker.sh does)", bin)
		}
	}
	// A short directory: socket paths (containerd's live under the exec
	// root) may not exceed 107 bytes.
	dir, err := os.MkdirTemp("", "berth-interop.")
	if err != nil {
		t.Fatal(err)
	}
	d := &dockerd{t: t, dir: dir}
	d.env = append(os.Environ(), "DOCKER_HOST=unix://"+filepath.Join(dir, "docker.sock"),
		"DOCKER_CONFIG="+filepath.Join(dir, "cli"))
	cgroup := fmt.Sprintf("berthit%d", os.Getpid())
	// dockerd 20.10 writes its trust key to /etc/docker/key.json whatever
	// its other paths are.
	_, keyErr := os.Stat("/etc/docker/key.json")
	_, runErr := os.Stat("/run/containerd")

	if err := os.WriteFile(filepath.Join(dir, "daemon.json"), []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("dockerd",
		"--config-file", filepath.Join(dir, "daemon.json"),
		"--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "dockerd.pid"),
		"-H", "unix://"+filepath.Join(dir, "docker.sock"),
		"--containerd-namespace", "berthit",
		"--containerd-plugins-namespace", "berthit-plugins",
		"--cgroup-parent", "/"+cgroup,
		"--bridge", "none",
		"--iptables=false", "--ip6tables=false", "--ip-masq=false", "--ip-forward=false",
		"--userland-proxy=false")
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group: a ^C to the test reaches the test, which
	// cleans up, and not dockerd first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start dockerd: %v", err)
	}
	logf.Close()
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()

	t.Cleanup(func() {
		if out, err := d.try("ps", "-aq"); err == nil && strings.TrimSpace(out) != "" {
			d.try(append([]string{"rm", "-f"}, strings.Fields(out)...)...)
		}
		testutil.StopProcess(cmd.Process.Pid, exited)
		// dockerd stops the containerd it started, but not when it was
		// killed, and a shim may stay behind: all of them name dir on
		// their command line.
		for _, pid := range testutil.OwnPids(dir) {
			testutil.StopProcess(pid, nil)
		}
		testutil.KillCgroup(cgroup)
		testutil.UnmountUnder(dir)
		time.Sleep(200 * time.Millisecond) // let killed processes leave their cgroups
		testutil.RemoveCgroup(cgroup)
		if t.Failed() {
			if log, err := os.ReadFile(filepath.Join(dir, "dockerd.log")); err == nil {
				t.Logf("dockerd.log (tail):\n%s", tail(string(log), 30))
			}
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove %s: %v", dir, err)
		}
		if os.IsNotExist(keyErr) {
			os.Remove("/etc/docker/key.json")
		}
		if os.IsNotExist(runErr) {
			os.Remove("/run/containerd/s")
			os.Remove("/run/containerd")
		}
	})

	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := d.try("version"); err == nil {
			break
		}
		select {
		case <-exited:
			t.Fatalf("dockerd exited at start; see the log below")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("dockerd did not answer within 60s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	v, _ := d.try("version", "-f", "{{.Server.Version}}")
	t.Logf("private dockerd %s in %s", strings.TrimSpace(v), dir)
	return d
}

// try runs the docker CLI against this daemon and returns its stdout.
func (d *dockerd) try(args ...string) (string, error) {
	return d.tryIn(nil, args...)
}

func (d *dockerd) tryIn(stdin *os.File, args ...string) (string, error) {
	return d.tryWith(stdin, nil, args...)
}

// tryEnv is try with more environment variables.
func (d *dockerd) tryEnv(env []string, args ...string) (string, error) {
	return d.tryWith(nil, env, args...)
}

func (d *dockerd) tryWith(stdin *os.File, env []string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, dockerCLI, args...)
	cmd.Env = append(append([]string{}, d.env...), env...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// run runs the docker CLI and fails the test if it fails.
func (d *dockerd) run(args ...string) string {
	d.t.Helper()
	out, err := d.try(args...)
	if err != nil {
		d.t.Fatal(err)
	}
	return out
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
