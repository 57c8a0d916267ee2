// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

//go:build !linux

package native

import (
	"context"
	"fmt"

	"github.com/containerd/errdefs"
)

func copyTree(ctx context.Context, dst, src string) error {
	return fmt.Errorf("copy %s: %w", src, errdefs.ErrNotImplemented)
}
