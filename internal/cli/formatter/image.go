// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package formatter

import (
	"slices"
	"strconv"
	"time"

	"github.com/berth-project/berth/internal/cli/imageref"
	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/image"
)

// Default image list formats.
const (
	DefaultImageTableFormat       = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
	DefaultImageTableFormatDigest = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
	QuietImageFormat              = "{{.ID}}"
)

// ImageFormat picks the format of "images".
func ImageFormat(format string, quiet, digests bool) Format {
	switch {
	case quiet:
		return QuietImageFormat
	case format == TableFormatKey || format == "":
		if digests {
			return DefaultImageTableFormatDigest
		}
		return DefaultImageTableFormat
	}
	return Format(format)
}

// ImageWrite writes the images in ctx's format, one row per repository
// and tag (and digest, with digests).
func ImageWrite(ctx Context, images []image.Summary, digests bool) error {
	return ctx.Write(&ImageContext{}, func(emit func(SubContext) error) error {
		for _, img := range images {
			for _, row := range imageRows(img, ctx.Trunc, digests || ctx.Format.Contains("{{.Digest}}")) {
				if err := emit(row); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func isDangling(img image.Summary) bool {
	if len(img.RepoTags) == 0 && len(img.RepoDigests) == 0 {
		return true
	}
	return len(img.RepoTags) == 1 && img.RepoTags[0] == "<none>:<none>" &&
		len(img.RepoDigests) == 1 && img.RepoDigests[0] == "<none>@<none>"
}

func imageRows(img image.Summary, trunc, showDigest bool) []*ImageContext {
	if isDangling(img) {
		return []*ImageContext{{trunc: trunc, i: img, repo: "<none>", tag: "<none>", digest: "<none>"}}
	}
	tags := map[string][]string{}
	var repos []string
	for _, s := range img.RepoTags {
		ref, err := imageref.ParseNormalized(s)
		if err != nil {
			continue
		}
		if ref.Tag != "" {
			r := ref.FamiliarName()
			if _, seen := tags[r]; !seen {
				repos = append(repos, r)
			}
			tags[r] = append(tags[r], ref.Tag)
		}
	}
	dgsts := map[string][]string{}
	var drepos []string
	for _, s := range img.RepoDigests {
		ref, err := imageref.ParseNormalized(s)
		if err != nil {
			continue
		}
		if ref.Digest != "" {
			r := ref.FamiliarName()
			if _, seen := dgsts[r]; !seen {
				drepos = append(drepos, r)
			}
			dgsts[r] = append(dgsts[r], ref.Digest)
		}
	}
	var rows []*ImageContext
	for _, repo := range repos {
		ds := dgsts[repo]
		delete(dgsts, repo)
		if !showDigest {
			ds = nil
		}
		for _, tag := range tags[repo] {
			if len(ds) == 0 {
				rows = append(rows, &ImageContext{trunc: trunc, i: img, repo: repo, tag: tag, digest: "<none>"})
				continue
			}
			for _, d := range ds {
				rows = append(rows, &ImageContext{trunc: trunc, i: img, repo: repo, tag: tag, digest: d})
			}
		}
	}
	for _, repo := range drepos {
		ds, ok := dgsts[repo]
		if !ok {
			continue
		}
		if !showDigest {
			rows = append(rows, &ImageContext{trunc: trunc, i: img, repo: repo, tag: "<none>", digest: "<none>"})
			continue
		}
		for _, d := range ds {
			rows = append(rows, &ImageContext{trunc: trunc, i: img, repo: repo, tag: "<none>", digest: d})
		}
	}
	return rows
}

// ImageContext is one row of "images".
type ImageContext struct {
	i                 image.Summary
	trunc             bool
	repo, tag, digest string
}

// FullHeader is the column header of every field.
func (c *ImageContext) FullHeader() any {
	return HeaderContext{
		"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
		"CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE", "Containers": "CONTAINERS",
		"VirtualSize": "VIRTUAL SIZE", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE",
	}
}

// MarshalJSON renders the row for {{json .}}.
func (c *ImageContext) MarshalJSON() ([]byte, error) { return MarshalJSON(c) }

// ID is the image ID, shortened unless --no-trunc.
func (c *ImageContext) ID() string {
	if c.trunc {
		return TruncateID(c.i.ID)
	}
	return c.i.ID
}

// Repository is the repository name.
func (c *ImageContext) Repository() string { return c.repo }

// Tag is the tag.
func (c *ImageContext) Tag() string { return c.tag }

// Digest is the repository digest.
func (c *ImageContext) Digest() string { return c.digest }

// CreatedSince is how long ago the image was created.
func (c *ImageContext) CreatedSince() string { return HumanSince(c.i.Created) }

// CreatedAt is the creation time.
func (c *ImageContext) CreatedAt() string { return time.Unix(c.i.Created, 0).String() }

// Size is the image size.
func (c *ImageContext) Size() string { return HumanSize(c.i.Size) }

// VirtualSize is the image size (an old name).
func (c *ImageContext) VirtualSize() string { return units.HumanSize(float64(c.i.Size)) }

// Containers is the number of containers using the image, "N/A" if unknown.
func (c *ImageContext) Containers() string {
	if c.i.Containers == -1 {
		return "N/A"
	}
	return strconv.FormatInt(c.i.Containers, 10)
}

// SharedSize is the size shared with other images, "N/A" if unknown.
func (c *ImageContext) SharedSize() string {
	if c.i.SharedSize == -1 {
		return "N/A"
	}
	return HumanSize(c.i.SharedSize)
}

// UniqueSize is the size not shared with other images.
func (c *ImageContext) UniqueSize() string {
	if c.i.SharedSize == -1 {
		return "N/A"
	}
	return HumanSize(c.i.Size - c.i.SharedSize)
}

// SortImages orders images newest first, as the daemon does.
func SortImages(images []image.Summary) {
	slices.SortStableFunc(images, func(a, b image.Summary) int { return int(b.Created - a.Created) })
}
