// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Command berth is the whole of berth in one binary: the docker-compatible
// CLI, and the engine's modes (internal/engine: the daemon, its monitor,
// the runtime, init and docker-init), picked from the program name or
// the first argument before any flag is read.
//
// Built by `make build` (with the berth_engine tag), the binary's Go code
// is only the CLI: the engine is a binary of its own embedded in it
// (engine_exec.go), which the C constructor in internal/runtime/nsenter
// executes for the engine's modes before the Go runtime starts. Every
// `berth ps` or `berth run` then starts the CLI alone, without the
// package initialisation of the daemon, runtime, image store and builder:
// that halves the CLI's start. Built without the tag (`go build
// ./cmd/berth`), berth runs the engine in-process (engine_inproc.go).
//
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
package main

import (
	"os"

	"github.com/berth-project/berth/internal/cli"
	"github.com/berth-project/berth/internal/engine/mode"
	_ "github.com/berth-project/berth/internal/runtime/nsenter"
)

func main() {
	if mode.IsEngine(os.Args) {
		os.Exit(runEngine(os.Args))
	}
	os.Exit(cli.Main(os.Args[1:]))
}
