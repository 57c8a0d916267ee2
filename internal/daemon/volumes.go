// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package daemon

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/volume"

	"github.com/berth-project/berth/internal/api/httputils"
	vol "github.com/berth-project/berth/internal/volume"
)

// volumeInfo is a volume in the API's shape.
func (d *Daemon) volumeInfo(r vol.Record) volume.Volume {
	return volume.Volume{
		Name:       r.Name,
		Driver:     vol.DriverName,
		Mountpoint: d.vols.Path(r.Name),
		CreatedAt:  r.CreatedAt.Format(time.RFC3339),
		Labels:     r.Labels,
		Options:    r.Options,
		Scope:      "local",
	}
}

// VolumeList lists the volumes the filters select: "name" (a part of the
// name), "label", "driver" and "dangling" (used by no container).
func (d *Daemon) VolumeList(ctx context.Context, f httputils.Filters) (volume.ListResponse, error) {
	dangling, err := danglingFilter(f)
	if err != nil {
		return volume.ListResponse{}, err
	}
	out := volume.ListResponse{Volumes: []volume.Volume{}}
	users := d.volumeUsers()
	for _, r := range d.vols.List() {
		if !matchVolume(f, r, dangling, len(users[r.Name]) > 0) {
			continue
		}
		out.Volumes = append(out.Volumes, d.volumeInfo(r))
	}
	return out, nil
}

// danglingFilter reads "dangling": nil when absent.
func danglingFilter(f httputils.Filters) (*bool, error) {
	vs := f["dangling"]
	if len(vs) == 0 {
		return nil, nil
	}
	var want bool
	switch strings.ToLower(vs[0]) {
	case "true", "1":
		want = true
	case "false", "0":
	default:
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter 'dangling=%s'", vs[0]))
	}
	return &want, nil
}

func matchVolume(f httputils.Filters, r vol.Record, dangling *bool, used bool) bool {
	if names := f["name"]; len(names) > 0 && !matchRegexp(names, r.Name) {
		return false
	}
	if !f.Match("driver", vol.DriverName) || !f.MatchLabels("label", r.Labels) {
		return false
	}
	return dangling == nil || *dangling == !used
}

// VolumeInspect finds a volume.
func (d *Daemon) VolumeInspect(ctx context.Context, name string) (volume.Volume, error) {
	r, err := d.vols.Get(name)
	if err != nil {
		return volume.Volume{}, err
	}
	return d.volumeInfo(r), nil
}

// checkDriver refuses any driver but the local one, with Docker's error
// for a plugin it cannot find.
func checkDriver(name string) error {
	if name == "" || name == vol.DriverName {
		return nil
	}
	return errdefs.ErrNotFound.WithMessage(fmt.Sprintf("error looking up volume plugin %s: plugin %q not found", name, name))
}

// VolumeCreate makes a volume, or returns the one of that name.
func (d *Daemon) VolumeCreate(ctx context.Context, req *volume.CreateRequest) (volume.Volume, error) {
	name := req.Name
	if name == "" {
		name = vol.NewName()
	}
	if err := checkDriver(req.Driver); err != nil {
		return volume.Volume{}, fmt.Errorf("create %s: %w", name, err)
	}
	r, created, err := d.vols.Create(name, req.Labels, req.DriverOpts)
	if err != nil {
		return volume.Volume{}, err
	}
	if created {
		d.events.Publish(events.VolumeEventType, events.ActionCreate, r.Name, map[string]string{"driver": vol.DriverName})
	}
	return d.volumeInfo(r), nil
}

// VolumeRemove removes a volume that no container uses; force ignores a
// missing one (a volume in use is refused all the same, as Docker does).
func (d *Daemon) VolumeRemove(ctx context.Context, name string, force bool) error {
	err := d.vols.Remove(name, d.volumeUsersOf)
	if err != nil {
		if force && errdefs.IsNotFound(err) {
			return nil
		}
		return err
	}
	d.events.Publish(events.VolumeEventType, events.ActionDestroy, name, map[string]string{"driver": vol.DriverName})
	return nil
}

// VolumePrune removes the volumes no container uses: anonymous ones, or
// all with the "all" filter, as "label" and "label!" select.
func (d *Daemon) VolumePrune(ctx context.Context, f httputils.Filters) (volume.PruneReport, error) {
	rep := volume.PruneReport{VolumesDeleted: []string{}}
	all := false
	if vs := f["all"]; len(vs) > 0 {
		switch strings.ToLower(vs[0]) {
		case "true", "1":
			all = true
		case "false", "0":
		default:
			return rep, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter 'all=%s'", vs[0]))
		}
	}
	for _, r := range d.vols.List() {
		if !all && !r.Anonymous() || !f.MatchLabels("label", r.Labels) || anyLabel(f["label!"], r.Labels) {
			continue
		}
		size := d.vols.Size(r.Name)
		if err := d.vols.Remove(r.Name, d.volumeUsersOf); err != nil {
			continue // in use, or gone meanwhile
		}
		d.events.Publish(events.VolumeEventType, events.ActionDestroy, r.Name, map[string]string{"driver": vol.DriverName})
		rep.VolumesDeleted = append(rep.VolumesDeleted, r.Name)
		if size > 0 {
			rep.SpaceReclaimed += uint64(size)
		}
	}
	d.events.Publish(events.VolumeEventType, events.ActionPrune, "", map[string]string{"reclaimed": fmt.Sprint(rep.SpaceReclaimed)})
	return rep, nil
}

// volumeDiskUsage lists the volumes for `system df`, with their size and
// how many containers use them.
func (d *Daemon) volumeDiskUsage() []*volume.Volume {
	users := d.volumeUsers()
	out := []*volume.Volume{}
	for _, r := range d.vols.List() {
		v := d.volumeInfo(r)
		v.UsageData = &volume.UsageData{Size: d.vols.Size(r.Name), RefCount: int64(len(users[r.Name]))}
		out = append(out, &v)
	}
	return out
}
