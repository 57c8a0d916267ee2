// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// TestVolumeAndCp drives volumes and cp through berth's own CLI, and
// compares the volume listings with docker's.
func TestVolumeAndCp(t *testing.T) {
	requireDaemon(t)
	vol := prefix + "-vol"
	t.Cleanup(func() { berth("volume", "rm", "-f", vol) })
	assert.Equal(t, mustBerth(t, "volume", "create", "--label", "k=v", vol), vol+"\n")
	c := name(t, "vol")
	mustBerth(t, "run", "--name", c, "--network", "none", "-v", vol+":/data", image, "sh", "-c", "echo in-volume > /data/f")
	assert.Equal(t, mustBerth(t, "volume", "ls", "-q", "--filter", "label=k=v"), vol+"\n")
	assert.Equal(t, mustBerth(t, "volume", "inspect", "-f", "{{.Name}} {{.Driver}} {{.Labels}}", vol), vol+" local map[k:v]\n")
	r := berth("volume", "rm", vol)
	assert.Check(t, is.Equal(r.code, 1))
	assert.Check(t, is.Contains(r.stderr, "volume is in use"))

	// cp out of the stopped container, through its volume, and back in
	dst := t.TempDir()
	mustBerth(t, "cp", c+":/data/f", filepath.Join(dst, "copied"))
	b, err := os.ReadFile(filepath.Join(dst, "copied"))
	assert.NilError(t, err)
	assert.Equal(t, string(b), "in-volume\n")
	src := t.TempDir()
	assert.NilError(t, os.MkdirAll(filepath.Join(src, "tree", "sub"), 0o755))
	assert.NilError(t, os.WriteFile(filepath.Join(src, "tree", "sub", "x"), []byte("x\n"), 0o644))
	mustBerth(t, "cp", filepath.Join(src, "tree"), c+":/data/tree")
	mustBerth(t, "cp", filepath.Join(src, "tree")+"/.", c+":/data/")
	mustBerth(t, "cp", c+":/data/.", filepath.Join(dst, "all"))
	for _, p := range []string{"f", "tree/sub/x", "sub/x"} {
		_, err := os.Stat(filepath.Join(dst, "all", p))
		assert.Check(t, err, p)
	}
	mustBerth(t, "rm", c)
	if dockerBin != "" {
		sameAsDocker(t, "volume", "ls", "--filter", "name="+vol)
		sameAsDocker(t, "volume", "inspect", "-f", "{{.Name}} {{.Labels}} {{.Scope}}", vol)
	}
	assert.Equal(t, strings.TrimSpace(mustBerth(t, "volume", "rm", vol)), vol)
}
