// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package daemon

import (
	"context"
	"fmt"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/events"
	imagetypes "github.com/moby/moby/api/types/image"

	"github.com/berth-project/berth/internal/api/httputils"
	ctr "github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/distribution"
	"github.com/berth-project/berth/internal/image"
)

// ImageDelete answers DELETE /images/{name}, with Docker's rules for
// images that containers use: removing the last name of such an image
// needs force (and then leaves it dangling, so the containers keep it);
// removing it by ID needs force when only stopped containers use it and
// is refused, even forced, while one runs.
func (b imageBackend) ImageDelete(ctx context.Context, ref string, force, prune bool) ([]imagetypes.DeleteResponse, error) {
	d := b.d
	img, err := d.images.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	var running, stopped *ctr.Container
	for _, c := range d.containerUse()[img.ID.String()] {
		c.Mu.Lock()
		if c.IsRunning() {
			running = c
		} else {
			stopped = c
		}
		c.Mu.Unlock()
	}
	user := running
	if user == nil {
		user = stopped
	}
	short := strings.TrimPrefix(img.ID.String(), "sha256:")[:12]
	var removed []image.Removed
	name, byName := nameOf(img, ref)
	switch {
	case user == nil:
		removed, err = d.images.Remove(ctx, ref, force)
	case byName && !lastName(img, name):
		removed, err = d.images.Remove(ctx, ref, force)
	case byName && !force:
		return nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("conflict: unable to remove repository reference %q (must force) - container %s is using its referenced image %s",
			ref, user.Short(), short))
	case byName:
		removed, err = d.images.Untag(ctx, ref, force)
	case running != nil:
		return nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("conflict: unable to delete %s (cannot be forced) - image is being used by running container %s",
			short, running.Short()))
	case !force:
		return nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("conflict: unable to delete %s (must be forced) - image is being used by stopped container %s",
			short, stopped.Short()))
	default:
		removed, err = d.images.Untag(ctx, ref, force)
	}
	out := d.deleteResponses(ctx, img, removed)
	if err != nil {
		return out, err
	}
	if len(out) > 0 && out[len(out)-1].Deleted != "" {
		if _, err := d.images.GC(ctx); err != nil {
			d.log.Warn("image GC after delete", "err", err)
		}
	}
	return out, nil
}

// deleteResponses turns what the store removed into Docker's answer and
// events.
func (d *Daemon) deleteResponses(ctx context.Context, img image.Image, removed []image.Removed) []imagetypes.DeleteResponse {
	out := []imagetypes.DeleteResponse{}
	for _, r := range removed {
		if r.Untagged != "" {
			n := familiar([]string{r.Untagged})
			if len(n) == 0 {
				continue
			}
			out = append(out, imagetypes.DeleteResponse{Untagged: n[0]})
			d.events.Publish(events.ImageEventType, events.ActionUnTag, img.ID.String(), map[string]string{"name": n[0]})
		}
		if r.Deleted != "" {
			out = append(out, imagetypes.DeleteResponse{Deleted: r.Deleted.String()})
			d.events.Publish(events.ImageEventType, events.ActionDelete, r.Deleted.String(), map[string]string{"name": r.Deleted.String()})
		}
	}
	return out
}

// nameOf returns the normalized name ref gives img, if ref is one of its
// names rather than its ID.
func nameOf(img image.Image, ref string) (string, bool) {
	n, err := distribution.ParseRef(ref)
	if err != nil {
		return "", false
	}
	for _, have := range append(append([]string{}, img.RepoTags...), img.RepoDigests...) {
		if have == n.String() {
			return have, true
		}
	}
	return "", false
}

// lastName tells whether removing name leaves img without a name, as
// Store.Remove does it: a repository's last tag takes the repository's
// digest references with it.
func lastName(img image.Image, name string) bool {
	n, _ := reference.ParseNormalizedNamed(name)
	_, isTag := n.(reference.Tagged)
	left := 0
	tagsLeft := map[string]bool{}
	for _, t := range img.RepoTags {
		if t != name {
			left++
			if r, err := reference.ParseNormalizedNamed(t); err == nil {
				tagsLeft[r.Name()] = true
			}
		}
	}
	for _, dg := range img.RepoDigests {
		if dg == name {
			continue
		}
		r, err := reference.ParseNormalizedNamed(dg)
		if err == nil && isTag && r.Name() == n.Name() && !tagsLeft[n.Name()] {
			continue
		}
		left++
	}
	return left == 0
}

// ImagePrune answers POST /images/prune: it removes the dangling images
// (every image with dangling=false) that no container uses and that the
// filters (until, label, label!) select, then collects their blobs and
// layers.
func (b imageBackend) ImagePrune(ctx context.Context, f httputils.Filters) (*imagetypes.PruneReport, error) {
	d := b.d
	onlyDangling, set, err := boolFilter(f, "dangling")
	if err != nil {
		return nil, err
	}
	if !set {
		onlyDangling = true
	}
	pf := httputils.Filters{}
	for _, k := range []string{"until", "label", "label!"} {
		if f.Has(k) {
			pf[k] = f[k]
		}
	}
	flt, err := d.newImageFilter(ctx, pf)
	if err != nil {
		return nil, err
	}
	imgs, err := d.images.List(ctx)
	if err != nil {
		return nil, err
	}
	use := d.containerUse()
	rep := &imagetypes.PruneReport{}
	for _, img := range imgs {
		if (onlyDangling && !dangling(img)) || img.Intermediate || len(use[img.ID.String()]) > 0 || !flt.match(img) {
			continue
		}
		removed, err := d.images.Remove(ctx, img.ID.String(), true)
		if err != nil {
			d.log.Debug("prune: remove image", "id", img.ID, "err", err)
			continue
		}
		rep.ImagesDeleted = append(rep.ImagesDeleted, d.deleteResponses(ctx, img, removed)...)
	}
	if len(rep.ImagesDeleted) > 0 {
		res, err := d.images.GC(ctx)
		if err != nil {
			return rep, err
		}
		rep.SpaceReclaimed = uint64(res.BlobBytes)
	}
	d.events.Publish(events.ImageEventType, events.ActionPrune, "", map[string]string{"reclaimed": fmt.Sprint(rep.SpaceReclaimed)})
	return rep, nil
}
