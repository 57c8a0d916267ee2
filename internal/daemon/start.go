// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/docker/go-units"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	ctr "github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/monitor"
	"github.com/berth-project/berth/internal/oci"
	"github.com/berth-project/berth/internal/runtime"
	"github.com/berth-project/berth/internal/snapshot"
)

// ContainerStart starts a created or exited container.
func (d *Daemon) ContainerStart(ctx context.Context, ref string) error {
	c, err := d.store.Get(ref)
	if err != nil {
		return err
	}
	c.Mu.Lock()
	defer c.Mu.Unlock()
	switch c.State.Status {
	case ctr.Paused:
		return errdefs.ErrConflict.WithMessage("cannot start a paused container, try unpause instead")
	case ctr.Running, ctr.Restarting:
		return errdefs.ErrNotModified
	case ctr.Removing, ctr.Dead:
		return errdefs.ErrConflict.WithMessage("container is marked for removal and cannot be started")
	}
	c.ManuallyStopped = false
	return d.start(ctx, c)
}

// makeWorkingDir makes the container's working directory in its root
// filesystem when the image lacks it, owned by root with mode 0755, as
// Docker does (-w or the image's WORKDIR need not exist). Symlinks are
// resolved inside the root, never on the host.
func makeWorkingDir(rootfs, dir string) error {
	if dir == "" {
		return nil
	}
	err := pathrs.MkdirAll(rootfs, dir, 0o755)
	if err == nil {
		return nil
	}
	if errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.EEXIST) {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Cannot mkdir: %s is not a directory", dir))
	}
	return fmt.Errorf("make the working directory %s: %w", dir, err)
}

// makeDockerFiles makes what Docker's init layer gives every container
// whose image lacks it: an empty /.dockerenv (which scripts test to know
// they run in a container) and /etc/mtab, a symlink to /proc/mounts. Like
// the runtime's mountpoints, they are no changes of the container (see
// archive.ContainerMountpoints). os.Root keeps every path inside rootfs.
func makeDockerFiles(rootfs string) error {
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		return err
	}
	defer root.Close()
	if f, err := root.OpenFile(".dockerenv", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755); err == nil {
		f.Close()
	} else if !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("make /.dockerenv: %w", err)
	}
	if fi, err := root.Lstat("etc"); err == nil && fi.IsDir() {
		if err := root.Symlink("/proc/mounts", "etc/mtab"); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("make /etc/mtab: %w", err)
		}
	}
	return nil
}

