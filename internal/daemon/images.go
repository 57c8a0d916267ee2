// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package daemon

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/types/events"
	imagetypes "github.com/moby/moby/api/types/image"
	"github.com/opencontainers/image-spec/identity"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-project/berth/internal/api/httputils"
	imagerouter "github.com/berth-project/berth/internal/api/router/image"
	"github.com/berth-project/berth/internal/api/server"
	ctr "github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/image"
)

// imageSummary is an element of /images/json and of /system/df.
type imageSummary = imagetypes.Summary

// imageBackend is the image routes' backend: the daemon itself, under a
// name of its own so that its methods do not clash with other routers'.
type imageBackend struct{ d *Daemon }

func newImageRouter(d *Daemon) server.Router { return imagerouter.New(imageBackend{d}) }

// familiar shows a normalized name as Docker does ("busybox:latest").
func familiar(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if r, err := reference.ParseNormalizedNamed(n); err == nil {
			out = append(out, reference.FamiliarString(r))
		}
	}
	slices.Sort(out) // Docker's reference store keeps them sorted
	return out
}

// containerUse counts, per image ID, the containers made from it, and
// lists them.
func (d *Daemon) containerUse() map[string][]*ctr.Container {
	use := map[string][]*ctr.Container{}
	for _, c := range d.store.List() {
		c.Mu.Lock()
		use[c.Image] = append(use[c.Image], c)
		c.Mu.Unlock()
	}
	return use
}

// layerSizes returns the unpacked size of each image's own layers, as the
// usage of the snapshots of its chain; sizes caches per snapshot.
func (d *Daemon) layerSize(ctx context.Context, img image.Image, sizes map[string]int64) int64 {
	var total int64
	for key := img.ChainID.String(); key != ""; {
		info, err := d.images.Snapshotter().Stat(ctx, key)
		if err != nil {
			break
		}
		size, ok := sizes[key]
		if !ok {
			if u, err := d.images.Snapshotter().Usage(ctx, key); err == nil {
				size = u.Size
			}
			sizes[key] = size
		}
		total += size
		key = info.Parent
	}
	return total
}

// imageSummaries lists every image as /images/json shows it, newest first,
// with the number of containers using each, and the total size of all
// layers (each counted once).
func (d *Daemon) imageSummaries(ctx context.Context, all bool) ([]imageSummary, int64, error) {
	imgs, err := d.images.List(ctx)
	if err != nil {
		return nil, 0, err
	}
	newestFirst(imgs)
	use := d.containerUse()
	sizes := map[string]int64{}
	out := make([]imageSummary, 0, len(imgs))
	for _, img := range imgs {
		out = append(out, d.summarize(ctx, img, int64(len(use[img.ID.String()])), sizes))
	}
	var layers int64
	for _, s := range sizes {
		layers += s
	}
	return out, layers, nil
}

func (d *Daemon) summarize(ctx context.Context, img image.Image, containers int64, sizes map[string]int64) imageSummary {
	target := img.Target
	s := imageSummary{
		ID:          img.ID.String(),
		RepoTags:    familiar(img.RepoTags),
		RepoDigests: familiar(img.RepoDigests),
		Size:        d.layerSize(ctx, img, sizes),
		SharedSize:  -1,
		Containers:  containers,
		Labels:      img.Config.Config.Labels,
		Descriptor:  &target,
	}
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	if img.Config.Created != nil {
		s.Created = img.Config.Created.Unix()
	}
	return s
}

// newestFirst sorts images as Docker lists them, by creation time.
func newestFirst(imgs []image.Image) {
	slices.SortStableFunc(imgs, func(a, b image.Image) int { return created(b).Compare(created(a)) })
}

func dangling(img image.Image) bool { return len(img.RepoTags) == 0 && len(img.RepoDigests) == 0 }

func created(img image.Image) time.Time {
	if img.Config.Created != nil {
		return *img.Config.Created
	}
	return time.Time{}
}

// boolFilter reads a "true"/"false" filter such as dangling.
func boolFilter(f httputils.Filters, term string) (value, set bool, err error) {
	for _, v := range f[term] {
		switch strings.ToLower(v) {
		case "true", "1":
			value, set = true, true
		case "false", "0":
			value, set = false, true
		default:
			return false, false, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter '%s=%s'", term, v))
		}
	}
	return value, set, nil
}

// imageFilter is the filter of /images/json and /images/prune.
type imageFilter struct {
	f                     httputils.Filters
	dangling, danglingSet bool
	before, since, until  time.Time
}

func (d *Daemon) newImageFilter(ctx context.Context, f httputils.Filters) (*imageFilter, error) {
	flt := &imageFilter{f: f}
	var err error
	if flt.dangling, flt.danglingSet, err = boolFilter(f, "dangling"); err != nil {
		return nil, err
	}
	for term, t := range map[string]*time.Time{"before": &flt.before, "since": &flt.since} {
		for _, v := range f[term] {
			img, err := d.images.Get(ctx, v)
			if err != nil {
				return nil, err
			}
			*t = created(img)
		}
	}
	for _, v := range f["until"] {
		if flt.until, err = parseUntil(v); err != nil {
			return nil, err
		}
	}
	for _, v := range f["reference"] {
		if _, err := path.Match(v, ""); err != nil {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter 'reference=%s'", v))
		}
	}
	return flt, nil
}

func (flt *imageFilter) match(img image.Image) bool {
	c := created(img)
	switch {
	case flt.danglingSet && dangling(img) != flt.dangling,
		!flt.before.IsZero() && !c.Before(flt.before),
		!flt.since.IsZero() && !c.After(flt.since),
		!flt.until.IsZero() && !c.Before(flt.until),
		!flt.f.MatchLabels("label", img.Config.Config.Labels),
		anyLabel(flt.f["label!"], img.Config.Config.Labels):
		return false
	}
	if len(flt.f["reference"]) > 0 {
		tags, digests := flt.matchingRefs(img)
		return len(tags)+len(digests) > 0
	}
	return true
}

