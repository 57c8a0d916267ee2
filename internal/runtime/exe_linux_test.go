package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// TestPruneInitCache keeps the current build's init binary and other
// builds' recent ones, and removes other builds' old ones (and their
// directories without a binary); anything not named like a SHA-256 stays.
func TestPruneInitCache(t *testing.T) {
	dir := t.TempDir()
	sum := func(c string) string { return strings.Repeat(c, 64) }
	write := func(name string, age time.Duration) {
		assert.NilError(t, os.MkdirAll(filepath.Join(dir, name), 0o711))
		p := filepath.Join(dir, name, "berth-init")
		assert.NilError(t, os.WriteFile(p, []byte("x"), 0o555))
		at := time.Now().Add(-age)
		assert.NilError(t, os.Chtimes(p, at, at))
	}
	write(sum("a"), 48*time.Hour) // this build's, old: kept
	write(sum("b"), 48*time.Hour) // another's, old: removed
	write(sum("c"), time.Hour)    // another's, recent: kept
	assert.NilError(t, os.Mkdir(filepath.Join(dir, sum("d")), 0o711))
	assert.NilError(t, os.Mkdir(filepath.Join(dir, "other"), 0o711))

	pruneInitCache(dir, sum("a"), 24*time.Hour)
	var left []string
	entries, err := os.ReadDir(dir)
	assert.NilError(t, err)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	assert.Check(t, is.DeepEqual(left, []string{sum("a"), sum("c"), "other"}))
}
