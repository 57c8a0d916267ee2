// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package native

import (
	"testing"

	"gotest.tools/v3/assert"

	"github.com/berth-project/berth/internal/snapshot"
	"github.com/berth-project/berth/internal/snapshot/testsuite"
)

func TestNative(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, root string) snapshot.Snapshotter {
		sn, err := New(t.Context(), root)
		assert.NilError(t, err)
		return sn
	})
}
