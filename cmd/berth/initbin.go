// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

//go:build berth_initbin

package main

import (
	_ "embed"
	"strings"

	"github.com/berth-project/berth/internal/runtime"
)

// The init binary (internal/runtime/initexe), built by `make build` just
// before berth. Without the berth_initbin tag berth is its own init.
//
//go:embed berth-init
var initBinary []byte

//go:embed berth-init.sha256
var initBinarySum string

func init() {
	runtime.SetInitBinary(initBinary, strings.Fields(initBinarySum)[0])
}
