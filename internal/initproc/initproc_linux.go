// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package initproc is the minimal init that `run --init` puts in front of
// a container's command (the job tini does for Docker): as PID 1 it starts
// the command, forwards every signal it receives to it, reaps the zombies
// that orphaned processes leave, and exits with the command's status.
//
// The daemon bind-mounts the berth binary read-only at /sbin/docker-init;
// berth runs this when it is started under that name.
package initproc

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// Main runs the init with args: ["--", command...] or [command...].
func Main(args []string) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "docker-init: no command given")
		return 1
	}
	// Not PID 1 (a shared PID namespace): orphans still come to us.
	unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// The command gets the terminal's foreground when there is one, as it
	// would as PID 1.
	// Without one it still gets a process group of its own, as tini
	// (Docker's init) gives it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if _, err := unix.IoctlGetTermios(0, unix.TCGETS); err == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Foreground: true, Ctty: 0}
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "docker-init: %v\n", err)
		if os.IsNotExist(err) || isNotFound(err) {
			return 127
		}
		return 126
	}
	child := cmd.Process.Pid
	for sig := range sigs {
		switch sig {
		case unix.SIGCHLD:
			// reap everything; the command's own exit ends the init
			for {
				var ws unix.WaitStatus
				pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
				if pid == child {
					if ws.Signaled() {
						return 128 + int(ws.Signal())
					}
					return ws.ExitStatus()
				}
			}
		case unix.SIGTTIN, unix.SIGTTOU, unix.SIGURG:
			// job control noise and the Go runtime's own preemption signal
		default:
			unix.Kill(child, sig.(syscall.Signal))
		}
	}
	return 0
}

func isNotFound(err error) bool {
	e, ok := err.(*exec.Error)
	return ok && e.Err == exec.ErrNotFound
}
