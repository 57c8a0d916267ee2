// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package daemon

import (
	"context"
	"strings"
	"time"

	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/storage"

	ctr "github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/snapshot"
)

// ContainerInspect answers `inspect` in Docker's shape.
func (d *Daemon) ContainerInspect(ctx context.Context, ref string, size bool) (*containertypes.InspectResponse, error) {
	c, err := d.store.Get(ref)
	if err != nil {
		return nil, err
	}
	c.Mu.Lock()
	defer c.Mu.Unlock()
	st := c.State
	r := &containertypes.InspectResponse{
		ID:      c.ID,
		Created: c.Created.Format(time.RFC3339Nano),
		Path:    c.Path,
		Args:    c.Args,
		State: &containertypes.State{
			Status:     containertypes.ContainerState(st.Status),
			Running:    st.Status == ctr.Running || st.Status == ctr.Paused,
			Paused:     st.Status == ctr.Paused,
			Restarting: st.Status == ctr.Restarting,
			OOMKilled:  st.OOMKilled,
			Dead:       st.Status == ctr.Dead,
			Pid:        st.Pid,
			ExitCode:   st.ExitCode,
			Error:      st.Error,
			StartedAt:  timeOrZero(st.StartedAt),
			FinishedAt: timeOrZero(st.FinishedAt),
			Health:     st.Health,
		},
		Image:           c.Image,
		ResolvConfPath:  c.ResolvConfPath,
		HostnamePath:    c.HostnamePath,
		HostsPath:       c.HostsPath,
		LogPath:         c.LogPath,
		Name:            c.Name,
		RestartCount:    c.RestartCount,
		Driver:          "overlayfs",
		Platform:        "linux",
		ExecIDs:         d.execIDs(c.ID),
		HostConfig:      c.HostConfig,
		Mounts:          d.inspectMounts(c),
		Config:          c.Config,
		NetworkSettings: d.networkSettings(c),
	}
	d.waitLayer(c.ID)
	if mounts, err := d.images.Snapshotter().Mounts(ctx, c.ID); err == nil {
		if upper, lower, err := snapshot.DiffDirs(mounts); err == nil {
			data := map[string]string{"UpperDir": upper, "MergedDir": c.Rootfs}
			if len(lower) > 0 {
				data["LowerDir"] = strings.Join(lower, ":")
			}
			r.GraphDriver = &storage.DriverData{Name: "overlay2", Data: data}
		}
	}
	if size {
		rw := d.sizeRw(ctx, c.ID)
		rootfs := rw + d.imageSize(ctx, c.Image)
		r.SizeRw, r.SizeRootFs = &rw, &rootfs
	}
	return r, nil
}

func timeOrZero(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00Z"
	}
	return t.Format(time.RFC3339Nano)
}

// sizeRw is the size of the container's writable layer.
func (d *Daemon) sizeRw(ctx context.Context, id string) int64 {
	d.waitLayer(id)
	u, err := d.images.Snapshotter().Usage(ctx, id)
	if err != nil {
		return 0
	}
	return u.Size
}

// imageSize is the unpacked size of the image's layers.
func (d *Daemon) imageSize(ctx context.Context, ref string) int64 {
	img, err := d.images.Get(ctx, ref)
	if err != nil || img.ChainID == "" {
		return 0
	}
	var total int64
	key := img.ChainID.String()
	for key != "" {
		info, err := d.images.Snapshotter().Stat(ctx, key)
		if err != nil {
			break
		}
		if u, err := d.images.Snapshotter().Usage(ctx, key); err == nil {
			total += u.Size
		}
		key = info.Parent
	}
	return total
}
