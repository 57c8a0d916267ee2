// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Command demo runs a busybox container with berth's runtime: it makes a
// bundle with hack/mkbusybox.sh and runtime.DefaultSpec, runs
// `bin/berth runtime run` on it, and checks what the container printed.
// Run it as root from the repository root (make demo).
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/berth-project/berth/internal/runtime"
)

func main() {
	rt := flag.String("runtime", "bin/berth runtime", "runc-compatible runtime command")
	flag.Parse()
	if err := demo(strings.Fields(*rt)); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func demo(rt []string) error {
	tmp, err := os.MkdirTemp("", "berth-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bundle := filepath.Join(tmp, "bundle")
	mk := exec.Command("bash", "hack/mkbusybox.sh", filepath.Join(bundle, "rootfs"))
	mk.Stdout, mk.Stderr = os.Stdout, os.Stderr
	if err := mk.Run(); err != nil {
		return fmt.Errorf("hack/mkbusybox.sh: %w", err)
	}

	spec := runtime.DefaultSpec()
	spec.Process.Terminal = false
	spec.Process.Args = []string{"sh", "-c", `echo hello from berth; echo "hostname: $(hostname)"`}
	// The container's cgroup goes under a parent of the demo's own, which
	// it removes (in every hierarchy) when the container is gone.
	parent := fmt.Sprintf("berth-demo-%d", os.Getpid())
	spec.Linux.CgroupsPath = "/" + parent + "/c"
	defer func() {
		dirs, _ := filepath.Glob("/sys/fs/cgroup/*/" + parent)
		more, _ := filepath.Glob("/sys/fs/cgroup/" + parent)
		for _, d := range append(dirs, more...) {
			os.Remove(d)
		}
	}()
	data, err := json.MarshalIndent(spec, "", "\t")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o644); err != nil {
		return err
	}

	id := fmt.Sprintf("berth-demo-%d", os.Getpid())
	args := append(rt[1:], "--root", filepath.Join(tmp, "state"), "run", "--bundle", bundle, id)
	fmt.Printf("$ %s %s\n", rt[0], strings.Join(args, " "))
	var out bytes.Buffer
	cmd := exec.Command(rt[0], args...)
	cmd.Stdout = io.MultiWriter(os.Stdout, &out)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s run: %w", rt[0], err)
	}
	if want := "hello from berth\nhostname: berth\n"; out.String() != want {
		return fmt.Errorf("the container printed %q, want %q", out.String(), want)
	}
	return nil
}
