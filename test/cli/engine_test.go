// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package cli_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/testutil"
)

// TestEngineWhereRunIsNoexec runs the engine's modes with /run mounted
// noexec (as Ubuntu mounts it), in a mount namespace of the test's own:
// berth then writes and executes the engine's binary under
// /var/lib/berth/engine, and runtime commands reach the runtime through
// it.
func TestEngineWhereRunIsNoexec(t *testing.T) {
	testutil.RequiresRoot(t)
	// the engine binaries this test writes go with it
	before, _ := filepath.Glob("/var/lib/berth/engine/*")
	t.Cleanup(func() {
		after, _ := filepath.Glob("/var/lib/berth/engine/*")
		for _, d := range after {
			if !slices.Contains(before, d) {
				os.RemoveAll(d)
			}
		}
	})
	runc := filepath.Join(t.TempDir(), "berth-runc")
	if err := os.Symlink(berthBin, runc); err != nil {
		t.Fatal(err)
	}
	script := `set -e
mount --make-rprivate /
mkdir -p /run/berth
mount -t tmpfs -o noexec,mode=0711 tmpfs /run/berth
"$1" daemon --help | head -1
"$2" --version | head -1
`
	out, err := exec.Command("unshare", "-m", "sh", "-c", script, "sh", berthBin, runc).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 || lines[0] != "Run the berth daemon (the Docker Engine API server)" || !strings.HasPrefix(lines[1], "berth-runc version ") {
		t.Fatalf("got:\n%s", out)
	}
	matches, _ := filepath.Glob("/var/lib/berth/engine/*/berth")
	if len(matches) == 0 {
		t.Fatal("no engine binary under /var/lib/berth/engine")
	}
}
