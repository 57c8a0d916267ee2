// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package monitor

import (
	"os/exec"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// TestDeps enforces STYLE.md's rule for code on the container start path:
// the monitor links no HTTP, gRPC, bbolt or CLI framework.
func TestDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	assert.NilError(t, err)
	deps := strings.Fields(string(out))
	for _, f := range []string{"net/http", "google.golang.org/grpc", "go.etcd.io/bbolt", "github.com/spf13/cobra"} {
		assert.Check(t, !is.Contains(deps, f)().Success(), "monitor must not depend on %s", f)
	}
}