// start runs c. The caller holds c.Mu. A failed start leaves c exited with
// the error, exit code 127 for a missing program and 126 for one that
// cannot be run, as Docker records them, and nothing mounted.
func (d *Daemon) start(ctx context.Context, c *ctr.Container) (retErr error) {
	bundle := d.bundleDir(c.ID)
	c.CleanedUp = false // this run will leave things to clean up
	defer func() {
		if retErr == nil {
			return
		}
		d.cleanupRun(c)
		c.State.Error = retErr.Error()
		c.State.ExitCode = 128
		switch msg := retErr.Error(); {
		case strings.Contains(msg, "executable file not found"), strings.Contains(msg, "no such file or directory"):
			c.State.ExitCode = 127
		case strings.Contains(msg, "permission denied"):
			c.State.ExitCode = 126
		}
		if c.State.Status != ctr.Created || c.HasBeenStarted {
			c.State.Status = ctr.Exited
		}
		c.Save()
		d.endPending(c.ID)
		if c.State.ExitCode == 126 || c.State.ExitCode == 127 {
			// the program cannot be run: the client's fault, as Docker says
			retErr = errdefs.ErrInvalidArgument.WithMessage(retErr.Error())
		}
		if c.HostConfig.AutoRemove {
			// as Docker does: a --rm container that failed to start goes
			// (once the caller has released it)
			go func() {
				if err := d.ContainerRemove(context.Background(), c.ID, true, true); err != nil && !errdefs.IsNotFound(err) {
					d.log.Warn("auto-remove after failed start", "id", c.ID, "err", err)
				}
			}()
		}
	}()
	links, err := d.linkedContainers(c)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.Rootfs, 0o711); err != nil {
		return err
	}
	mounts, err := d.layerMounts(ctx, c)
	if err != nil {
		return fmt.Errorf("prepare the container's filesystem: %w", err)
	}
	if err := snapshot.MountAll(volatile(mounts, c.HostConfig.AutoRemove), c.Rootfs); err != nil {
		if err := snapshot.MountAll(mounts, c.Rootfs); err != nil {
			return fmt.Errorf("mount the container's filesystem: %w", err)
		}
	}
	if err := makeWorkingDir(c.Rootfs, c.Config.WorkingDir); err != nil {
		return err
	}
	if !c.HasBeenStarted {
		// once, as Docker's init layer is made once: a container that
		// deletes them keeps them deleted
		if err := makeDockerFiles(c.Rootfs); err != nil {
			return err
		}
	}
	userMounts, err := d.setupMounts(c)
	if err != nil {
		return err
	}
	if err := d.shareNetworkFiles(c); err != nil {
		return err
	}
	// a mount of the user's at /dev/shm (or /dev) wins, as in Docker
	if !oci.ReplacesDefault(userMounts, "/dev/shm") {
		shm, err := d.ipcShm(c)
		if err != nil {
			return err
		}
		userMounts = append(userMounts, shm...)
	}
	rootProp, err := rootPropagation(userMounts)
	if err != nil {
		return err
	}
	ns, err := d.setupNetwork(c, links)
	if err != nil {
		return err
	}
	d.publishNetworkEvents(c, events.ActionConnect)
	defer ns.close() // before the deferred cleanup above
	// The image's defaults were merged into c.Config at create: the spec
	// needs nothing more from the image store.
	spec, err := oci.Spec(oci.Input{
		NetNSPath:      ns.nsPath(),
		ID:             c.ID,
		Config:         c.Config,
		Host:           c.HostConfig,
		Rootfs:         c.Rootfs,
		Hostname:       c.Config.Hostname,
		HostnamePath:   c.HostnamePath,
		HostsPath:      c.HostsPath,
		ResolvConfPath: c.ResolvConfPath,
		NamespacePath:  d.namespacePath,
		CgroupParent:   d.cfg.CgroupParent,
		InitPath:       d.initPath,
		Mounts:         userMounts,
		LinkEnv:        linkEnv(links),
	})
	if err != nil {
		return err
	}
	if rootProp != "" {
		spec.Linux.RootfsPropagation = rootProp
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o600); err != nil {
		return err
	}
	mcfg := monitor.Config{
		ID:          c.ID,
		Tty:         c.Config.Tty,
		OpenStdin:   c.Config.OpenStdin,
		StdinOnce:   c.Config.StdinOnce,
		LogPath:     c.LogPath,
		LogMaxSize:  d.logMaxSize(c),
		LogMaxFiles: d.logMaxFiles(c),
	}
	opts := runtime.CreateOpts{ID: c.ID, Bundle: bundle, Launch: d.mon.Launcher(mcfg), Spec: spec, RawSpec: b}
	if c.Config.Tty {
		opts.Console = d.mon.Console(c.ID)
	}
	st, err := d.rt.Create(opts)
	if err != nil {
		return err
	}
	if err := d.mon.Watch(c.ID, st.Pid); err != nil {
		return err
	}
	d.attachPending(c.ID)
	if err := ns.wait(); err != nil {
		return err
	}
	if err := d.rt.Start(c.ID); err != nil {
		return err
	}
	c.HasBeenStarted = true
	c.Spec = spec
	c.State = ctr.State{Status: ctr.Running, Pid: st.Pid, StartedAt: time.Now().UTC(), Health: healthStarting(c)}
	if err := c.Save(); err != nil {
		d.log.Warn("save container state", "id", c.ID, "err", err)
	}
	d.publish(c, events.ActionStart, nil)
	d.startHealthcheck(c)
	return nil
}

// volatile adds overlayfs' "volatile" option to the writable overlay of
// a container that is removed when it exits (on): unmounting it then
// skips syncfs(2) of the upper file system, which costs milliseconds at
// each exit on a host with dirty data to write back, and fsync(2) in the
// container does nothing. Whatever such a container writes there goes
// with it at exit, and after a host crash restore removes it anyway, so
// nothing is lost that would have been kept (Podman makes the same
// choice). Every other container's fsync works, as in Docker. The kernel
// refuses any mount while a crash's work/incompat/volatile marker
// exists, so it is removed first either way. A kernel without the option
// (before 5.10) refuses the mount, and the caller mounts without it.
func volatile(mounts []snapshot.Mount, on bool) []snapshot.Mount {
	out := make([]snapshot.Mount, len(mounts))
	for i, m := range mounts {
		out[i] = m
		if m.Type != "overlay" {
			continue
		}
		for _, o := range m.Options {
			if work, ok := strings.CutPrefix(o, "workdir="); ok {
				os.RemoveAll(filepath.Join(work, "work", "incompat", "volatile"))
				if on {
					out[i].Options = append(append([]string{}, m.Options...), "volatile")
				}
			}
		}
	}
	return out
}

