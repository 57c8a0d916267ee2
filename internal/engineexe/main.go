// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Command engineexe is berth's engine on its own: the daemon, its
// monitor, docker-init and the runtime (internal/engine), without the CLI.
// `make build` builds it to cmd/berth/berth-engine (with the runtime's
// small binary embedded, see initbin.go) and embeds it in berth, which
// writes it to /run/berth/engine/<sha256>/berth and executes it for
// those modes (see cmd/berth). berth's own Go code is then only the CLI,
// which is what every `berth ps` or `berth run` starts: it starts in
// about half the time.
//
// GOMAXPROCS is not derived from the cgroup: that costs every start
// reading /proc/self/mountinfo and cgroup files.
//
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
package main

import (
	"os"

	"github.com/berth-project/berth/internal/engine"
	_ "github.com/berth-project/berth/internal/runtime/nsenter"
)

func main() {
	os.Exit(engine.Main(os.Args))
}
