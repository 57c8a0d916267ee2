// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package testutil

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

const (
	// DockerdPath is where Debian's docker.io installs the daemon.
	DockerdPath = "/usr/sbin/dockerd"
	// DockerCLIPath is Debian's docker.io client, the release of its
	// dockerd (20.10).
	DockerCLIPath = "/usr/bin/docker"
)

// Dockerd is a private Docker daemon for benchmarks that compare berth
// with Docker: its own data root, exec root, socket, pidfile, containerd
// namespace and cgroup parent under a temporary directory, no bridge and
// no iptables rules. Stop removes everything it made.
type Dockerd struct {
	Dir string
	// Host is the DOCKER_HOST value for the daemon: "unix://<socket>".
	Host string
	// Env is the environment for a docker CLI talking to this daemon.
	Env []string
	// CgroupParent is the cgroup (a name at the top of the hierarchies)
	// the daemon puts its containers under.
	CgroupParent string

	cmd            *exec.Cmd
	exited         chan struct{}
	keyErr, runErr error
}

// StartDockerd starts a private dockerd and waits until it answers.
// extra arguments go last, so they override the defaults above (e.g.
// "--bridge", name of a bridge the caller made, "--userland-proxy=true").
func StartDockerd(ctx context.Context, extra ...string) (*Dockerd, error) {
	if _, err := os.Stat(DockerCLIPath); err != nil {
		return nil, fmt.Errorf("%s not found: %w", DockerCLIPath, err)
	}
	// A short directory: containerd's socket paths live under the exec
	// root and may not exceed 107 bytes.
	dir, err := os.MkdirTemp("", "berth-bench-dk.")
	if err != nil {
		return nil, err
	}
	d := &Dockerd{Dir: dir, CgroupParent: fmt.Sprintf("berthbench%d", os.Getpid())}
	d.Host = "unix://" + filepath.Join(dir, "docker.sock")
	d.Env = append(os.Environ(), "DOCKER_HOST="+d.Host, "DOCKER_CONFIG="+filepath.Join(dir, "cli"))
	// dockerd 20.10 writes /etc/docker/key.json whatever its other paths
	// are; remove what it adds.
	_, d.keyErr = os.Stat("/etc/docker/key.json")
	_, d.runErr = os.Stat("/run/containerd")
	if err := os.WriteFile(filepath.Join(dir, "daemon.json"), []byte("{}\n"), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	d.cmd = exec.Command(DockerdPath,
		"--config-file", filepath.Join(dir, "daemon.json"),
		"--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "dockerd.pid"),
		"-H", d.Host,
		"--containerd-namespace", "berthbench",
		"--containerd-plugins-namespace", "berthbench-plugins",
		"--cgroup-parent", "/"+d.CgroupParent,
		"--bridge", "none",
		"--iptables=false", "--ip6tables=false", "--ip-masq=false", "--ip-forward=false",
		"--userland-proxy=false")
	d.cmd.Args = append(d.cmd.Args, extra...)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	// Its own process group: a ^C reaches us, and we clean up.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		logf.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start dockerd: %w", err)
	}
	logf.Close()
	d.exited = make(chan struct{})
	go func() { d.cmd.Wait(); close(d.exited) }()

	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := d.Docker(ctx, "version"); err == nil {
			return d, nil
		}
		select {
		case <-d.exited:
			err = fmt.Errorf("dockerd exited at start: %s", d.LogTail(10))
		default:
			if ctx.Err() != nil {
				err = ctx.Err()
			} else if time.Now().After(deadline) {
				err = fmt.Errorf("dockerd did not answer within 60s: %s", d.LogTail(10))
			}
		}
		if err != nil {
			d.Stop()
			return nil, err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Pid returns the pid of dockerd.
func (d *Dockerd) Pid() int { return d.cmd.Process.Pid }

// LogTail returns the last n lines dockerd logged.
func (d *Dockerd) LogTail(n int) string {
	data, _ := os.ReadFile(filepath.Join(d.Dir, "dockerd.log"))
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Stop removes every container, stops dockerd and whatever it started
// by PID, unmounts what it mounted and removes its directory.
func (d *Dockerd) Stop() {
	ctx := context.Background()
	if out, err := d.Docker(ctx, "ps", "-aq"); err == nil && strings.TrimSpace(out) != "" {
		d.Docker(ctx, append([]string{"rm", "-f"}, strings.Fields(out)...)...)
	}
	StopProcess(d.cmd.Process.Pid, d.exited)
	// dockerd stops its containerd, but not when it was killed, and a shim
	// may stay behind: all of them name dir on their command line.
	for _, pid := range OwnPids(d.Dir) {
		StopProcess(pid, nil)
	}
	KillCgroup(d.CgroupParent)
	UnmountUnder(d.Dir)
	time.Sleep(200 * time.Millisecond) // let killed processes leave their cgroups
	RemoveCgroup(d.CgroupParent)
	os.RemoveAll(d.Dir)
	if os.IsNotExist(d.keyErr) {
		os.Remove("/etc/docker/key.json")
	}
	if os.IsNotExist(d.runErr) {
		os.Remove("/run/containerd/s")
		os.Remove("/run/containerd")
	}
}

// Docker runs Debian's docker CLI against this daemon and returns its
// stdout.
func (d *Dockerd) Docker(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, DockerCLIPath, args...)
	cmd.Env = d.Env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}
