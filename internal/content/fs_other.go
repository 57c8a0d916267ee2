// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

//go:build !linux

package content

import (
	"fmt"
	"os"

	"github.com/containerd/errdefs"
)

func tryLock(f *os.File) error {
	return fmt.Errorf("lock %s: %w", f.Name(), errdefs.ErrNotImplemented)
}

func renameNoReplace(oldpath, newpath string) error {
	return fmt.Errorf("rename %s: %w", oldpath, errdefs.ErrNotImplemented)
}
