// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package versions compares Engine API versions ("1.47"). It imports
// nothing but the standard library's strings and strconv, so that the CLI
// can use it without the server's packages (net/http among them).
package versions

import (
	"strconv"
	"strings"
)

// Compare compares two dotted versions numerically, part by part (a
// missing part is 0): -1 if a < b, 0 if equal, 1 if a > b.
func Compare(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// LessThan reports whether a < b.
func LessThan(a, b string) bool { return Compare(a, b) < 0 }
