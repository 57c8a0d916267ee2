// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package runtime

import (
	"encoding/json"
	"testing"

	"gotest.tools/v3/assert"
	"gotest.tools/v3/golden"
)

func TestDefaultSpec(t *testing.T) {
	got, err := json.MarshalIndent(DefaultSpec(), "", "\t")
	assert.NilError(t, err)
	golden.Assert(t, string(got)+"\n", "TestDefaultSpec/config.json")
}

func TestDefaultSpecIsACopy(t *testing.T) {
	a := DefaultSpec()
	a.Process.Capabilities.Bounding[0] = "CAP_SYS_ADMIN"
	a.Mounts[0].Destination = "/elsewhere"

	b := DefaultSpec()
	assert.Equal(t, b.Process.Capabilities.Bounding[0], "CAP_AUDIT_WRITE")
	assert.Equal(t, b.Process.Capabilities.Effective[0], "CAP_AUDIT_WRITE")
	assert.Equal(t, b.Mounts[0].Destination, "/proc")
}
