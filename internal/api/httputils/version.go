// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package httputils

import "github.com/berth-project/berth/internal/api/versions"

// CompareVersions compares two dotted API versions ("1.41"), returning -1,
// 0 or 1 (versions.Compare).
func CompareVersions(a, b string) int { return versions.Compare(a, b) }

// VersionLessThan reports whether a < b.
func VersionLessThan(a, b string) bool { return versions.LessThan(a, b) }
