// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

//go:build !linux

package snapshot

import (
	"context"
	"fmt"

	"github.com/containerd/errdefs"
)

// Validate is not implemented outside Linux.
func (m Mount) Validate() error { return fmt.Errorf("mount: %w", errdefs.ErrNotImplemented) }

// Mount is not implemented outside Linux.
func (m Mount) Mount(target string) error { return fmt.Errorf("mount: %w", errdefs.ErrNotImplemented) }

// MountAll is not implemented outside Linux.
func MountAll(mounts []Mount, target string) error {
	return fmt.Errorf("mount: %w", errdefs.ErrNotImplemented)
}

// UnmountAll is not implemented outside Linux.
func UnmountAll(target string) error { return fmt.Errorf("unmount: %w", errdefs.ErrNotImplemented) }

// WithTempMount is not implemented outside Linux.
func WithTempMount(ctx context.Context, mounts []Mount, fn func(root string) error) error {
	return fmt.Errorf("temp mount: %w", errdefs.ErrNotImplemented)
}
