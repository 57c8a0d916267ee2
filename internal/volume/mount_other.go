// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

//go:build !linux

package volume

import "github.com/containerd/errdefs"

func mountDevice(opts map[string]string, target string) error {
	return errdefs.ErrNotImplemented.WithMessage("device-backed volumes need Linux")
}

func unmountDevice(target string) error { return nil }

func mounted(p string) bool { return false }
