// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package formatter

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/docker/go-units"
)

// now is the clock; tests pin it.
var now = time.Now

// TruncateID shortens an ID (with or without "sha256:") to 12 hex digits.
func TruncateID(id string) string {
	if i := strings.IndexRune(id, ':'); i >= 0 {
		id = id[i+1:]
	}
	if len(id) > 12 {
		id = id[:12]
	}
	return id
}

// Ellipsis shortens s to max runes, the last being "…".
func Ellipsis(s string, max int) string {
	if max <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max-1]) + "…"
}

// HumanSince renders a Unix time as "3 minutes ago".
func HumanSince(unix int64) string {
	return HumanDuration(now().UTC().Sub(time.Unix(unix, 0))) + " ago"
}

// HumanDuration renders a duration as docker does ("About a minute").
func HumanDuration(d time.Duration) string { return units.HumanDuration(d) }

// HumanSize renders a byte count with three significant digits ("1.98MB").
func HumanSize(n int64) string { return units.HumanSizeWithPrecision(float64(n), 3) }

// BytesSize renders a byte count in binary units ("1.5MiB").
func BytesSize(n float64) string { return units.BytesSize(n) }
