// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Command demo is `make demo`: with bin/berth built, it starts the berth
// daemon on its default socket (unless one already answers there), makes
// the local busybox image (hack/mkbusybox.sh, then `berth import`) if the
// daemon lacks it, and runs a container with `berth run --rm`, checking
// what it printed. The daemon is left running, so `bin/berth ps`, `run`
// and the docker CLI (DOCKER_HOST=unix:///run/berth/berth.sock) work at
// once; the demo prints how to stop it. Run it as root from the
// repository root.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	berth := flag.String("berth", "bin/berth", "the berth binary")
	sock := flag.String("socket", "/run/berth/berth.sock", "the daemon's socket")
	flag.Parse()
	if err := demo(*berth, *sock); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func demo(berth, sock string) error {
	berth, err := filepath.Abs(berth)
	if err != nil {
		return err
	}
	host := "unix://" + sock
	if !answers(sock) {
		if err := startDaemon(berth, host, sock); err != nil {
			return err
		}
	} else {
		fmt.Printf("a berth daemon already answers on %s\n", host)
	}
	run := func(stdout io.Writer, args ...string) error {
		fmt.Printf("$ berth %s\n", strings.Join(args, " "))
		cmd := exec.Command(berth, append([]string{"-H", host}, args...)...)
		cmd.Stdout, cmd.Stderr = stdout, os.Stderr
		return cmd.Run()
	}
	probe := exec.Command(berth, "-H", host, "image", "inspect", "busybox")
	if err := probe.Run(); err != nil {
		if err := importBusybox(run); err != nil {
			return err
		}
	}
	var out bytes.Buffer
	if err := run(io.MultiWriter(os.Stdout, &out), "run", "--rm", "--hostname", "demo", "busybox",
		"sh", "-c", `echo hello from berth; echo "hostname: $(hostname)"`); err != nil {
		return fmt.Errorf("berth run: %w", err)
	}
	if want := "hello from berth\nhostname: demo\n"; out.String() != want {
		return fmt.Errorf("the container printed %q, want %q", out.String(), want)
	}
	fmt.Printf("\nthe daemon keeps running: try `bin/berth run -it --rm busybox sh`, or the docker CLI with\nDOCKER_HOST=%s; stop it with `kill $(cat /run/berth/berth.pid)`\n", host)
	return nil
}

// answers reports whether a daemon accepts connections on sock.
func answers(sock string) bool {
	c, err := net.Dial("unix", sock)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// startDaemon starts `berth daemon` in its own session with its log in
// /run/berth/daemon.log, and waits until it answers.
func startDaemon(berth, host, sock string) error {
	if err := os.MkdirAll("/run/berth", 0o711); err != nil {
		return err
	}
	logPath := "/run/berth/daemon.log"
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	fmt.Printf("$ berth daemon -H %s &    # log: %s\n", host, logPath)
	cmd := exec.Command(berth, "daemon", "-H", host)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = detached()
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		select {
		case err := <-exited:
			b, _ := os.ReadFile(logPath)
			return fmt.Errorf("berth daemon exited (%v):\n%s", err, b)
		default:
		}
		if answers(sock) {
			return nil
		}
	}
	return errors.New("berth daemon did not answer within 30 s; see " + logPath)
}

// importBusybox makes a busybox root filesystem from Debian's
// busybox-static and imports it as busybox:latest.
func importBusybox(run func(io.Writer, ...string) error) error {
	tmp, err := os.MkdirTemp("", "berth-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	rootfs := filepath.Join(tmp, "rootfs")
	mk := exec.Command("bash", "hack/mkbusybox.sh", rootfs)
	mk.Stdout, mk.Stderr = os.Stdout, os.Stderr
	if err := mk.Run(); err != nil {
		return fmt.Errorf("hack/mkbusybox.sh: %w", err)
	}
	tarball := filepath.Join(tmp, "busybox.tar")
	if out, err := exec.Command("tar", "-C", rootfs, "-cf", tarball, ".").CombinedOutput(); err != nil {
		return fmt.Errorf("tar: %v: %s", err, out)
	}
	return run(os.Stdout, "import", tarball, "busybox:latest")
}
