// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package daemon

import (
	"context"
	"errors"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"

	ctr "github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/monitor"
	"github.com/berth-project/berth/internal/runtime/cgroup"
	"github.com/berth-project/berth/internal/snapshot"
)

// isContainerID reports whether s is a full container ID: 64 lowercase hex
// digits.
func isContainerID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// restore loads the containers and reconciles them with what the monitor
// and the runtime know, after a clean stop or a crash at any point:
// containers still running are re-adopted, those that exited meanwhile get
// their exit recorded, and what a crash left half-made (a create without
// a record, a removal under way) is finished or undone.
func (d *Daemon) restore(ctx context.Context) error {
	procs, err := d.mon.List()
	if err != nil {
		return err
	}
	known := map[string]monitor.Process{}
	for _, p := range procs {
		known[p.ID] = p
	}
	dir := filepath.Join(d.cfg.DataRoot, "containers")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var exited []monitor.Process
	var removing, autostart []*ctr.Container
	for _, e := range entries {
		if !isContainerID(e.Name()) {
			continue
		}
		c, err := ctr.Load(filepath.Join(dir, e.Name()))
		if err != nil {
			// killed before its record was written: undo the create
			d.log.Info("removing a container whose create did not finish", "id", e.Name())
			d.discard(ctx, e.Name())
			continue
		}
		if err := d.store.Reserve(c); err != nil {
			d.log.Warn("restore container", "id", c.ID, "err", err)
			continue
		}
		switch c.State.Status {
		case ctr.Removing, ctr.Dead:
			removing = append(removing, c)
		case ctr.Running, ctr.Paused, ctr.Restarting:
			p, ok := known[c.ID]
			switch {
			case ok && p.Running:
				if st, err := d.rt.Load(c.ID); err == nil && st.Status == "paused" {
					c.State.Status = ctr.Paused
				} else if c.State.Status == ctr.Restarting {
					c.State.Status = ctr.Running
				}
				c.State.Pid = p.Pid
				d.log.Debug("re-adopted running container", "id", c.ID, "pid", p.Pid)
			case ok:
				exited = append(exited, p)
			default:
				// the monitor does not know it (it was restarted, or the
				// crash came between create and start): its process, if
				// any, cannot be watched any more
				d.log.Warn("container lost its monitor; stopping it", "id", c.ID)
				exited = append(exited, monitor.Process{ID: c.ID, Code: 255, ExitedAt: time.Now()})
				if c.State.Status == ctr.Restarting {
					c.State.Status = ctr.Running
				}
			}
		case ctr.Exited:
			if c.HostConfig.RestartPolicy.Name == "always" || c.HostConfig.RestartPolicy.Name == "unless-stopped" && !c.ManuallyStopped {
				autostart = append(autostart, c)
			}
			fallthrough
		default:
			d.cleanupRun(c)
		}
		c.Save()
	}
	for _, p := range exited {
		d.containerExited(p.ID, p.Code, p.ExitedAt)
	}
	for _, p := range procs {
		if _, err := d.store.Get(p.ID); err != nil && !p.Running {
			d.mon.Forget(p.ID) // an exec's or a removed container's record
		}
	}
	for _, c := range removing {
		c.State.Status = ctr.Exited
		if err := d.ContainerRemove(ctx, c.ID, true, false); err != nil {
			d.log.Warn("finish removal", "id", c.ID, "err", err)
		}
	}
	d.cleanOrphans(ctx)
	d.restoreNetworks()
	for _, c := range autostart {
		c.Mu.Lock()
		if err := d.start(ctx, c); err != nil {
			d.log.Warn("start container on daemon start", "id", c.ID, "err", err)
		}
		c.Mu.Unlock()
	}
	return nil
}

// discard removes what a container that was never recorded may have left,
// its cgroup included: a create killed before the runtime recorded its
// state leaves one that only its path names.
func (d *Daemon) discard(ctx context.Context, id string) {
	d.rt.Delete(id, true)
	d.removeCgroup(id)
	d.net.RemoveEndpoints(id)
	snapshot.UnmountAll(filepath.Join(d.bundleDir(id), "rootfs"))
	os.RemoveAll(d.bundleDir(id))
	if err := d.images.Snapshotter().Remove(ctx, id); err != nil && !errdefs.IsNotFound(err) {
		d.log.Warn("remove snapshot", "id", id, "err", err)
	}
	os.RemoveAll(filepath.Join(d.cfg.DataRoot, "containers", id))
}

// removeCgroup removes the container's cgroup when the runtime did not: a
// create killed before the runtime saved its state leaves one that only
// its path names, maybe with the half-made container's process in it.
func (d *Daemon) removeCgroup(id string) {
	cg, err := cgroup.New(id, path.Join(d.cfg.CgroupParent, id), nil)
	if err != nil {
		return
	}
	for range 100 {
		pids, err := cg.Pids()
		if err != nil || len(pids) == 0 {
			break
		}
		cg.Thaw()
		for _, pid := range pids {
			unix.Kill(pid, unix.SIGKILL)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cg.Destroy(); err != nil {
		d.log.Debug("remove cgroup", "id", id, "err", err)
	}
}

// cleanOrphans removes runtime states, bundles and writable layers that
// belong to no container.
func (d *Daemon) cleanOrphans(ctx context.Context) {
	seen := map[string]bool{}
	if states, err := d.rt.List(); err == nil {
		for _, st := range states {
			seen[st.ID] = true
		}
	}
	if entries, err := os.ReadDir(filepath.Join(d.cfg.ExecRoot, "containers")); err == nil {
		for _, e := range entries {
			seen[e.Name()] = true
		}
	}
	d.images.Snapshotter().Walk(ctx, func(ctx context.Context, info snapshot.Info) error {
		if info.Kind == snapshot.KindActive && isContainerID(info.Name) {
			seen[info.Name] = true
		}
		return nil
	})
	for id := range seen {
		if !isContainerID(id) {
			continue
		}
		if _, err := d.store.Get(id); errors.Is(err, errdefs.ErrNotFound) {
			d.log.Info("removing leftovers of an unknown container", "id", id)
			d.discard(ctx, id)
		}
	}
}