// matchingRefs are the tags and digests of img that a reference filter
// selects: as Docker lists them, an image found by one of its names
// shows only the names that matched.
func (flt *imageFilter) matchingRefs(img image.Image) (tags, digests []string) {
	pats := flt.f["reference"]
	matches := func(refs []string) []string {
		var out []string
		for _, n := range refs {
			r, err := reference.ParseNormalizedNamed(n)
			if err != nil {
				continue
			}
			for _, p := range pats {
				if ok, _ := reference.FamiliarMatch(p, r); ok {
					out = append(out, n)
					break
				}
			}
		}
		return out
	}
	return matches(img.RepoTags), matches(img.RepoDigests)
}

// ImageList answers GET /images/json.
func (b imageBackend) ImageList(ctx context.Context, all bool, f httputils.Filters) ([]imagetypes.Summary, error) {
	d := b.d
	flt, err := d.newImageFilter(ctx, f)
	if err != nil {
		return nil, err
	}
	imgs, err := d.images.List(ctx)
	if err != nil {
		return nil, err
	}
	newestFirst(imgs)
	use := d.containerUse()
	sizes := map[string]int64{}
	out := []imagetypes.Summary{}
	for _, img := range imgs {
		if flt.match(img) && (all || !img.Intermediate) {
			s := d.summarize(ctx, img, int64(len(use[img.ID.String()])), sizes)
			if len(flt.f["reference"]) > 0 {
				tags, digests := flt.matchingRefs(img)
				s.RepoTags, s.RepoDigests = familiar(tags), familiar(digests)
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// ImageInspect answers GET /images/{name}/json.
func (b imageBackend) ImageInspect(ctx context.Context, ref string) (*imagetypes.InspectResponse, error) {
	d := b.d
	img, err := d.images.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	cfg := img.Config
	// Healthcheck, Shell and OnBuild are Docker's extensions of the
	// config, which img.Config has no fields for.
	full := &dockerspec.DockerOCIImageConfig{ImageConfig: cfg.Config}
	if dc, err := d.images.DockerConfig(ctx, img.ID); err == nil {
		full = &dc.Config
	}
	resp := &imagetypes.InspectResponse{
		ID:           img.ID.String(),
		RepoTags:     familiar(img.RepoTags),
		RepoDigests:  familiar(img.RepoDigests),
		Author:       cfg.Author,
		Config:       full,
		Architecture: cfg.Architecture,
		Variant:      cfg.Variant,
		Os:           cfg.OS,
		OsVersion:    cfg.OSVersion,
		Size:         d.layerSize(ctx, img, map[string]int64{}),
		RootFS:       imagetypes.RootFS{Type: cfg.RootFS.Type},
		Descriptor:   &img.Target,
	}
	if cfg.Created != nil {
		resp.Created = cfg.Created.Format(time.RFC3339Nano)
	}
	if n := len(cfg.History); n > 0 {
		resp.Comment = cfg.History[n-1].Comment
	}
	for _, id := range cfg.RootFS.DiffIDs {
		resp.RootFS.Layers = append(resp.RootFS.Layers, id.String())
	}
	return resp, nil
}

// ImageHistory answers GET /images/{name}/history: the config's history,
// newest first, each entry that made a layer with that layer's size.
func (b imageBackend) ImageHistory(ctx context.Context, ref string) ([]imagetypes.HistoryResponseItem, error) {
	d := b.d
	img, err := d.images.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	diffIDs := img.Config.RootFS.DiffIDs
	chains := identity.ChainIDs(slices.Clone(diffIDs))
	history := img.Config.History
	if len(history) == 0 {
		// An image without history (some OCI images): one entry a layer.
		for range diffIDs {
			history = append(history, ocispec.History{Created: img.Config.Created})
		}
	}
	out := make([]imagetypes.HistoryResponseItem, 0, len(history))
	layer := 0
	for _, h := range history {
		item := imagetypes.HistoryResponseItem{ID: "<missing>", CreatedBy: h.CreatedBy, Comment: h.Comment, Tags: []string{}}
		if h.Created != nil {
			item.Created = h.Created.Unix()
		}
		if !h.EmptyLayer && layer < len(chains) {
			if u, err := d.images.Snapshotter().Usage(ctx, chains[layer].String()); err == nil {
				item.Size = u.Size
			}
			layer++
		}
		out = append(out, item)
	}
	slices.Reverse(out)
	if len(out) > 0 {
		out[0].ID = img.ID.String()
		out[0].Tags = familiar(img.RepoTags)
	}
	return out, nil
}

// imageEvent publishes an image event as Docker's LogImageEvent does: the
// actor is id, its attributes the name and the image's labels.
func (d *Daemon) imageEvent(ctx context.Context, action events.Action, id, name string) {
	attrs := map[string]string{"name": name}
	if img, err := d.images.Get(ctx, id); err == nil {
		for k, v := range img.Config.Config.Labels {
			attrs[k] = v
		}
	}
	d.events.Publish(events.ImageEventType, action, id, attrs)
}

// ImageTag answers POST /images/{name}/tag.
func (b imageBackend) ImageTag(ctx context.Context, src, ref string) error {
	d := b.d
	n, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid reference format %q", ref))
	}
	img, err := d.images.Get(ctx, src)
	if err != nil {
		return err
	}
	if err := d.images.Tag(ctx, img.ID.String(), ref); err != nil {
		return err
	}
	d.imageEvent(ctx, events.ActionTag, img.ID.String(), reference.FamiliarString(reference.TagNameOnly(n)))
	return nil
}
