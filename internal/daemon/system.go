// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package daemon

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"time"

	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/api/types/volume"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/api/httputils"
	"github.com/berth-project/berth/internal/api/server"
	ctr "github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/oci"
)

// SystemVersion answers /version.
func (d *Daemon) SystemVersion(ctx context.Context) system.VersionResponse {
	kernel := kernelVersion()
	return system.VersionResponse{
		Platform:      system.PlatformInfo{Name: "berth"},
		Version:       Version,
		APIVersion:    server.APIVersion,
		MinAPIVersion: server.MinAPIVersion,
		Os:            "linux",
		Arch:          goruntime.GOARCH,
		GoVersion:     goruntime.Version(),
		KernelVersion: kernel,
		Components: []system.ComponentVersion{
			{Name: "Engine", Version: Version, Details: map[string]string{
				"ApiVersion": server.APIVersion, "MinAPIVersion": server.MinAPIVersion,
				"Os": "linux", "Arch": goruntime.GOARCH, "GoVersion": goruntime.Version(), "KernelVersion": kernel,
			}},
			{Name: "berth-runtime", Version: Version},
		},
	}
}

func kernelVersion() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

// SystemInfo answers /info.
func (d *Daemon) SystemInfo(ctx context.Context) (*system.Info, error) {
	info := &system.Info{
		ID:                 d.engineID(),
		Driver:             "overlayfs",
		DriverStatus:       [][2]string{{"driver-type", "berth overlay snapshotter"}},
		MemoryLimit:        true,
		SwapLimit:          true,
		CPUCfsPeriod:       true,
		CPUCfsQuota:        true,
		CPUShares:          true,
		CPUSet:             true,
		PidsLimit:          true,
		IPv4Forwarding:     true,
		Debug:              d.cfg.Debug,
		NGoroutines:        goruntime.NumGoroutine(),
		SystemTime:         time.Now().Format(time.RFC3339Nano),
		LoggingDriver:      "json-file",
		CgroupDriver:       "cgroupfs",
		CgroupVersion:      cgroupVersion(),
		KernelVersion:      kernelVersion(),
		OperatingSystem:    osName(),
		OSType:             "linux",
		Architecture:       archName(),
		IndexServerAddress: "https://index.docker.io/v1/",
		NCPU:               goruntime.NumCPU(),
		MemTotal:           int64(memTotal()),
		DockerRootDir:      d.cfg.DataRoot,
		ServerVersion:      Version,
		Runtimes:           map[string]system.RuntimeWithStatus{"berth": {Runtime: system.Runtime{Path: "berth-runc"}}},
		DefaultRuntime:     "berth",
		LiveRestoreEnabled: true,
		InitBinary:         "berth",
		SecurityOptions:    []string{"name=seccomp,profile=builtin", "name=cgroupns"},
		Labels:             []string{},
		Warnings:           []string{},
		CDISpecDirs:        []string{},
	}
	info.Name, _ = os.Hostname()
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		info.NFd = len(fds)
	}
	for _, c := range d.store.List() {
		c.Mu.Lock()
		switch c.State.Status {
		case ctr.Running, ctr.Restarting:
			info.ContainersRunning++
		case ctr.Paused:
			info.ContainersPaused++
		default:
			info.ContainersStopped++
		}
		c.Mu.Unlock()
		info.Containers++
	}
	if imgs, err := d.images.List(ctx); err == nil {
		info.Images = len(imgs)
	}
	info.Plugins.Volume = []string{"local"}
	info.Plugins.Network = []string{"bridge", "host", "null"}
	info.Swarm.LocalNodeState = swarm.LocalNodeStateInactive
	info.Plugins.Log = []string{"json-file"}
	return info, nil
}

// engineID is the daemon's lasting identity (info's ID): a random UUID
// kept in <data-root>/engine-id from the first call on, as dockerd keeps
// one.
func (d *Daemon) engineID() string {
	d.idOnce.Do(func() {
		p := filepath.Join(d.cfg.DataRoot, "engine-id")
		if b, err := os.ReadFile(p); err == nil && len(strings.TrimSpace(string(b))) > 0 {
			d.id = strings.TrimSpace(string(b))
			return
		}
		var u [16]byte
		rand.Read(u[:])
		u[6] = u[6]&0x0f | 0x40 // version 4
		u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
		d.id = fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:])
		if err := os.WriteFile(p, []byte(d.id+"\n"), 0o600); err != nil {
			d.log.Warn("keep the engine ID", "err", err)
		}
	})
	return d.id
}

func cgroupVersion() string {
	if oci.CgroupV2() {
		return "2"
	}
	return "1"
}

func osName() string {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return "Linux"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "Linux"
}

func archName() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return goruntime.GOARCH
	}
	return unix.ByteSliceToString(u.Machine[:])
}

// SubscribeEvents subscribes to the event bus.
func (d *Daemon) SubscribeEvents(since time.Time) ([]events.Message, <-chan events.Message, func()) {
	return d.events.Subscribe(since)
}

// legacyDiskUsage is /system/df before API 1.52: the lists of images,
// containers, volumes and build cache records.
type legacyDiskUsage struct {
	LayersSize int64
	Images     []imageSummary
	Containers []containertypes.Summary
	Volumes    []*volume.Volume
	BuildCache []any
}

// SystemDiskUsage answers /system/df.
func (d *Daemon) SystemDiskUsage(ctx context.Context, version string) (any, error) {
	cs, err := d.ContainerList(ctx, true, -1, true, httputils.Filters{})
	if err != nil {
		return nil, err
	}
	imgs, layers, err := d.imageSummaries(ctx, true)
	if err != nil {
		return nil, err
	}
	return legacyDiskUsage{LayersSize: layers, Images: imgs, Containers: cs, Volumes: d.volumeDiskUsage(), BuildCache: []any{}}, nil
}
