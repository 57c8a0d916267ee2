// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Command initexe is `berth init` on its own: the first process of every
// container and exec, built as a small separate binary and embedded in
// berth (see runtime.SetInitBinary). It links only the runtime, so it
// starts in a fraction of the time the whole berth binary takes (a third
// of its page faults), which every container start and exec pays.
//
// The Makefile builds it to cmd/berth/berth-init before berth itself.
package main

import (
	"os"

	"github.com/berth-project/berth/internal/runtime"
	_ "github.com/berth-project/berth/internal/runtime/nsenter"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		runtime.InitMain()
	}
	os.Stderr.WriteString("berth-init: run by the berth runtime only\n")
	os.Exit(2)
}
