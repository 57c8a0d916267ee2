// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package content_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/containerd/errdefs"
	"gotest.tools/v3/assert"

	"github.com/berth-project/berth/internal/content"
	"github.com/berth-project/berth/internal/content/testsuite"
)

func TestStore(t *testing.T) {
	testsuite.Run(t, func(t *testing.T) testsuite.Store {
		s, err := content.New(t.TempDir())
		assert.NilError(t, err)
		return s
	})
}

func TestLayoutVersion(t *testing.T) {
	root := t.TempDir()
	_, err := content.New(root)
	assert.NilError(t, err)
	b, err := os.ReadFile(filepath.Join(root, "version"))
	assert.NilError(t, err)
	assert.Equal(t, string(b), "1\n")
	_, err = content.New(root)
	assert.NilError(t, err, "reopening a version 1 root")

	assert.NilError(t, os.WriteFile(filepath.Join(root, "version"), []byte("2\n"), 0o600))
	_, err = content.New(root)
	assert.Check(t, errdefs.IsFailedPrecondition(err), "%v", err)
}
