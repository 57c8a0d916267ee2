// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package image_test

import (
	"testing"

	"github.com/containerd/errdefs"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/berth-project/berth/internal/image"
)

func TestTagRemove(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	img := importBusybox(t, s, "busybox", nil)

	assert.NilError(t, s.Tag(ctx, "busybox", "example.com/other:v1"))
	got, err := s.Get(ctx, "example.com/other:v1")
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(got.RepoTags, []string{"docker.io/library/busybox:latest", "example.com/other:v1"}))

	err = s.Tag(ctx, "busybox", "busybox@sha256:"+img.ID.Encoded())
	assert.Check(t, errdefs.IsInvalidArgument(err), "%v", err)
	err = s.Tag(ctx, "nothere", "x:1")
	assert.Check(t, errdefs.IsNotFound(err), "%v", err)

	// Two repositories: removing by ID needs force.
	_, err = s.Remove(ctx, img.ID.String(), false)
	assert.Check(t, errdefs.IsConflict(err), "%v", err)
	assert.Check(t, is.ErrorContains(err, "image is referenced in multiple repositories"))

	// Removing one of two tags only untags.
	removed, err := s.Remove(ctx, "example.com/other:v1", false)
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(removed, []image.Removed{{Untagged: "example.com/other:v1"}}))
	_, err = s.Get(ctx, "busybox")
	assert.NilError(t, err)

	// One tag left: removing by ID prefix deletes the image.
	removed, err = s.Remove(ctx, img.ID.Encoded()[:12], false)
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(removed, []image.Removed{{Untagged: "docker.io/library/busybox:latest"}, {Deleted: img.ID}}))
	_, err = s.Get(ctx, img.ID.String())
	assert.Check(t, errdefs.IsNotFound(err), "%v", err)

	_, err = s.Remove(ctx, "busybox", false)
	assert.Check(t, errdefs.IsNotFound(err), "%v", err)
}

func TestRetagLeavesDangling(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	old := importBusybox(t, s, "app:1", nil)
	img := importBusybox(t, s, "app:1", map[string]string{"etc/v2": "2"})
	assert.Assert(t, old.ID != img.ID)

	list, err := s.List(ctx)
	assert.NilError(t, err)
	assert.Assert(t, is.Len(list, 2))
	got, err := s.Get(ctx, old.ID.String())
	assert.NilError(t, err)
	assert.Check(t, is.Len(got.RepoTags, 0))

	// GC keeps the dangling image; removing it by ID lets GC take it.
	_, err = s.GC(ctx)
	assert.NilError(t, err)
	assert.Check(t, is.Len(snapshots(t, s), 2))
	removed, err := s.Remove(ctx, old.ID.String(), false)
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(removed, []image.Removed{{Deleted: old.ID}}))
	res, err := s.GC(ctx)
	assert.NilError(t, err)
	assert.Check(t, is.Equal(res.Snapshots, 1))
	assert.Check(t, is.DeepEqual(snapshots(t, s), []string{img.ChainID.String()}))
}
