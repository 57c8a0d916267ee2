// Package testutil holds helpers shared by berth's tests. It is imported by
// test code only.
package testutil

import (
	"os"
	"testing"
)

// RequiresRoot skips the test when it does not run as uid 0. CI and
// development machines run as root, so these tests always run there.
func RequiresRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("test requires root")
	}
}
