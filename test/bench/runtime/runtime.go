// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// runtimeCmd drives one runc-compatible runtime binary.
type runtimeCmd struct {
	name    string
	path    string
	root    string // --root: the runtime's state directory
	bundle  string
	log     *os.File          // the last command's standard error, opened O_APPEND
	err     error             // first failure; the runtime is then skipped
	results [][]time.Duration // per workload
}

// cmd runs one runtime command and returns its standard output. Its
// standard error goes to a file, not a pipe: create hands its stdio to the
// container's init, and a pipe would keep exec.Cmd waiting for the
// container to exit.
func (rt *runtimeCmd) cmd(args ...string) ([]byte, error) {
	if err := rt.log.Truncate(0); err != nil {
		return nil, err
	}
	c := exec.Command(rt.path, append([]string{"--root", rt.root}, args...)...)
	c.Stderr = rt.log
	var stdout bytes.Buffer
	if args[0] == "create" || args[0] == "run" {
		c.Stdout = rt.log
	} else {
		c.Stdout = &stdout
	}
	if err := c.Run(); err != nil {
		msg, _ := os.ReadFile(rt.log.Name())
		return nil, fmt.Errorf("%s %s: %w: %s", rt.name, strings.Join(args, " "), err, bytes.TrimSpace(msg))
	}
	return stdout.Bytes(), nil
}

// status returns the container's status from `state`.
func (rt *runtimeCmd) status(id string) (string, error) {
	out, err := rt.cmd("state", id)
	if err != nil {
		return "", err
	}
	var st struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(out, &st); err != nil || st.Status == "" {
		return "", fmt.Errorf("%s state %s: unreadable output %q", rt.name, id, out)
	}
	return st.Status, nil
}

// median is the median time of workload w, or 0 when it has no results.
func (rt *runtimeCmd) median(w int) time.Duration {
	if rt.err != nil || len(rt.results[w]) == 0 {
		return 0
	}
	d := slices.Clone(rt.results[w])
	slices.Sort(d)
	return d[len(d)/2]
}

// cleanup force-deletes every container the benchmark may have left in
// the runtime's root after a failure.
func (rt *runtimeCmd) cleanup() {
	if rt.path == "" {
		return
	}
	entries, _ := os.ReadDir(rt.root)
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), "bench-") {
			exec.Command(rt.path, "--root", rt.root, "delete", "--force", e.Name()).Run()
		}
	}
}
