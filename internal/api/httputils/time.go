// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package httputils

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
)

// ParseTimestamp reads a since/until parameter as the docker CLI sends it,
// "seconds[.nanoseconds]" (it turns durations and dates into that form
// itself), or an RFC 3339 date. "" is the zero time; "0" is the epoch.
func ParseTimestamp(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	sec, frac, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t, nil
		}
		return time.Time{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid timestamp %q", s))
	}
	var ns int64
	if frac != "" {
		if ns, err = strconv.ParseInt((frac + "000000000")[:9], 10, 64); err != nil {
			return time.Time{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid timestamp %q", s))
		}
	}
	return time.Unix(n, ns), nil
}
