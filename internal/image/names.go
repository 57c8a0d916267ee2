// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package image

import (
	"context"
	"fmt"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-project/berth/internal/distribution"
	"github.com/berth-project/berth/internal/metadata"
)

// Removed is one thing Remove did, as in Docker's answer to `rmi`: a name
// untagged (normalized), or an image deleted.
type Removed struct {
	Untagged string
	Deleted  digest.Digest
}

// Tag gives the image src (any form Get takes) the name newRef, moving the
// name if another image had it. newRef must not hold a digest.
func (s *Store) Tag(ctx context.Context, src, newRef string) error {
	n, err := distribution.ParseRef(newRef)
	if err != nil {
		return err
	}
	if _, ok := n.(reference.Canonical); ok {
		return errdefs.ErrInvalidArgument.WithMessage("refusing to create a tag with a digest reference")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	img, err := s.Get(ctx, src)
	if err != nil {
		return err
	}
	return s.setName(ctx, n.String(), img.Target)
}

// setName points the record name at target. An image that loses its last
// name this way becomes dangling, as in Docker. s.mu is held.
func (s *Store) setName(ctx context.Context, name string, target ocispec.Descriptor) error {
	old, err := s.db.GetImage(ctx, name)
	switch {
	case errdefs.IsNotFound(err):
		_, err = s.db.CreateImage(ctx, metadata.Image{Name: name, Target: target})
	case err != nil:
		return err
	default:
		// Update even when unchanged, to set the update time, as a pull
		// of the same image does in Docker.
		_, err = s.db.UpdateImage(ctx, metadata.Image{Name: name, Target: target, Labels: old.Labels})
		if err == nil && old.Target.Digest != target.Digest {
			err = s.keepDangling(ctx, old.Target)
		}
	}
	if err != nil {
		return err
	}
	// A dangling image that gets a name is no longer dangling.
	if name != danglingPrefix+target.Digest.String() {
		if err := s.db.DeleteImage(ctx, danglingPrefix+target.Digest.String()); err != nil && !errdefs.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// keepDangling records target as a dangling image when no record names
// it any more.
func (s *Store) keepDangling(ctx context.Context, target ocispec.Descriptor) error {
	recs, err := s.db.ListImages(ctx)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if r.Target.Digest == target.Digest {
			return nil
		}
	}
	_, err = s.db.CreateImage(ctx, metadata.Image{Name: danglingPrefix + target.Digest.String(), Target: target})
	return err
}

// Remove removes an image or one of its names, as `docker rmi` does:
//
//   - By name (a tag or a digest reference): that name is untagged. When
//     it was the repository's last tag, the digest references of the same
//     repository go too. The image is deleted when no name is left.
//   - By ID or ID prefix: the image and all its names are deleted; an
//     image with several tags, or names in several repositories, needs
//     force (errdefs.ErrConflict otherwise).
//
// Deleting removes records only: GC removes the blobs and snapshots.
// Containers are not known here: the daemon refuses to remove an image a
// container uses before calling Remove.
func (s *Store) Remove(ctx context.Context, ref string, force bool) ([]Removed, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	img, name, err := s.lookup(ctx, ref)
	if err != nil {
		return nil, err
	}
	names, err := s.recordsOf(ctx, img.ID)
	if err != nil {
		return nil, err
	}
	var out []Removed
	untag := func(n string) error {
		if err := s.db.DeleteImage(ctx, n); err != nil {
			return err
		}
		if k, _ := nameKind(n); k != kindDangling {
			out = append(out, Removed{Untagged: n})
		}
		delete(names, n)
		return nil
	}
	if name != "" {
		if err := untag(name); err != nil {
			return out, err
		}
		if k, n := nameKind(name); k == kindTag && !hasTagIn(names, n.Name()) {
			for other := range names {
				if k, o := nameKind(other); k == kindDigest && o.Name() == n.Name() {
					if err := untag(other); err != nil {
						return out, err
					}
				}
			}
		}
		if len(names) > 0 {
			return out, nil
		}
	} else {
		if !force && !singleReference(names) {
			return nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories", shortOf(img.ID)))
		}
		for n := range names {
			if err := untag(n); err != nil {
				return out, err
			}
		}
	}
	return append(out, Removed{Deleted: img.ID}), nil
}

// recordsOf returns the names of the records of image id.
func (s *Store) recordsOf(ctx context.Context, id digest.Digest) (map[string]bool, error) {
	recs, err := s.db.ListImages(ctx)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, rec := range recs {
		r, err := s.resolve(ctx, rec.Target)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", rec.Name, err)
		}
		if r.config.Digest == id {
			names[rec.Name] = true
		}
	}
	return names, nil
}

func hasTagIn(names map[string]bool, repo string) bool {
	for n := range names {
		if k, r := nameKind(n); k == kindTag && r.Name() == repo {
			return true
		}
	}
	return false
}

// singleReference is Docker's isSingleReference: at most one tag, and all
// names in one repository.
func singleReference(names map[string]bool) bool {
	tags, repo := 0, ""
	for n := range names {
		k, r := nameKind(n)
		if k == kindDangling {
			continue
		}
		if k == kindTag {
			tags++
		}
		if repo != "" && r.Name() != repo {
			return false
		}
		repo = r.Name()
	}
	return tags <= 1
}

// shortOf is the 12-hex-digit form Docker prints.
func shortOf(id digest.Digest) string {
	if e := id.Encoded(); len(e) > 12 {
		return e[:12]
	}
	return id.Encoded()
}
