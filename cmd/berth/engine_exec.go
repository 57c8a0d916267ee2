// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

//go:build berth_engine

package main

// berth-engine.h, written by `make build` (and testutil.BuildBerth) with
// the engine binary, defines berth_engine_sum and berth_engine_size, and
// the runtime binary's berth_runtime_sum and berth_runtime_size: the C
// constructor in internal/runtime/nsenter uses them to execute the
// engine's binary for its modes, and the runtime's for runtime commands.

/*
#include "berth-engine.h"
*/
import "C"

import (
	_ "embed"
	"fmt"
	"os"
	"strings"
	"syscall"

	"github.com/berth-project/berth/internal/embedexe"
)

// The engine's binary (internal/engineexe, with the runtime's embedded
// in it), built by `make build` just before berth.
//
//go:embed berth-engine
var engineBinary []byte

//go:embed berth-engine.sha256
var engineSum string

// engineCacheDirs may hold the engine's binary, one directory per build
// (named by its SHA-256): /run, which is memory on most hosts, unless it
// is mounted noexec (as Ubuntu mounts it), then /var/lib. The C
// constructor looks in both, in this order.
var engineCacheDirs = []string{"/run/berth/engine", "/var/lib/berth/engine"}

// runEngine executes the engine's binary with args. The C constructor
// has done so already when the file was there; this writes it first, in
// the first directory where it can be executed.
func runEngine(args []string) int {
	err := fmt.Errorf("no directory of %v allows executing files", engineCacheDirs)
	for _, dir := range engineCacheDirs {
		if embedexe.NoExec(dir) {
			continue
		}
		var p string
		if p, err = embedexe.Path(dir, "berth", engineBinary, strings.Fields(engineSum)[0]); err == nil {
			err = syscall.Exec(p, args, os.Environ())
		}
	}
	fmt.Fprintf(os.Stderr, "berth: run the engine: %v\n", err)
	return 1
}
