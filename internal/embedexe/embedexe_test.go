// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package embedexe

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// TestPrune keeps the current build's file, other builds' recent ones and
// old ones that a process runs, and removes other builds' old ones (and
// their directories without the file); anything not named like a SHA-256
// stays.
func TestPrune(t *testing.T) {
	dir := t.TempDir()
	sum := func(c string) string { return strings.Repeat(c, 64) }
	write := func(name string, age time.Duration, data []byte) string {
		assert.NilError(t, os.MkdirAll(filepath.Join(dir, name), 0o711))
		p := filepath.Join(dir, name, "prog")
		assert.NilError(t, os.WriteFile(p, data, 0o555))
		at := time.Now().Add(-age)
		assert.NilError(t, os.Chtimes(p, at, at))
		return p
	}
	sleep, err := os.ReadFile("/bin/sleep")
	assert.NilError(t, err)
	write(sum("a"), 48*time.Hour, []byte("x")) // this build's, old: kept
	write(sum("b"), 48*time.Hour, []byte("x")) // another's, old: removed
	write(sum("c"), time.Hour, []byte("x"))    // another's, recent: kept
	running := write(sum("e"), 48*time.Hour, sleep)
	assert.NilError(t, os.Mkdir(filepath.Join(dir, sum("d")), 0o711))
	assert.NilError(t, os.Mkdir(filepath.Join(dir, "other"), 0o711))
	cmd := exec.Command(running, "60") // another's, old, running: kept
	assert.NilError(t, cmd.Start())
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()

	Prune(dir, sum("a"), "prog", 24*time.Hour)
	var left []string
	entries, err := os.ReadDir(dir)
	assert.NilError(t, err)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	assert.Check(t, is.DeepEqual(left, []string{sum("a"), sum("c"), sum("e"), "other"}))
}

// TestPath writes the file once, executable and read-only, and again
// when it is missing, differs in size or is writable by others.
func TestPath(t *testing.T) {
	dir := t.TempDir()
	sum := strings.Repeat("f", 64)
	p, err := Path(dir, "prog", []byte("#!/bin/sh\n"), sum)
	assert.NilError(t, err)
	assert.Equal(t, p, filepath.Join(dir, sum, "prog"))
	fi, err := os.Stat(p)
	assert.NilError(t, err)
	assert.Equal(t, fi.Mode().Perm(), os.FileMode(0o555))

	assert.NilError(t, os.Chmod(p, 0o755))
	assert.NilError(t, os.WriteFile(p, []byte("short"), 0o755))
	_, err = Path(dir, "prog", []byte("#!/bin/sh\n"), sum)
	assert.NilError(t, err)
	b, err := os.ReadFile(p)
	assert.NilError(t, err)
	assert.Equal(t, string(b), "#!/bin/sh\n")
	// the same size, but writable by others: not trusted, written again
	assert.NilError(t, os.Chmod(p, 0o777))
	assert.NilError(t, os.WriteFile(p, []byte("#!/bin/XX\n"), 0o777))
	_, err = Path(dir, "prog", []byte("#!/bin/sh\n"), sum)
	assert.NilError(t, err)
	b, err = os.ReadFile(p)
	assert.NilError(t, err)
	assert.Equal(t, string(b), "#!/bin/sh\n")
	entries, err := os.ReadDir(filepath.Dir(p))
	assert.NilError(t, err)
	assert.Equal(t, len(entries), 1, "no temporary file is left")
}

// TestNoExec looks at the nearest existing directory's mount: a tmpfs
// mounted noexec, or not.
func TestNoExec(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	assert.Check(t, !NoExec(filepath.Join(dir, "not", "yet")))
	assert.NilError(t, syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOEXEC, ""))
	defer syscall.Unmount(dir, syscall.MNT_DETACH)
	assert.Check(t, NoExec(filepath.Join(dir, "not", "yet")))
	assert.Check(t, NoExec(dir))
}
