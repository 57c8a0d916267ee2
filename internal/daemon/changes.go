// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package daemon

import (
	"context"
	"io"

	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/internal/archive"
	ctr "github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/snapshot"
)

// ContainerChanges lists what the container changed in its filesystem
// (`docker diff`), from its writable layer.
func (d *Daemon) ContainerChanges(ctx context.Context, ref string) ([]containertypes.FilesystemChange, error) {
	c, err := d.store.Get(ref)
	if err != nil {
		return nil, err
	}
	mounts, err := d.layerMounts(ctx, c)
	if err != nil {
		return nil, err
	}
	upper, lower, err := snapshot.DiffDirs(mounts)
	if err != nil {
		return nil, err
	}
	c.Mu.Lock()
	write := archive.WriteDiff
	if c.HasBeenStarted {
		write = archive.WriteRunDiff
	}
	c.Mu.Unlock()
	changes, err := write(ctx, io.Discard, upper, lower)
	if err != nil {
		return nil, err
	}
	out := make([]containertypes.FilesystemChange, 0, len(changes))
	for _, ch := range changes {
		out = append(out, containertypes.FilesystemChange{Path: ch.Path, Kind: containertypes.ChangeType(ch.Kind)})
	}
	return out, nil
}

// ContainerExport writes the container's whole filesystem as a tar.
func (d *Daemon) ContainerExport(ctx context.Context, ref string, w io.Writer) error {
	c, err := d.store.Get(ref)
	if err != nil {
		return err
	}
	c.Mu.Lock()
	running := c.IsRunning()
	c.Mu.Unlock()
	defer d.publish(c, events.ActionExport, nil)
	if running {
		return archive.Tar(ctx, w, c.Rootfs, archive.TarOptions{})
	}
	return d.withRootfs(ctx, c, func(root string) error {
		return archive.Tar(ctx, w, root, archive.TarOptions{})
	})
}

// withRootfs mounts a stopped container's filesystem for fn, as start
// mounts it (see volatile: a crash's marker is removed first, and an --rm
// container's mount is volatile), or plainly where the kernel has no such
// option.
func (d *Daemon) withRootfs(ctx context.Context, c *ctr.Container, fn func(root string) error) error {
	mounts, err := d.layerMounts(ctx, c)
	if err != nil {
		return err
	}
	mounted := false
	err = snapshot.WithTempMount(ctx, volatile(mounts, c.HostConfig.AutoRemove), func(root string) error {
		mounted = true
		return fn(root)
	})
	if err != nil && !mounted {
		return snapshot.WithTempMount(ctx, mounts, fn)
	}
	return err
}
