// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package storage

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/containerd/errdefs"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/berth-project/berth/internal/snapshot"
)

type plain struct{}

func (plain) Populate(context.Context, string, snapshot.Kind, []string) error { return nil }
func (plain) Mounts(dir string, _ snapshot.Kind, _ []string) []snapshot.Mount {
	return []snapshot.Mount{{Type: "bind", Source: filepath.Join(dir, "fs"), Options: []string{"rbind"}}}
}

// TestOpenRemovesOrphans: directories no record names (a crash between
// making a directory and committing its record, or between committing a
// removal and deleting the directory) are deleted by Open, and recorded
// ones are kept.
func TestOpenRemovesOrphans(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	s, err := Open(ctx, root, plain{})
	assert.NilError(t, err)
	mounts, err := s.Prepare(ctx, "kept", "", nil)
	assert.NilError(t, err)
	assert.NilError(t, s.Close())

	for _, name := range []string{"new-123", "99", "7"} {
		assert.NilError(t, os.MkdirAll(filepath.Join(root, "snapshots", name, "fs"), 0o700))
	}
	s, err = Open(ctx, root, plain{})
	assert.NilError(t, err)
	defer s.Close()
	entries, err := os.ReadDir(filepath.Join(root, "snapshots"))
	assert.NilError(t, err)
	assert.Assert(t, is.Len(entries, 1))
	assert.Check(t, is.Equal(filepath.Join(root, "snapshots", entries[0].Name(), "fs"), mounts[0].Source))
}

// TestOpenLocked: a second Open of the same root fails instead of
// sharing the database.
func TestOpenLocked(t *testing.T) {
	root := t.TempDir()
	s, err := Open(t.Context(), root, plain{})
	assert.NilError(t, err)
	defer s.Close()
	_, err = Open(t.Context(), root, plain{})
	assert.Check(t, errdefs.IsUnavailable(err), "%v", err)
}

// TestIDsNotReused: a removed snapshot's id is never given again.
func TestIDsNotReused(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, t.TempDir(), plain{})
	assert.NilError(t, err)
	defer s.Close()
	a, err := s.Prepare(ctx, "a", "", nil)
	assert.NilError(t, err)
	assert.NilError(t, s.Remove(ctx, "a"))
	b, err := s.Prepare(ctx, "a", "", nil)
	assert.NilError(t, err)
	assert.Check(t, a[0].Source != b[0].Source, "id reused: %s", b[0].Source)
	_, err = os.Stat(a[0].Source)
	assert.Check(t, os.IsNotExist(err))
}
