// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/containerd/errdefs"
	securejoin "github.com/cyphar/filepath-securejoin"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/mount"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	ctr "github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/oci"
	vol "github.com/berth-project/berth/internal/volume"
)

// mountPoint is one of a container's volume, bind or tmpfs mounts as
// resolved at create. A container's list is kept in <container dir>/
// mounts.json (JSON array of mountPoint, written by temp file and rename).
type mountPoint struct {
	Type        mount.Type
	Name        string `json:",omitempty"` // the volume
	Destination string
	Mode        string `json:",omitempty"`
	RW          bool
	Propagation mount.Propagation `json:",omitempty"`
	// Anonymous volumes were made for this container: rm -v removes them.
	Anonymous bool `json:",omitempty"`
	// CopyData fills an empty volume from the image at Destination.
	CopyData bool   `json:",omitempty"`
	Subpath  string `json:",omitempty"`
	// Listed mount points are in inspect's Mounts (--tmpfs ones are not).
	Listed bool `json:",omitempty"`
	// Spec is the runtime mount; a volume's Source is set at each start.
	Spec specs.Mount
}

// mountTable caches the containers' mount points and remembers the
// volumes a create made, to undo them if the create fails.
type mountTable struct {
	mu      sync.Mutex
	byID    map[string][]mountPoint
	created map[string][]string
}

func (d *Daemon) initVolumes() error {
	s, err := vol.Open(filepath.Join(d.cfg.DataRoot, "volumes"))
	if err != nil {
		return fmt.Errorf("open volume store: %w", err)
	}
	d.vols = s
	// a cp into a stopped container that the daemon did not finish
	s.ReleaseUsersWithPrefix(cpUserPrefix)
	d.cleanCpRoots()
	d.mnts = &mountTable{byID: map[string][]mountPoint{}, created: map[string][]string{}}
	return nil
}

// mountsOf returns c's mount points, reading them from disk the first
// time (after a daemon restart).
func (d *Daemon) mountsOf(c *ctr.Container) []mountPoint {
	d.mnts.mu.Lock()
	defer d.mnts.mu.Unlock()
	if mps, ok := d.mnts.byID[c.ID]; ok {
		return mps
	}
	var mps []mountPoint
	if b, err := os.ReadFile(filepath.Join(c.Dir, "mounts.json")); err == nil {
		json.Unmarshal(b, &mps)
	}
	d.mnts.byID[c.ID] = mps
	return mps
}

// volumeUsers maps each volume to the containers that refer to it.
func (d *Daemon) volumeUsers() map[string][]string {
	users := map[string][]string{}
	for _, c := range d.store.List() {
		for _, mp := range d.mountsOf(c) {
			if mp.Type == mount.TypeVolume && !slices.Contains(users[mp.Name], c.ID) {
				users[mp.Name] = append(users[mp.Name], c.ID)
			}
		}
	}
	return users
}

func (d *Daemon) volumeUsersOf(name string) []string { return d.volumeUsers()[name] }

