// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package metadata

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"
)

// Image is one image record: a name and the manifest or index it points at.
type Image struct {
	// Name is the record's key, normally a normalized reference.
	Name string
	// Target is the manifest or index in the content store. Only its
	// media type, digest and size are stored.
	Target ocispec.Descriptor
	// Labels are the caller's; nil when there are none.
	Labels map[string]string
	// CreatedAt and UpdatedAt are set by the database.
	CreatedAt time.Time
	UpdatedAt time.Time
}

// CreateImage records img and returns it with its times set. A record with
// the same name is errdefs.ErrAlreadyExists.
func (db *DB) CreateImage(ctx context.Context, img Image) (Image, error) {
	if err := validate(img); err != nil {
		return Image{}, err
	}
	err := db.db.Update(func(tx *bolt.Tx) error {
		images := imagesBucket(tx)
		if images.Bucket([]byte(img.Name)) != nil {
			return errdefs.ErrAlreadyExists.WithMessage(fmt.Sprintf("image %q already exists", img.Name))
		}
		img.CreatedAt = time.Now().UTC()
		img.UpdatedAt = img.CreatedAt
		return writeImage(images, img)
	})
	if err != nil {
		return Image{}, err
	}
	return img, nil
}

// UpdateImage replaces the target and labels of the record img.Name, keeps
// its creation time and sets its update time. An unknown name is
// errdefs.ErrNotFound.
func (db *DB) UpdateImage(ctx context.Context, img Image) (Image, error) {
	if err := validate(img); err != nil {
		return Image{}, err
	}
	err := db.db.Update(func(tx *bolt.Tx) error {
		images := imagesBucket(tx)
		b := images.Bucket([]byte(img.Name))
		if b == nil {
			return notFound(img.Name)
		}
		old, err := readImage(img.Name, b)
		if err != nil {
			return err
		}
		img.CreatedAt = old.CreatedAt
		img.UpdatedAt = time.Now().UTC()
		if err := images.DeleteBucket([]byte(img.Name)); err != nil {
			return err
		}
		return writeImage(images, img)
	})
	if err != nil {
		return Image{}, err
	}
	return img, nil
}

// GetImage returns the record name, or errdefs.ErrNotFound.
func (db *DB) GetImage(ctx context.Context, name string) (Image, error) {
	var img Image
	err := db.db.View(func(tx *bolt.Tx) error {
		b := imagesBucket(tx).Bucket([]byte(name))
		if b == nil {
			return notFound(name)
		}
		var err error
		img, err = readImage(name, b)
		return err
	})
	return img, err
}

// ListImages returns every record, sorted by name.
func (db *DB) ListImages(ctx context.Context) ([]Image, error) {
	var imgs []Image
	err := db.db.View(func(tx *bolt.Tx) error {
		return imagesBucket(tx).ForEachBucket(func(k []byte) error {
			img, err := readImage(string(k), imagesBucket(tx).Bucket(k))
			if err != nil {
				return err
			}
			imgs = append(imgs, img)
			return nil
		})
	})
	return imgs, err
}

// DeleteImage removes the record name, or returns errdefs.ErrNotFound.
func (db *DB) DeleteImage(ctx context.Context, name string) error {
	return db.db.Update(func(tx *bolt.Tx) error {
		images := imagesBucket(tx)
		if images.Bucket([]byte(name)) == nil {
			return notFound(name)
		}
		return images.DeleteBucket([]byte(name))
	})
}

func imagesBucket(tx *bolt.Tx) *bolt.Bucket {
	return tx.Bucket(bucketV1).Bucket(bucketImages)
}

func notFound(name string) error {
	return errdefs.ErrNotFound.WithMessage(fmt.Sprintf("image %q: not found", name))
}

func validate(img Image) error {
	if img.Name == "" {
		return errdefs.ErrInvalidArgument.WithMessage("image name must not be empty")
	}
	if err := img.Target.Digest.Validate(); err != nil {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("image %q: target: %v", img.Name, err))
	}
	return nil
}

func writeImage(images *bolt.Bucket, img Image) error {
	b, err := images.CreateBucket([]byte(img.Name))
	if err != nil {
		return err
	}
	for k, t := range map[string]time.Time{string(keyCreatedAt): img.CreatedAt, string(keyUpdatedAt): img.UpdatedAt} {
		v, err := t.MarshalBinary()
		if err != nil {
			return err
		}
		if err := b.Put([]byte(k), v); err != nil {
			return err
		}
	}
	tb, err := b.CreateBucket(bucketTarget)
	if err != nil {
		return err
	}
	if err := tb.Put(keyMediaType, []byte(img.Target.MediaType)); err != nil {
		return err
	}
	if err := tb.Put(keyDigest, []byte(img.Target.Digest)); err != nil {
		return err
	}
	if err := tb.Put(keySize, binary.AppendVarint(nil, img.Target.Size)); err != nil {
		return err
	}
	if len(img.Labels) == 0 {
		return nil
	}
	lb, err := b.CreateBucket(bucketLabels)
	if err != nil {
		return err
	}
	for k, v := range img.Labels {
		if err := lb.Put([]byte(k), []byte(v)); err != nil {
			return err
		}
	}
	return nil
}

func readImage(name string, b *bolt.Bucket) (Image, error) {
	img := Image{Name: name}
	if err := img.CreatedAt.UnmarshalBinary(b.Get(keyCreatedAt)); err != nil {
		return Image{}, fmt.Errorf("image %q: createdat: %w", name, err)
	}
	if err := img.UpdatedAt.UnmarshalBinary(b.Get(keyUpdatedAt)); err != nil {
		return Image{}, fmt.Errorf("image %q: updatedat: %w", name, err)
	}
	tb := b.Bucket(bucketTarget)
	if tb == nil {
		return Image{}, fmt.Errorf("image %q: no target", name)
	}
	img.Target.MediaType = string(tb.Get(keyMediaType))
	img.Target.Digest = digest.Digest(tb.Get(keyDigest))
	size, n := binary.Varint(tb.Get(keySize))
	if n <= 0 {
		return Image{}, fmt.Errorf("image %q: bad target size", name)
	}
	img.Target.Size = size
	if lb := b.Bucket(bucketLabels); lb != nil {
		img.Labels = map[string]string{}
		if err := lb.ForEach(func(k, v []byte) error {
			img.Labels[string(k)] = string(v)
			return nil
		}); err != nil {
			return Image{}, err
		}
	}
	return img, nil
}
