// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package engine runs berth's modes other than the CLI, picked from the
// program name or the first argument before any flag is read:
//
//	berth runtime ...   the runc-compatible OCI runtime (also as "berth-runc")
//	berth init          a container's first process (started by the runtime)
//	berth daemon        the daemon serving the Docker Engine API
//	berth monitor       the monitor holding containers' stdio (started by the daemon)
//	docker-init         the minimal init of `run --init` (the engine's binary
//	                    bind-mounted into the container under that name)
//
// The engine binary (internal/engineexe) is this and nothing else; the
// berth that users run has the CLI and executes the engine binary for
// these modes (see cmd/berth).
package engine

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/berth-project/berth/internal/daemon"
	"github.com/berth-project/berth/internal/engine/mode"
	"github.com/berth-project/berth/internal/initproc"
	"github.com/berth-project/berth/internal/monitor"
	"github.com/berth-project/berth/internal/runtime"
	"github.com/berth-project/berth/internal/runtimecmd"
)

// Main runs the mode of args (a whole command line) and returns the exit
// status.
func Main(args []string) int {
	if !mode.IsEngine(args) {
		fmt.Fprintln(os.Stderr, "berth engine: run by berth only")
		return 2
	}
	if rargs, ok := mode.RuntimeArgs(args); ok {
		return runtimeMain(rargs)
	}
	if filepath.Base(args[0]) == "docker-init" {
		return initproc.Main(args[1:])
	}
	switch args[1] {
	case "init":
		runtime.InitMain() // does not return
	case "daemon":
		return daemon.Main(args[2:])
	}
	return monitor.Main(args[2:]) // the one mode IsEngine leaves

}

// runtimeMain is the runtime's command line in the engine itself.
// Normally the C constructor in internal/runtime/nsenter has already
// executed the small runtime binary instead, from the file the runtime
// writes to /run/berth; when the file was not there yet, this writes it
// for the next command.
func runtimeMain(args []string) int {
	runtime.WriteInitBinary()
	return runtimecmd.Main(args)
}
