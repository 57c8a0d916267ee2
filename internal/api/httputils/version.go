// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package httputils

import (
	"strconv"
	"strings"
)

// CompareVersions compares two dotted API versions ("1.41"), returning -1,
// 0 or 1.
func CompareVersions(a, b string) int {
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

// VersionLessThan reports whether a < b.
func VersionLessThan(a, b string) bool { return CompareVersions(a, b) < 0 }
