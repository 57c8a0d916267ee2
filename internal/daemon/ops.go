// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package daemon

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/containerd/errdefs"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/sys/signal"
	"golang.org/x/sys/unix"

	ctr "github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/oci"
)

type waiter struct {
	cond containertypes.WaitCondition
	ch   chan containertypes.WaitResponse
}

func (d *Daemon) addWaiter(id string, cond containertypes.WaitCondition) *waiter {
	w := &waiter{cond: cond, ch: make(chan containertypes.WaitResponse, 1)}
	d.mu.Lock()
	d.waiters[id] = append(d.waiters[id], w)
	d.mu.Unlock()
	return w
}

func (d *Daemon) dropWaiter(id string, w *waiter) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ws := d.waiters[id]
	for i, x := range ws {
		if x == w {
			d.waiters[id] = append(ws[:i:i], ws[i+1:]...)
			break
		}
	}
	if len(d.waiters[id]) == 0 {
		delete(d.waiters, id)
	}
}

// notifyExit wakes the waiters for an exit; those waiting for removal
// keep waiting unless the container stays (not auto-removed).
func (d *Daemon) notifyExit(c *ctr.Container, code int, removing bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var keep []*waiter
	for _, w := range d.waiters[c.ID] {
		if w.cond == containertypes.WaitConditionRemoved {
			keep = append(keep, w)
			continue
		}
		w.ch <- containertypes.WaitResponse{StatusCode: int64(code)}
	}
	d.waiters[c.ID] = keep
}

// notifyRemoved wakes every waiter of a removed container.
func (d *Daemon) notifyRemoved(c *ctr.Container, code int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, w := range d.waiters[c.ID] {
		w.ch <- containertypes.WaitResponse{StatusCode: int64(code)}
	}
	delete(d.waiters, c.ID)
}

// ContainerWait waits for condition: "not-running" (the default) answers at
// once for a container that is not running, "next-exit" waits for the next
// exit, "removed" for the removal.
func (d *Daemon) ContainerWait(ctx context.Context, ref string, cond containertypes.WaitCondition) (<-chan containertypes.WaitResponse, error) {
	c, err := d.store.Get(ref)
	if err != nil {
		return nil, err
	}
	if cond == "" {
		cond = containertypes.WaitConditionNotRunning
	}
	c.Mu.Lock()
	running := c.IsRunning()
	code := c.State.ExitCode
	w := d.addWaiter(c.ID, cond)
	c.Mu.Unlock()
	if cond == containertypes.WaitConditionNotRunning && !running {
		d.dropWaiter(c.ID, w)
		ch := make(chan containertypes.WaitResponse, 1)
		ch <- containertypes.WaitResponse{StatusCode: int64(code)}
		return ch, nil
	}
	out := make(chan containertypes.WaitResponse, 1)
	go func() {
		select {
		case r := <-w.ch:
			out <- r
		case <-ctx.Done():
			d.dropWaiter(c.ID, w)
			close(out)
		}
	}()
	return out, nil
}

func parseSignal(s string) (unix.Signal, error) {
	sig, err := signal.ParseSignal(s)
	if err != nil {
		return 0, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("%v", err))
	}
	return unix.Signal(sig), nil
}

// ContainerKill sends signal (default KILL) to the container's process.
func (d *Daemon) ContainerKill(ctx context.Context, ref, sigName string) error {
	c, err := d.store.Get(ref)
	if err != nil {
		return err
	}
	if sigName == "" {
		sigName = "KILL"
	}
	sig, err := parseSignal(sigName)
	if err != nil {
		return err
	}
	c.Mu.Lock()
	defer c.Mu.Unlock()
	if !c.IsRunning() {
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Cannot kill container: %s: Container %s is not running", ref, c.ID))
	}
	if sig == unix.SIGKILL {
		c.ManuallyStopped = true
	}
	if err := d.rt.Kill(c.ID, sig, sig == unix.SIGKILL); err != nil {
		return fmt.Errorf("Cannot kill container: %s: %w", ref, err)
	}
	d.publish(c, events.ActionKill, map[string]string{"signal": fmt.Sprint(int(sig))})
	return nil
}

// ContainerStop sends the stop signal, waits up to the timeout, then kills.
func (d *Daemon) ContainerStop(ctx context.Context, ref, sigName string, timeout *int) error {
	c, err := d.store.Get(ref)
	if err != nil {
		return err
	}
	return d.stopContainer(ctx, c, sigName, timeout)
}

