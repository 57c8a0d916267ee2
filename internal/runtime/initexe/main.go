// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Command initexe is berth's runtime on its own: `berth init`, the first
// process of every container and exec, and the runc-compatible command
// line (`berth runtime ...`, `berth-runc ...`). It is built as a small
// separate binary and embedded in the engine's (internal/engineexe; see
// runtime.SetInitBinary), which writes it to
// /run/berth/init/<sha256>/berth-init. It links only the runtime and its
// command line, so it starts in about half the time the engine takes:
// containers' init is executed from it (sealed), and berth's C
// constructor (internal/runtime/nsenter) executes it in place of berth
// for every runtime command.
//
// The Makefile builds it to internal/engineexe/berth-init before the
// engine.
//
// As in cmd/berth, GOMAXPROCS is not derived from the cgroup: that costs
// every start reading /proc/self/mountinfo and cgroup files.
//
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
package main

import (
	"os"

	"github.com/berth-project/berth/internal/engine/mode"
	"github.com/berth-project/berth/internal/runtime"
	_ "github.com/berth-project/berth/internal/runtime/nsenter"
	"github.com/berth-project/berth/internal/runtimecmd"
)

func main() {
	// The same dispatch as the engine's, for the modes this binary has.
	if len(os.Args) > 1 && os.Args[1] == "init" {
		runtime.InitMain()
	}
	if args, ok := mode.RuntimeArgs(os.Args); ok {
		os.Exit(runtimecmd.Main(args))
	}
	os.Stderr.WriteString("berth-init: run by berth only\n")
	os.Exit(2)
}
