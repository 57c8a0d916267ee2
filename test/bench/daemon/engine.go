// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/berth-project/berth/internal/testutil"
)

const imageRef = "busybox:latest"

// engine is one daemon under test and a Go SDK client for the untimed
// preparation (and the API rows).
type engine struct {
	name string
	api  *client.Client
	// forceNone: the engine has no default network in this benchmark
	// (dockerd runs with --bridge none), so every run gets --network none.
	forceNone bool
	// pss sums the proportional set size, in bytes, of the engine's own
	// processes (not the containers').
	pss func() (int64, error)
}

// cli is one column of the table: a CLI binary talking to an engine.
type cli struct {
	label string
	bin   string
	pre   []string // arguments before the command, e.g. -H
	env   []string
	eng   *engine
	// notes collects what a successful command wrote to stderr.
	mu    sync.Mutex
	notes map[string]int
}

// cmd runs the CLI with args and returns how long it took.
func (c *cli) cmd(ctx context.Context, args ...string) (time.Duration, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, append(append([]string(nil), c.pre...), args...)...)
	cmd.Env = c.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return d, stdout.String(), fmt.Errorf("%s %s: %v: %s", filepath.Base(c.bin), strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	if s := strings.TrimSpace(stderr.String()); s != "" {
		c.mu.Lock()
		if c.notes == nil {
			c.notes = map[string]int{}
		}
		c.notes[args[0]+": "+firstLine(s)]++
		c.mu.Unlock()
	}
	return d, stdout.String(), nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

// runArgs is "run --rm [--network none] busybox CMD…" for this client.
func (c *cli) runArgs(none bool, cmd ...string) []string {
	args := []string{"run", "--rm"}
	if none || c.eng.forceNone {
		args = append(args, "--network", "none")
	}
	return append(append(args, imageRef), cmd...)
}

// hostConfig is the host config of containers made through the API.
func (e *engine) hostConfig() *container.HostConfig {
	if e.forceNone {
		return &container.HostConfig{NetworkMode: "none"}
	}
	return &container.HostConfig{}
}

// create makes a container running cmd through the API.
func (e *engine) create(ctx context.Context, cmd ...string) (string, error) {
	r, err := e.api.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config:     &container.Config{Image: imageRef, Cmd: cmd},
		HostConfig: e.hostConfig(),
	})
	if err != nil {
		return "", fmt.Errorf("%s: create: %w", e.name, err)
	}
	return r.ID, nil
}

// runDetached creates and starts a container running cmd.
func (e *engine) runDetached(ctx context.Context, cmd ...string) (string, error) {
	id, err := e.create(ctx, cmd...)
	if err != nil {
		return "", err
	}
	if _, err := e.api.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		e.remove(context.WithoutCancel(ctx), id)
		return "", fmt.Errorf("%s: start: %w", e.name, err)
	}
	return id, nil
}

func (e *engine) remove(ctx context.Context, id string) error {
	_, err := e.api.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true})
	if err != nil {
		return fmt.Errorf("%s: remove %.12s: %w", e.name, id, err)
	}
	return nil
}

// removeAll removes every container of the engine.
func (e *engine) removeAll(ctx context.Context) error {
	l, err := e.api.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		return fmt.Errorf("%s: list: %w", e.name, err)
	}
	ids := make([]string, len(l.Items))
	for i, c := range l.Items {
		ids[i] = c.ID
	}
	return parallel(ctx, len(ids), 8, func(i int) error { return e.remove(ctx, ids[i]) })
}

// parallel calls f(0) … f(n-1) on up to workers goroutines and returns
// the first error.
func parallel(ctx context.Context, n, workers int, f func(i int) error) error {
	var (
		mu    sync.Mutex
		next  int
		first error
		wg    sync.WaitGroup
	)
	for range min(workers, n) {
		wg.Go(func() {
			for {
				mu.Lock()
				i := next
				next++
				stop := first != nil || i >= n || ctx.Err() != nil
				mu.Unlock()
				if stop {
					return
				}
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// ---- berth ----

func newBerthEngine(d *testutil.Daemon) (*engine, error) {
	api, err := client.New(client.WithHost(d.Host), client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, err
	}
	return &engine{name: "berth", api: api, pss: func() (int64, error) {
		b, err := os.ReadFile(filepath.Join(d.Dir, "berth.pid"))
		if err != nil {
			return 0, fmt.Errorf("berth daemon pid: %w", err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			return 0, fmt.Errorf("berth daemon pid: %w", err)
		}
		mon := d.MonitorPid()
		if mon == 0 {
			return 0, fmt.Errorf("berth monitor is not running")
		}
		return pssOf(pid, mon)
	}}, nil
}

// ---- Docker ----

// dockerProcs are the programs of Docker's own processes.
var dockerProcs = map[string]bool{"dockerd": true, "containerd": true, "containerd-shim": true, "containerd-shim-runc-v2": true}

func newDockerEngine(d *testutil.Dockerd) (*engine, error) {
	api, err := client.New(client.WithHost(d.Host), client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, err
	}
	return &engine{name: "docker", api: api, forceNone: true, pss: func() (int64, error) {
		// dockerd, its containerd and every shim name the daemon's
		// directory on their command line.
		var pids []int
		for _, pid := range testutil.OwnPids(d.Dir) {
			comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			// comm is cut at 15 bytes: containerd-shim-runc-v2 reads containerd-shim.
			if name := strings.TrimSpace(string(comm)); dockerProcs[name] {
				pids = append(pids, pid)
			}
		}
		return pssOf(pids...)
	}}, nil
}

// ---- memory ----

// pssOf sums the Pss of the processes, in bytes.
func pssOf(pids ...int) (int64, error) {
	var total int64
	for _, pid := range pids {
		kb, err := field(fmt.Sprintf("/proc/%d/smaps_rollup", pid), "Pss:")
		if err != nil {
			return 0, err
		}
		total += kb * 1024
	}
	return total, nil
}

// hostMemory returns, in bytes, the host's used memory (MemTotal -
// MemAvailable), its Shmem and its kernel memory (Slab + PageTables +
// KernelStack).
func hostMemory() ([3]int64, error) {
	var m [3]int64
	var v = map[string]int64{}
	for _, name := range []string{"MemTotal:", "MemAvailable:", "Shmem:", "Slab:", "PageTables:", "KernelStack:"} {
		kb, err := field("/proc/meminfo", name)
		if err != nil {
			return m, err
		}
		v[name] = kb * 1024
	}
	m[0] = v["MemTotal:"] - v["MemAvailable:"]
	m[1] = v["Shmem:"]
	m[2] = v["Slab:"] + v["PageTables:"] + v["KernelStack:"]
	return m, nil
}

// field reads the number (kB) after name in a /proc file of "name value kB" lines.
func field(path, name string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, name); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("%s: no %s", path, name)
}
