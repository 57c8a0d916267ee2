// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package daemon

import (
	"context"
	"fmt"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/volume"

	"github.com/berth-project/berth/internal/api/httputils"
)

// VolumeList lists the volumes: none until volumes land.
func (d *Daemon) VolumeList(ctx context.Context, f httputils.Filters) (volume.ListResponse, error) {
	return volume.ListResponse{Volumes: []volume.Volume{}, Warnings: []string{}}, nil
}

// VolumeInspect finds a volume.
func (d *Daemon) VolumeInspect(ctx context.Context, name string) (volume.Volume, error) {
	return volume.Volume{}, errdefs.ErrNotFound.WithMessage(fmt.Sprintf("get %s: no such volume", name))
}

// VolumeCreate is not implemented yet.
func (d *Daemon) VolumeCreate(ctx context.Context, req *volume.CreateRequest) (volume.Volume, error) {
	return volume.Volume{}, errdefs.ErrNotImplemented.WithMessage("volume create: volumes are not implemented yet")
}

// VolumeRemove removes a volume.
func (d *Daemon) VolumeRemove(ctx context.Context, name string, force bool) error {
	if force {
		return nil
	}
	return errdefs.ErrNotFound.WithMessage(fmt.Sprintf("get %s: no such volume", name))
}

// VolumePrune removes unused volumes: there are none.
func (d *Daemon) VolumePrune(ctx context.Context, f httputils.Filters) (volume.PruneReport, error) {
	return volume.PruneReport{VolumesDeleted: []string{}}, nil
}
