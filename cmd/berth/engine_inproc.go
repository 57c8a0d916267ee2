// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

//go:build !berth_engine

package main

import "github.com/berth-project/berth/internal/engine"

// runEngine runs the engine's mode of args in this process: berth built
// without the berth_engine tag has the engine linked in.
func runEngine(args []string) int {
	return engine.Main(args)
}