// createMounts resolves c's -v, --mount, --tmpfs, --volumes-from and
// image VOLUMEs into mount points, creating the volumes they name, and
// records them. Errors are Docker's; the volumes made are removed by
// undoMounts if the create fails later.
func (d *Daemon) createMounts(c *ctr.Container) (retErr error) {
	hc := c.HostConfig
	var created []string
	defer func() {
		d.mnts.mu.Lock()
		d.mnts.created[c.ID] = created
		d.mnts.mu.Unlock()
		if retErr != nil {
			d.undoMounts(c)
		}
	}()
	type volInfo struct {
		name      string
		anonymous bool
		copy      bool
	}
	resolved := map[string]volInfo{}
	resolve := func(m mount.Mount) (string, error) {
		labels := map[string]string{}
		var opts map[string]string
		nocopy := false
		if o := m.VolumeOptions; o != nil {
			nocopy = o.NoCopy
			for k, v := range o.Labels {
				labels[k] = v
			}
			if o.DriverConfig != nil {
				if err := checkDriver(o.DriverConfig.Name); err != nil {
					return "", err
				}
				opts = o.DriverConfig.Options
			}
		}
		name, anonymous := m.Source, m.Source == ""
		if anonymous {
			name = vol.NewName()
			labels[vol.AnonymousLabel] = ""
		}
		r, isNew, err := d.vols.Create(name, labels, opts)
		if err != nil {
			return "", err
		}
		if isNew {
			created = append(created, r.Name)
		}
		resolved[path.Clean(m.Target)] = volInfo{r.Name, anonymous, !nocopy}
		return d.vols.Path(r.Name), nil
	}
	specMounts, err := oci.Mounts(hc, resolve)
	if err != nil {
		return err
	}
	byDest := map[string]mountPoint{}
	if err := d.volumesFrom(hc.VolumesFrom, byDest); err != nil {
		return err
	}
	subpaths := map[string]string{}
	for _, m := range hc.Mounts {
		if m.VolumeOptions != nil && m.VolumeOptions.Subpath != "" {
			subpaths[path.Clean(m.Target)] = m.VolumeOptions.Subpath
		}
	}
	for _, sm := range specMounts {
		mp := mountPoint{Destination: sm.Destination, RW: !slices.Contains(sm.Options, "ro"), Spec: sm, Listed: true}
		switch {
		case sm.Type == "tmpfs":
			mp.Type = mount.TypeTmpfs
			_, fromFlag := hc.Tmpfs[sm.Destination]
			if !fromFlag {
				for k := range hc.Tmpfs {
					fromFlag = fromFlag || path.Clean(k) == sm.Destination
				}
			}
			mp.Listed = !fromFlag
		case resolved[sm.Destination].name != "":
			v := resolved[sm.Destination]
			mp.Type, mp.Name, mp.Anonymous, mp.CopyData = mount.TypeVolume, v.name, v.anonymous, v.copy
			mp.Subpath = subpaths[sm.Destination]
			mp.Mode = "z"
			if !mp.RW {
				mp.Mode = "ro"
			}
			mp.Spec.Source = ""
		default:
			mp.Type = mount.TypeBind
			mp.Propagation = mount.PropagationRPrivate
			for _, o := range sm.Options {
				if slices.Contains(mount.Propagations, mount.Propagation(o)) {
					mp.Propagation = mount.Propagation(o)
				}
			}
			if !mp.RW {
				mp.Mode = "ro"
			}
		}
		byDest[sm.Destination] = mp
	}
	dests := make([]string, 0, len(c.Config.Volumes))
	for dst := range c.Config.Volumes {
		dests = append(dests, dst)
	}
	sort.Strings(dests)
	for _, dst := range dests {
		if !path.IsAbs(dst) {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid mount path: '%s' mount path must be absolute", dst))
		}
		dst = path.Clean(dst)
		if dst == "/" {
			return errdefs.ErrInvalidArgument.WithMessage("invalid specification: destination can't be '/'")
		}
		if _, ok := byDest[dst]; ok {
			continue
		}
		r, _, err := d.vols.Create("", map[string]string{vol.AnonymousLabel: ""}, nil)
		if err != nil {
			return err
		}
		created = append(created, r.Name)
		byDest[dst] = mountPoint{Type: mount.TypeVolume, Name: r.Name, Destination: dst, RW: true, Anonymous: true, CopyData: true, Listed: true,
			Spec: specs.Mount{Destination: dst, Type: "bind", Options: []string{"rbind"}}}
	}
	mps := make([]mountPoint, 0, len(byDest))
	for _, mp := range byDest {
		mps = append(mps, mp)
	}
	sort.Slice(mps, func(i, j int) bool { return mps[i].Destination < mps[j].Destination })
	return d.saveMounts(c, mps)
}

// volumesFrom adds the mount points of the containers named in
// --volumes-from ("<container>[:ro|rw]") to byDest.
func (d *Daemon) volumesFrom(from []string, byDest map[string]mountPoint) error {
	for _, spec := range from {
		ref, mode, _ := strings.Cut(spec, ":")
		if mode != "" && mode != "ro" && mode != "rw" {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid mode: %s", mode))
		}
		src, err := d.store.Get(ref)
		if err != nil {
			return err
		}
		for _, mp := range d.mountsOf(src) {
			if mp.Type == mount.TypeTmpfs {
				continue
			}
			mp.Anonymous = false
			mp.CopyData = false
			mp.Spec.Options = slices.Clone(mp.Spec.Options)
			if mode != "" {
				mp.RW = mode == "rw"
				mp.Spec.Options = slices.DeleteFunc(mp.Spec.Options, func(o string) bool { return o == "ro" || o == "rw" })
				if !mp.RW {
					mp.Spec.Options = append(mp.Spec.Options, "ro")
				}
				if mp.Type == mount.TypeBind || mp.Mode == "ro" || mp.Mode == "rw" {
					mp.Mode = mode
				}
			}
			byDest[mp.Destination] = mp
		}
	}
	return nil
}

// saveMounts records c's mount points; a container without any has no
// file (the common case costs no write).
func (d *Daemon) saveMounts(c *ctr.Container, mps []mountPoint) error {
	if len(mps) == 0 {
		d.mnts.mu.Lock()
		d.mnts.byID[c.ID] = nil
		d.mnts.mu.Unlock()
		return nil
	}
	b, err := json.Marshal(mps)
	if err != nil {
		return err
	}
	tmp := filepath.Join(c.Dir, ".mounts.json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(c.Dir, "mounts.json")); err != nil {
		return err
	}
	d.mnts.mu.Lock()
	d.mnts.byID[c.ID] = mps
	d.mnts.mu.Unlock()
	return nil
}

