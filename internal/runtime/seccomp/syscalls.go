// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

//go:build linux && amd64

package seccomp

import (
	"cmp"
	"slices"
)

// syscallEntry is one row of the generated syscallTable.
type syscallEntry struct {
	name string
	nr   uint32
}

// syscallNumber returns the x86_64 number of the named system call.
func syscallNumber(name string) (uint32, bool) {
	i, ok := slices.BinarySearchFunc(syscallTable[:], name, func(e syscallEntry, name string) int {
		return cmp.Compare(e.name, name)
	})
	if !ok {
		return 0, false
	}
	return syscallTable[i].nr, true
}
