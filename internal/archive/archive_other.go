// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

//go:build !linux

package archive

import (
	"context"
	"fmt"
	"io"

	"github.com/containerd/errdefs"
)

// Apply is not implemented outside Linux.
func Apply(ctx context.Context, dir string, r io.Reader, opts ApplyOptions) (int64, error) {
	return 0, fmt.Errorf("archive: apply: %w", errdefs.ErrNotImplemented)
}

// WriteDiff is not implemented outside Linux.
func WriteDiff(ctx context.Context, w io.Writer, upper string, lower []string) ([]Change, error) {
	return nil, fmt.Errorf("archive: diff: %w", errdefs.ErrNotImplemented)
}

// WriteRunDiff is not implemented outside Linux.
func WriteRunDiff(ctx context.Context, w io.Writer, upper string, lower []string) ([]Change, error) {
	return nil, fmt.Errorf("archive: diff: %w", errdefs.ErrNotImplemented)
}

// Tar is not implemented outside Linux.
func Tar(ctx context.Context, w io.Writer, dir string, opts TarOptions) error {
	return fmt.Errorf("archive: tar: %w", errdefs.ErrNotImplemented)
}

// RemoveMountpoints is not implemented outside Linux.
func RemoveMountpoints(upper string, lower []string) error {
	return fmt.Errorf("archive: remove mountpoints: %w", errdefs.ErrNotImplemented)
}