func (d *Daemon) stopContainer(ctx context.Context, c *ctr.Container, sigName string, timeout *int) error {
	c.Mu.Lock()
	if !c.IsRunning() {
		if c.State.Status == ctr.Restarting {
			c.ManuallyStopped = true
			c.State.Status = ctr.Exited
			c.Save()
		}
		c.Mu.Unlock()
		return errdefs.ErrNotModified
	}
	c.ManuallyStopped = true
	if sigName == "" {
		sigName = c.Config.StopSignal
	}
	if sigName == "" {
		sigName = "TERM"
	}
	t := 10
	if c.Config.StopTimeout != nil {
		t = *c.Config.StopTimeout
	}
	if timeout != nil {
		t = *timeout
	}
	sig, err := parseSignal(sigName)
	if err != nil {
		c.Mu.Unlock()
		return err
	}
	w := d.addWaiter(c.ID, containertypes.WaitConditionNextExit)
	defer d.dropWaiter(c.ID, w)
	paused := c.State.Status == ctr.Paused
	c.Mu.Unlock()
	if !paused && t != 0 {
		if err := d.rt.Kill(c.ID, sig, false); err == nil {
			var expire <-chan time.Time
			if t > 0 {
				expire = time.After(time.Duration(t) * time.Second)
			}
			select {
			case <-w.ch:
				d.publish(c, events.ActionStop, nil)
				return nil
			case <-expire:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	if err := d.rt.Kill(c.ID, unix.SIGKILL, true); err != nil && !errdefs.IsNotFound(err) {
		d.log.Debug("stop: kill", "id", c.ID, "err", err)
	}
	select {
	case <-w.ch:
	case <-time.After(30 * time.Second):
		return fmt.Errorf("container %s did not exit after SIGKILL", c.ID)
	}
	d.publish(c, events.ActionStop, nil)
	return nil
}

// ContainerRestart stops (if running) and starts the container.
func (d *Daemon) ContainerRestart(ctx context.Context, ref, sig string, timeout *int) error {
	c, err := d.store.Get(ref)
	if err != nil {
		return err
	}
	c.Mu.Lock()
	c.RestartInProgress = true
	c.Mu.Unlock()
	err = d.stopContainer(ctx, c, sig, timeout)
	c.Mu.Lock()
	defer c.Mu.Unlock()
	c.RestartInProgress = false
	if err != nil && !errdefs.IsNotModified(err) {
		return err
	}
	if c.IsRunning() {
		return nil // restarted by its policy meanwhile
	}
	c.ManuallyStopped = false
	if err := d.start(ctx, c); err != nil {
		return err
	}
	d.publish(c, events.ActionRestart, nil)
	return nil
}

// ContainerRemove removes a container that is not running (or kills it
// first with force), its writable layer, log and files.
func (d *Daemon) ContainerRemove(ctx context.Context, ref string, force, volumes bool) error {
	c, err := d.store.Get(ref)
	if err != nil {
		return err
	}
	c.Mu.Lock()
	if c.State.Status == ctr.Removing {
		c.Mu.Unlock()
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("removal of container %s is already in progress", ref))
	}
	if c.IsRunning() {
		if !force {
			c.Mu.Unlock()
			if c.State.Status == ctr.Paused {
				return errdefs.ErrConflict.WithMessage(fmt.Sprintf("cannot remove container %q: container is paused and must be unpaused first", c.Name))
			}
			return errdefs.ErrConflict.WithMessage(fmt.Sprintf("cannot remove container %q: container is running: stop the container before removing or force remove", c.Name))
		}
		c.ManuallyStopped = true
		w := d.addWaiter(c.ID, containertypes.WaitConditionNextExit)
		c.Mu.Unlock()
		d.rt.Kill(c.ID, unix.SIGKILL, true)
		select {
		case <-w.ch:
		case <-time.After(30 * time.Second):
			d.dropWaiter(c.ID, w)
			return fmt.Errorf("cannot remove container %q: it did not exit after SIGKILL", c.Name)
		}
		c.Mu.Lock()
	}
	if c.State.Status == ctr.Removing {
		c.Mu.Unlock()
		return nil // auto-removed meanwhile
	}
	c.ManuallyStopped = true
	c.State.Status = ctr.Removing
	c.Save()
	// An --rm container's anonymous volumes go with it however it goes:
	// an rm -f that wins the race with its auto-removal must not keep them.
	volumes = volumes || c.HostConfig.AutoRemove
	code := c.State.ExitCode
	d.cleanupRun(c)
	d.net.RemoveEndpoints(c.ID)
	// From here the container is gone for clients: its name is free and
	// waiters for its removal are answered (`run --rm` returns) while its
	// files are deleted. A crash before they are leaves the record in
	// "removing", and the next start finishes the removal.
	d.store.Delete(c)
	d.publish(c, events.ActionDestroy, nil)
	d.notifyRemoved(c, code)
	defer c.Mu.Unlock()
	d.waitLayer(c.ID)
	if err := d.images.Snapshotter().Remove(context.WithoutCancel(ctx), c.ID); err != nil && !errdefs.IsNotFound(err) {
		c.State.Status = ctr.Dead
		c.Save()
		return fmt.Errorf("remove the container's filesystem: %w", err)
	}
	d.dropMounts(c, volumes)
	os.RemoveAll(d.bundleDir(c.ID))
	os.RemoveAll(c.Dir)
	d.mon.Forget(c.ID)
	return nil
}

// ContainerPause freezes the container's processes.
func (d *Daemon) ContainerPause(ctx context.Context, ref string) error {
	c, err := d.store.Get(ref)
	if err != nil {
		return err
	}
	c.Mu.Lock()
	defer c.Mu.Unlock()
	switch c.State.Status {
	case ctr.Running:
	case ctr.Paused:
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is already paused", c.ID))
	default:
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is not running", c.ID))
	}
	if err := d.rt.Pause(c.ID); err != nil {
		return err
	}
	c.State.Status = ctr.Paused
	c.Save()
	d.publish(c, events.ActionPause, nil)
	return nil
}

// ContainerUnpause thaws a paused container.
func (d *Daemon) ContainerUnpause(ctx context.Context, ref string) error {
	c, err := d.store.Get(ref)
	if err != nil {
		return err
	}
	c.Mu.Lock()
	defer c.Mu.Unlock()
	if c.State.Status != ctr.Paused {
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is not paused", c.ID))
	}
	if err := d.rt.Resume(c.ID); err != nil {
		return err
	}
	c.State.Status = ctr.Running
	c.Save()
	d.publish(c, events.ActionUnPause, nil)
	return nil
}

// ContainerRename gives the container a new name.
func (d *Daemon) ContainerRename(ctx context.Context, ref, newName string) error {
	if newName == "" {
		return errdefs.ErrInvalidArgument.WithMessage("Neither old nor new names may be empty")
	}
	c, err := d.store.Get(ref)
	if err != nil {
		return err
	}
	c.Mu.Lock()
	defer c.Mu.Unlock()
	old := c.Name
	if old == "/"+newName {
		return errdefs.ErrInvalidArgument.WithMessage("Renaming a container with the same name as its current name")
	}
	if err := d.store.Rename(c, old, newName); err != nil {
		return err
	}
	c.Name = "/" + newName
	c.Save()
	d.net.Rename(c.ID, newName)
	d.publish(c, events.ActionRename, map[string]string{"oldName": old})
	return nil
}

// ContainerUpdate changes resources (applied at once to a running
// container) and the restart policy.
func (d *Daemon) ContainerUpdate(ctx context.Context, ref string, u *containertypes.UpdateConfig) (containertypes.UpdateResponse, error) {
	var resp containertypes.UpdateResponse
	c, err := d.store.Get(ref)
	if err != nil {
		return resp, err
	}
	c.Mu.Lock()
	defer c.Mu.Unlock()
	hc := *c.HostConfig
	mergeResources(&hc.Resources, &u.Resources)
	if u.RestartPolicy.Name != "" {
		if hc.AutoRemove && u.RestartPolicy.Name != containertypes.RestartPolicyDisabled {
			return resp, errdefs.ErrInvalidArgument.WithMessage("Restart policy cannot be updated because AutoRemove is enabled for the container")
		}
		if err := oci.ValidateRestartPolicy(u.RestartPolicy); err != nil {
			return resp, err
		}
		hc.RestartPolicy = u.RestartPolicy
	}
	if err := oci.ValidateHostConfig(&hc); err != nil {
		return resp, err
	}
	if c.IsRunning() {
		res, err := oci.Resources(&hc)
		if err != nil {
			return resp, err
		}
		if err := d.rt.Update(c.ID, res); err != nil {
			return resp, fmt.Errorf("Cannot update container %s: %w", c.ID, err)
		}
	}
	c.HostConfig = &hc
	c.Save()
	d.publish(c, events.ActionUpdate, nil)
	resp.Warnings = []string{}
	return resp, nil
}

// mergeResources copies the fields set in u onto r.
func mergeResources(r, u *containertypes.Resources) {
	if u.BlkioWeight != 0 {
		r.BlkioWeight = u.BlkioWeight
	}
	if u.CPUShares != 0 {
		r.CPUShares = u.CPUShares
	}
	if u.CPUPeriod != 0 {
		r.CPUPeriod = u.CPUPeriod
	}
	if u.CPUQuota != 0 {
		r.CPUQuota = u.CPUQuota
	}
	if u.NanoCPUs != 0 {
		r.NanoCPUs = u.NanoCPUs
	}
	if u.CpusetCpus != "" {
		r.CpusetCpus = u.CpusetCpus
	}
	if u.CpusetMems != "" {
		r.CpusetMems = u.CpusetMems
	}
	if u.Memory != 0 {
		r.Memory = u.Memory
	}
	if u.MemorySwap != 0 {
		r.MemorySwap = u.MemorySwap
	}
	if u.MemoryReservation != 0 {
		r.MemoryReservation = u.MemoryReservation
	}
	if u.PidsLimit != nil {
		r.PidsLimit = u.PidsLimit
	}
}
