// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package overlay

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/berth-project/berth/internal/snapshot"
	"github.com/berth-project/berth/internal/testutil"
)

// TestLongChain mounts a chain whose absolute lowerdir list is far longer
// than a page, and checks that a chain too long even for relative paths
// is refused at Prepare, leaving nothing behind.
func TestLongChain(t *testing.T) {
	testutil.RequiresRoot(t)
	ctx := t.Context()
	// A long root, as /var/lib/berth/snapshots/overlay would be and more.
	root := filepath.Join(t.TempDir(), strings.Repeat("r", 100))
	sn, err := New(ctx, root)
	assert.NilError(t, err)
	t.Cleanup(func() { sn.Close() })

	const layers = 300
	parent := ""
	for i := range layers {
		name := fmt.Sprintf("sha256:%064d", i)
		mounts, err := sn.Prepare(ctx, "extract", parent, nil)
		assert.NilError(t, err)
		if i == 0 {
			upper, _, err := snapshot.DiffDirs(mounts)
			assert.NilError(t, err)
			assert.NilError(t, os.WriteFile(filepath.Join(upper, "bottom"), []byte("0"), 0o644))
		}
		assert.NilError(t, sn.Commit(ctx, name, "extract", nil))
		parent = name
	}
	mounts, err := sn.Prepare(ctx, "ctr", parent, nil)
	assert.NilError(t, err)
	assert.Check(t, len(strings.Join(mounts[0].Options, ",")) > 4096)
	dir := t.TempDir()
	assert.NilError(t, snapshot.MountAll(mounts, dir))
	t.Cleanup(func() { assert.Check(t, snapshot.UnmountAll(dir)) })
	b, err := os.ReadFile(filepath.Join(dir, "bottom"))
	assert.NilError(t, err)
	assert.Check(t, is.Equal(string(b), "0"))

	// overlayfs stacks at most 500 layers, and 4095 bytes hold about 540
	// relative lowerdirs of this length ("123/fs:").
	for i := layers; i < 600; i++ {
		name := fmt.Sprintf("sha256:%064d", i)
		_, err := sn.Prepare(ctx, "extract", parent, nil)
		if err != nil {
			assert.Check(t, errdefs.IsInvalidArgument(err), "%v", err)
			assert.Check(t, is.ErrorContains(err, "too many layers"))
			_, err = sn.Stat(ctx, "extract")
			assert.Check(t, errdefs.IsNotFound(err), "refused Prepare left a snapshot")
			entries, err := os.ReadDir(filepath.Join(root, "snapshots"))
			assert.NilError(t, err)
			assert.Check(t, is.Len(entries, i+1), "refused Prepare left a directory") // i layers and ctr
			assert.Check(t, is.Equal(i, 501), "refused on a chain of %d layers", i)
			// The longest chain accepted mounts.
			mounts, err := sn.Prepare(ctx, "ctr500", fmt.Sprintf("sha256:%064d", 499), nil)
			assert.NilError(t, err)
			dir := t.TempDir()
			assert.NilError(t, snapshot.MountAll(mounts, dir))
			t.Cleanup(func() { assert.Check(t, snapshot.UnmountAll(dir)) })
			_, err = os.Stat(filepath.Join(dir, "bottom"))
			assert.Check(t, err)
			return
		}
		assert.NilError(t, sn.Commit(ctx, name, "extract", nil))
		parent = name
	}
	t.Fatal("600 layers accepted")
}
