// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package metadata_test

import (
	"testing"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/berth-project/berth/internal/metadata"
)

func target(s string) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString(s), Size: int64(len(s))}
}

func TestImages(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	db, err := metadata.Open(root)
	assert.NilError(t, err)

	const name = "docker.io/library/busybox:latest"
	img, err := db.CreateImage(ctx, metadata.Image{Name: name, Target: target("a"), Labels: map[string]string{"k": "v"}})
	assert.NilError(t, err)
	assert.Check(t, !img.CreatedAt.IsZero())
	assert.Check(t, img.CreatedAt.Equal(img.UpdatedAt))

	_, err = db.CreateImage(ctx, metadata.Image{Name: name, Target: target("b")})
	assert.Check(t, errdefs.IsAlreadyExists(err), "%v", err)

	got, err := db.GetImage(ctx, name)
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(got.Target, target("a")))
	assert.Check(t, is.DeepEqual(got.Labels, map[string]string{"k": "v"}))
	assert.Check(t, got.CreatedAt.Equal(img.CreatedAt))

	up, err := db.UpdateImage(ctx, metadata.Image{Name: name, Target: target("b")})
	assert.NilError(t, err)
	assert.Check(t, up.CreatedAt.Equal(img.CreatedAt))
	assert.Check(t, up.UpdatedAt.After(img.UpdatedAt) || up.UpdatedAt.Equal(img.UpdatedAt))

	_, err = db.UpdateImage(ctx, metadata.Image{Name: "docker.io/library/nope:1", Target: target("b")})
	assert.Check(t, errdefs.IsNotFound(err), "%v", err)
	_, err = db.GetImage(ctx, "docker.io/library/nope:1")
	assert.Check(t, errdefs.IsNotFound(err), "%v", err)
	_, err = db.CreateImage(ctx, metadata.Image{Name: "", Target: target("b")})
	assert.Check(t, errdefs.IsInvalidArgument(err), "%v", err)
	_, err = db.CreateImage(ctx, metadata.Image{Name: "x"})
	assert.Check(t, errdefs.IsInvalidArgument(err), "%v", err)

	const byDigest = "docker.io/library/busybox@sha256:0123456789012345678901234567890123456789012345678901234567890123"
	_, err = db.CreateImage(ctx, metadata.Image{Name: byDigest, Target: target("b")})
	assert.NilError(t, err)

	// Records survive a reopen.
	assert.NilError(t, db.Close())
	db, err = metadata.Open(root)
	assert.NilError(t, err)
	defer db.Close()
	list, err := db.ListImages(ctx)
	assert.NilError(t, err)
	assert.Assert(t, is.Len(list, 2))
	assert.Check(t, is.Equal(list[0].Name, name)) // byte order: ':' < '@'
	assert.Check(t, is.Equal(list[1].Name, byDigest))
	assert.Check(t, is.DeepEqual(list[0].Target, target("b")))
	assert.Check(t, list[0].Labels == nil)

	assert.NilError(t, db.DeleteImage(ctx, name))
	err = db.DeleteImage(ctx, name)
	assert.Check(t, errdefs.IsNotFound(err), "%v", err)
	list, err = db.ListImages(ctx)
	assert.NilError(t, err)
	assert.Check(t, is.Len(list, 1))
}

func TestOpenRefusesNewerVersion(t *testing.T) {
	root := t.TempDir()
	db, err := metadata.Open(root)
	assert.NilError(t, err)
	assert.NilError(t, db.Close())

	bdb, err := bolt.Open(root+"/metadata.db", 0o600, nil)
	assert.NilError(t, err)
	assert.NilError(t, bdb.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("v1")).Put([]byte("version"), []byte("99"))
	}))
	assert.NilError(t, bdb.Close())

	_, err = metadata.Open(root)
	assert.Check(t, errdefs.IsFailedPrecondition(err), "%v", err)
}

func TestOpenInUse(t *testing.T) {
	root := t.TempDir()
	db, err := metadata.Open(root)
	assert.NilError(t, err)
	defer db.Close()
	_, err = metadata.Open(root)
	assert.Check(t, errdefs.IsUnavailable(err), "%v", err)
}
