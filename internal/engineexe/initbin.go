// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

//go:build berth_initbin

package main

// berth-init.h, written by `make build` (and testutil.BuildBerth) with the
// init binary, defines berth_runtime_sum and berth_runtime_size: the C
// constructor in internal/runtime/nsenter uses them to execute the small
// binary for runtime commands.

/*
#include "berth-init.h"
*/
import "C"

import (
	_ "embed"
	"strings"

	"github.com/berth-project/berth/internal/runtime"
)

// The runtime's own binary (internal/runtime/initexe: init and the runtime
// command line), built by `make build` just before the engine. Without the
// berth_initbin tag the engine is its own init.
//
//go:embed berth-init
var initBinary []byte

//go:embed berth-init.sha256
var initBinarySum string

func init() {
	runtime.SetInitBinary(initBinary, strings.Fields(initBinarySum)[0])
}
