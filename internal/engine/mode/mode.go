// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package mode tells berth's engine modes (see internal/engine) from the
// CLI by the command line alone. It links nothing but the standard
// library, so that the CLI can ask without linking the engine; the C
// constructor in internal/runtime/nsenter asks the same questions.
package mode

import (
	"path/filepath"
	"strings"
)

// IsEngine reports whether args (a whole command line, program name
// first) run one of the engine's modes rather than the CLI.
func IsEngine(args []string) bool {
	return IsRuntime(args) || IsOther(args)
}

// IsRuntime reports whether args run the runtime: as "berth runtime ..."
// or under a name ending in "runc" ("berth-runc ...").
func IsRuntime(args []string) bool {
	_, ok := RuntimeArgs(args)
	return ok
}

// RuntimeArgs returns the runtime's own arguments when args run it.
func RuntimeArgs(args []string) ([]string, bool) {
	if len(args) == 0 {
		return nil, false
	}
	if name := filepath.Base(args[0]); strings.HasSuffix(name, "-runc") || name == "runc" {
		return args[1:], true
	}
	if len(args) > 1 && args[1] == "runtime" {
		return args[2:], true
	}
	return nil, false
}

// IsOther reports whether args run the engine's other modes: "berth
// daemon", "berth monitor", "berth init", or docker-init by that name.
func IsOther(args []string) bool {
	if len(args) == 0 {
		return false
	}
	if filepath.Base(args[0]) == "docker-init" {
		return true
	}
	if len(args) < 2 {
		return false
	}
	switch args[1] {
	case "init", "daemon", "monitor":
		return true
	}
	return false
}