func (d *Daemon) logMaxSize(c *ctr.Container) int64 {
	s := c.HostConfig.LogConfig.Config["max-size"]
	if s == "" {
		s = d.cfg.LogOpts["max-size"]
	}
	if s == "" {
		return 0
	}
	n, err := units.RAMInBytes(s)
	if err != nil {
		return 0
	}
	return n
}

func (d *Daemon) logMaxFiles(c *ctr.Container) int {
	s := c.HostConfig.LogConfig.Config["max-file"]
	if s == "" {
		s = d.cfg.LogOpts["max-file"]
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// namespacePath resolves "container:<ref>" for the ipc, pid, uts and
// network modes to the namespace file of that container's process.
func (d *Daemon) namespacePath(kind, ref string) (string, error) {
	c, err := d.store.Get(ref)
	if err != nil {
		return "", err
	}
	c.Mu.Lock()
	defer c.Mu.Unlock()
	if !c.IsRunning() {
		return "", errdefs.ErrConflict.WithMessage(fmt.Sprintf("cannot join namespace of a non running container: container %s is %s", ref, c.State.Status))
	}
	return fmt.Sprintf("/proc/%d/ns/%s", c.State.Pid, kind), nil
}

// shmDir is where a container made with --ipc shareable has its /dev/shm:
// a tmpfs the daemon mounts on the host, so that containers that join its
// IPC namespace can bind the same one.
func shmDir(c *ctr.Container) string { return filepath.Join(c.Dir, "shm") }

// ipcShm gives /dev/shm for the IPC mode, as Docker does. A shareable
// container's is a tmpfs on the host (shmDir, unmounted by cleanupRun);
// --ipc container:<id> binds the other container's: POSIX shared memory
// lives there, not in the IPC namespace the runtime joins, and a mount of
// another mount namespace cannot be bound. As in Docker, only a container
// made with --ipc shareable can be joined. (One that does not run is
// refused by namespacePath, with Docker's words.) The caller holds c.Mu.
func (d *Daemon) ipcShm(c *ctr.Container) ([]specs.Mount, error) {
	bind := func(src string) []specs.Mount {
		return []specs.Mount{{Destination: "/dev/shm", Type: "bind", Source: src, Options: []string{"rbind", "rprivate"}}}
	}
	if c.HostConfig.IpcMode.IsShareable() {
		dir := shmDir(c)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		size := c.HostConfig.ShmSize
		if size <= 0 {
			size = oci.DefaultShmSize
		}
		unix.Unmount(dir, unix.MNT_DETACH) // one a crash left
		if err := unix.Mount("shm", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, fmt.Sprintf("mode=1777,size=%d", size)); err != nil {
			return nil, fmt.Errorf("mount the container's /dev/shm: %w", err)
		}
		return bind(dir), nil
	}
	if !c.HostConfig.IpcMode.IsContainer() {
		return nil, nil
	}
	ref := c.HostConfig.IpcMode.Container()
	donor, err := d.store.Get(ref)
	if err != nil {
		return nil, err
	}
	if donor == c {
		return nil, errdefs.ErrInvalidArgument.WithMessage("cannot join own IPC namespace")
	}
	donor.Mu.Lock()
	defer donor.Mu.Unlock()
	if !donor.HostConfig.IpcMode.IsShareable() {
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("can't join IPC of container %s: non-shareable IPC (hint: use IpcMode:shareable for the donor container)", ref))
	}
	if !donor.IsRunning() {
		return nil, nil
	}
	return bind(shmDir(donor)), nil
}

// watchExits records the exits the monitor reports.
func (d *Daemon) watchExits() {
	for {
		select {
		case <-d.stop:
			return
		case e, ok := <-d.mon.Exits():
			if !ok {
				return
			}
			if strings.Contains(e.ID, "/") {
				d.execExited(e)
				continue
			}
			d.containerExited(e.ID, e.Code, e.ExitedAt)
		}
	}
}

// containerExited cleans up after c's process exited (runtime state,
// cgroup, rootfs mount), records the exit, wakes waiters, and restarts or
// removes the container as its policy says.
func (d *Daemon) containerExited(id string, code int, at time.Time) {
	c, err := d.store.Get(id)
	if err != nil {
		d.mon.Forget(id)
		return
	}
	c.Mu.Lock()
	if c.State.Status != ctr.Running && c.State.Status != ctr.Paused && c.State.Status != ctr.Restarting {
		c.Mu.Unlock()
		d.mon.Forget(id)
		return
	}
	t0 := time.Now()
	d.cleanupRun(c) // sets OOMKilled
	c.State.Status = ctr.Exited
	c.State.Pid = 0
	c.State.ExitCode = code
	c.State.FinishedAt = at.UTC()
	if c.State.Health != nil {
		c.State.Health.Status = containertypes.Unhealthy
	}
	restart, delay := d.shouldRestart(c)
	if restart {
		c.State.Status = ctr.Restarting
	}
	autoRemove := c.HostConfig.AutoRemove && !restart && !c.RestartInProgress
	if !autoRemove {
		// (an --rm container is saved once, as removing, below; after a
		// crash before that, restore finds it gone and removes it)
		c.Save()
	}
	d.mon.Forget(id)
	d.log.Debug("exit: recorded", "id", id, "elapsed", time.Since(t0))
	d.publish(c, events.ActionDie, map[string]string{"exitCode": strconv.Itoa(code)})
	c.Mu.Unlock()
	d.notifyExit(c, code, autoRemove)
	switch {
	case restart:
		go d.restartLater(c, delay)
	case autoRemove:
		if err := d.ContainerRemove(context.Background(), id, true, true); err != nil && !errdefs.IsNotFound(err) {
			d.log.Warn("auto-remove", "id", id, "err", err)
		}
	}
}

// cleanupRun removes what a run left: the runtime's state and cgroup and
// the rootfs mount; State.OOMKilled records whether the cgroup saw an
// OOM kill. The caller holds c.Mu.
func (d *Daemon) cleanupRun(c *ctr.Container) {
	if c.CleanedUp {
		return
	}
	d.stopHealthcheck(c)
	d.publishNetworkEvents(c, events.ActionDisconnect)
	d.net.Stop(c.ID)
	// The runtime removes the cgroup it recorded; one it never recorded (a
	// create killed before it saved its state) is removed by its path.
	_, loadErr := d.rt.Load(c.ID)
	oom, err := d.rt.DeleteOOMKilled(c.ID, true)
	c.State.OOMKilled = oom
	if err != nil && !errdefs.IsNotFound(err) {
		d.log.Warn("runtime delete", "id", c.ID, "err", err)
	}
	if errdefs.IsNotFound(loadErr) {
		d.removeCgroup(c.ID)
	}
	d.releaseMounts(c)
	if c.HostConfig.IpcMode.IsShareable() {
		if err := unix.Unmount(shmDir(c), unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			d.log.Warn("unmount /dev/shm", "id", c.ID, "err", err)
		}
	}
	if err := snapshot.UnmountAll(c.Rootfs); err != nil {
		d.log.Warn("unmount rootfs", "id", c.ID, "err", err)
		return
	}
	c.CleanedUp = true
}

// shouldRestart applies the restart policy to an exit: whether and after
// how long (Docker's back-off: 100 ms doubling, reset after 10 s of
// running). The caller holds c.Mu.
func (d *Daemon) shouldRestart(c *ctr.Container) (bool, time.Duration) {
	p := c.HostConfig.RestartPolicy
	if c.ManuallyStopped || c.HostConfig.AutoRemove {
		return false, 0
	}
	switch p.Name {
	case containertypes.RestartPolicyAlways, containertypes.RestartPolicyUnlessStopped:
	case containertypes.RestartPolicyOnFailure:
		if c.State.ExitCode == 0 || p.MaximumRetryCount > 0 && c.RestartCount >= p.MaximumRetryCount {
			return false, 0
		}
	default:
		return false, 0
	}
	if time.Since(c.State.StartedAt) > 10*time.Second {
		return true, 100 * time.Millisecond
	}
	delay := 100 * time.Millisecond << min(c.RestartCount, 10)
	return true, min(delay, time.Minute)
}

func (d *Daemon) restartLater(c *ctr.Container, delay time.Duration) {
	select {
	case <-time.After(delay):
	case <-d.stop:
		return
	}
	c.Mu.Lock()
	defer c.Mu.Unlock()
	if c.State.Status != ctr.Restarting || c.ManuallyStopped {
		return
	}
	c.RestartCount++
	if err := d.start(context.Background(), c); err != nil {
		d.log.Warn("restart", "id", c.ID, "err", err)
		c.State.Status = ctr.Exited
		c.Save()
		return
	}
	d.publish(c, events.ActionRestart, nil)
}

// publish sends a container event with Docker's attributes: name, image
// and the labels.
func (d *Daemon) publish(c *ctr.Container, action events.Action, extra map[string]string) {
	attrs := map[string]string{"name": c.ShortName(), "image": c.ImageRef}
	for k, v := range c.Config.Labels {
		attrs[k] = v
	}
	for k, v := range extra {
		attrs[k] = v
	}
	d.events.Publish(events.ContainerEventType, action, c.ID, attrs)
}
