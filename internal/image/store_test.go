// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package image_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/berth-project/berth/internal/distribution"
	"github.com/berth-project/berth/internal/image"
	"github.com/berth-project/berth/internal/snapshot"
	"github.com/berth-project/berth/internal/testutil"
)

func TestImportMounts(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	img := importBusybox(t, s, "busybox", nil)

	assert.Check(t, is.DeepEqual(img.RepoTags, []string{"docker.io/library/busybox:latest"}))
	assert.Check(t, is.Len(img.RepoDigests, 0))
	assert.Check(t, is.Equal(img.Config.OS, "linux"))
	assert.Check(t, is.Equal(img.Config.RootFS.Type, "layers"))
	assert.Assert(t, is.Len(img.Config.RootFS.DiffIDs, 1))
	assert.Check(t, is.Equal(img.ChainID, img.Config.RootFS.DiffIDs[0]))
	assert.Check(t, is.Equal(img.Config.History[0].Comment, "Imported from -"))
	assert.Assert(t, is.Len(img.Layers, 1))
	assert.Check(t, img.ID != img.Target.Digest) // the config's digest, not the manifest's

	list, err := s.List(ctx)
	assert.NilError(t, err)
	assert.Assert(t, is.Len(list, 1))
	assert.Check(t, is.Equal(list[0].ID, img.ID))

	for _, ref := range []string{"busybox", "busybox:latest", "docker.io/library/busybox:latest", img.ID.String(), img.ID.Encoded(), img.ID.Encoded()[:12], "sha256:" + img.ID.Encoded()[:5]} {
		got, err := s.Get(ctx, ref)
		if assert.Check(t, err, ref) {
			assert.Check(t, is.Equal(got.ID, img.ID), ref)
		}
	}
	for _, ref := range []string{"busybox:1", "nothere", "abcdef0123"} {
		_, err := s.Get(ctx, ref)
		assert.Check(t, errdefs.IsNotFound(err), "%s: %v", ref, err)
		assert.Check(t, is.ErrorContains(err, "No such image: "+ref))
	}

	// A container's writable layer shows the image and takes writes.
	mounts := prepare(t, s, "busybox", "ctr1")
	err = snapshot.WithTempMount(ctx, mounts, func(root string) error {
		fi, err := os.Stat(filepath.Join(root, "bin", "busybox"))
		if err != nil {
			return err
		}
		assert.Check(t, fi.Mode().IsRegular())
		return os.WriteFile(filepath.Join(root, "hello"), []byte("hi"), 0o644)
	})
	assert.NilError(t, err)
	upper, _, err := snapshot.DiffDirs(mounts)
	assert.NilError(t, err)
	b, err := os.ReadFile(filepath.Join(upper, "hello"))
	assert.NilError(t, err)
	assert.Check(t, is.Equal(string(b), "hi"))

	// The container's layer keeps the image's layer through a GC even
	// when the image is gone; its blobs go.
	_, err = s.Remove(ctx, "busybox", false)
	assert.NilError(t, err)
	res, err := s.GC(ctx)
	assert.NilError(t, err)
	assert.Check(t, is.Equal(res.Blobs, 3))
	assert.Check(t, is.Equal(res.Snapshots, 0))
	assert.Check(t, is.DeepEqual(snapshots(t, s), []string{"ctr1", img.ChainID.String()}))
	assert.NilError(t, s.Snapshotter().Remove(ctx, "ctr1"))
	res, err = s.GC(ctx)
	assert.NilError(t, err)
	assert.Check(t, is.Equal(res.Snapshots, 1))
	assert.Check(t, is.Len(snapshots(t, s), 0))
}

func TestPushRemovePull(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	host := testutil.StartRegistry(t)
	ref := host + "/test/busybox:1"

	img := importBusybox(t, s, "", nil)
	assert.Check(t, is.Len(img.RepoTags, 0)) // dangling until tagged
	assert.NilError(t, s.Tag(ctx, img.ID.String(), ref))

	var pushed recorder
	desc, err := s.Push(ctx, ref, &distribution.Client{}, pushed.add)
	assert.NilError(t, err)
	assert.Check(t, pushed.statuses()[distribution.StatusPushed])
	img, err = s.Get(ctx, ref)
	assert.NilError(t, err)
	byDigest := host + "/test/busybox@" + desc.Digest.String()
	assert.Check(t, is.DeepEqual(img.RepoDigests, []string{byDigest}))

	// Remove by the tag takes the digest reference of the same repository
	// too, and so the image.
	removed, err := s.Remove(ctx, ref, false)
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(removed, []image.Removed{{Untagged: ref}, {Untagged: byDigest}, {Deleted: img.ID}}))
	_, err = s.GC(ctx)
	assert.NilError(t, err)
	assert.Check(t, is.Len(blobs(t, s), 0))
	assert.Check(t, is.Len(snapshots(t, s), 0))

	var pull1 recorder
	got, err := s.Pull(ctx, ref, &distribution.Client{}, pull1.add)
	assert.NilError(t, err)
	assert.Check(t, is.Equal(got.ID, img.ID))
	assert.Check(t, is.DeepEqual(got.RepoTags, []string{ref}))
	assert.Check(t, is.DeepEqual(got.RepoDigests, []string{byDigest}))
	assert.Check(t, pull1.statuses()[image.StatusPullComplete])
	assert.Check(t, is.DeepEqual(snapshots(t, s), []string{img.ChainID.String()}))

	// The pulled image runs like the imported one.
	mounts := prepare(t, s, ref, "ctr")
	assert.NilError(t, snapshot.WithTempMount(ctx, mounts, func(root string) error {
		_, err := os.Stat(filepath.Join(root, "bin", "busybox"))
		return err
	}))

	// Again: everything is there already.
	var pull2 recorder
	_, err = s.Pull(ctx, ref, &distribution.Client{}, pull2.add)
	assert.NilError(t, err)
	assert.Check(t, pull2.statuses()[distribution.StatusAlreadyExists], "%v", pull2.events)
	assert.Check(t, !pull2.statuses()[distribution.StatusDownloading], "%v", pull2.events)
	assert.Check(t, !pull2.statuses()[image.StatusExtracting], "%v", pull2.events)

	// By digest, from an empty store.
	s2 := newStore(t)
	got, err = s2.Pull(ctx, byDigest, &distribution.Client{}, nil)
	assert.NilError(t, err)
	assert.Check(t, is.Equal(got.ID, img.ID))
	assert.Check(t, is.Len(got.RepoTags, 0))
	assert.Check(t, is.DeepEqual(got.RepoDigests, []string{byDigest}))
}

func TestPullUnknown(t *testing.T) {
	s := newStore(t)
	host := testutil.StartRegistry(t)
	for _, ref := range []string{host + "/nothere:latest", host + "/nothere@" + digest.FromString("x").String()} {
		_, err := s.Pull(t.Context(), ref, &distribution.Client{}, nil)
		assert.Check(t, errdefs.IsNotFound(err), "%s: %v", ref, err)
		assert.Check(t, is.ErrorContains(err, "manifest unknown"), ref)
	}
	list, err := s.List(t.Context())
	assert.NilError(t, err)
	assert.Check(t, is.Len(list, 0))
}