// createDone forgets the volumes a successful create made.
func (d *Daemon) createDone(c *ctr.Container) {
	d.mnts.mu.Lock()
	delete(d.mnts.created, c.ID)
	d.mnts.mu.Unlock()
}

// undoMounts removes the volumes a failed create made, and forgets its
// mount points.
func (d *Daemon) undoMounts(c *ctr.Container) {
	d.mnts.mu.Lock()
	created := d.mnts.created[c.ID]
	delete(d.mnts.created, c.ID)
	delete(d.mnts.byID, c.ID)
	d.mnts.mu.Unlock()
	for _, name := range created {
		if err := d.vols.Remove(name, d.volumeUsersOf); err != nil && !errdefs.IsNotFound(err) {
			d.log.Warn("remove volume of a failed create", "volume", name, "err", err)
		}
	}
}

// setupMounts mounts c's volumes for a run and returns its mounts for the
// runtime spec. The rootfs is mounted at c.Rootfs: an empty volume is
// filled from the image's content at its destination, as Docker does.
// What it mounted is released by releaseMounts (cleanupRun).
func (d *Daemon) setupMounts(c *ctr.Container) ([]specs.Mount, error) {
	var out []specs.Mount
	for _, mp := range d.mountsOf(c) {
		sm := mp.Spec
		sm.Options = slices.Clone(sm.Options)
		switch mp.Type {
		case mount.TypeVolume:
			p, err := d.vols.Mount(mp.Name, c.ID)
			if err != nil {
				return nil, err
			}
			if mp.Subpath != "" {
				if p, err = securejoin.SecureJoin(p, mp.Subpath); err != nil {
					return nil, err
				}
				if _, err := os.Stat(p); err != nil {
					return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("cannot access path %s: %v", p, err))
				}
			} else if mp.CopyData {
				if err := populateVolume(c.Rootfs, mp.Destination, p); err != nil {
					return nil, fmt.Errorf("copy the image's %s into volume %s: %w", mp.Destination, mp.Name, err)
				}
			}
			sm.Source = p
			d.events.Publish(events.VolumeEventType, events.ActionMount, mp.Name, map[string]string{
				"driver": vol.DriverName, "container": c.ID, "destination": mp.Destination,
				"read/write": strconv.FormatBool(mp.RW), "propagation": string(mp.Propagation),
			})
		case mount.TypeBind:
			// -v creates a missing host directory, at each start as Docker
			if _, err := os.Stat(sm.Source); errors.Is(err, os.ErrNotExist) {
				if err := os.MkdirAll(sm.Source, 0o755); err != nil {
					return nil, err
				}
			}
		}
		out = append(out, sm)
	}
	return out, nil
}

// releaseMounts undoes setupMounts. The caller holds c.Mu.
func (d *Daemon) releaseMounts(c *ctr.Container) {
	for _, mp := range d.mountsOf(c) {
		if mp.Type == mount.TypeVolume {
			if r, err := d.vols.Get(mp.Name); err != nil || !slices.Contains(r.Users, c.ID) {
				continue
			}
			if err := d.vols.Unmount(mp.Name, c.ID); err != nil {
				d.log.Warn("release volume", "id", c.ID, "volume", mp.Name, "err", err)
				continue
			}
			d.events.Publish(events.VolumeEventType, events.ActionUnmount, mp.Name, map[string]string{"driver": vol.DriverName, "container": c.ID})
		}
	}
}

// dropMounts forgets a removed container's mount points; with
// removeVolumes (rm -v, --rm) its anonymous volumes go too, unless
// another container still uses them.
func (d *Daemon) dropMounts(c *ctr.Container, removeVolumes bool) {
	mps := d.mountsOf(c)
	d.mnts.mu.Lock()
	delete(d.mnts.byID, c.ID)
	d.mnts.mu.Unlock()
	if !removeVolumes {
		return
	}
	for _, mp := range mps {
		if mp.Type != mount.TypeVolume || !mp.Anonymous {
			continue
		}
		if err := d.vols.Remove(mp.Name, d.volumeUsersOf); err != nil && !errdefs.IsNotFound(err) {
			d.log.Warn("remove anonymous volume", "id", c.ID, "volume", mp.Name, "err", err)
		}
	}
}

// inspectMounts is Mounts in inspect's answer.
func (d *Daemon) inspectMounts(c *ctr.Container) []containertypes.MountPoint {
	out := []containertypes.MountPoint{}
	for _, mp := range d.mountsOf(c) {
		if !mp.Listed {
			continue
		}
		m := containertypes.MountPoint{Type: mp.Type, Destination: mp.Destination, Mode: mp.Mode, RW: mp.RW, Propagation: mp.Propagation}
		switch mp.Type {
		case mount.TypeVolume:
			m.Name, m.Driver, m.Source = mp.Name, vol.DriverName, d.vols.Path(mp.Name)
		case mount.TypeBind:
			m.Source = mp.Spec.Source
		}
		out = append(out, m)
	}
	return out
}
