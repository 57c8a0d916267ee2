// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/docker/go-units"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/sys/signal"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	ctr "github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/oci"
)

// fillHostConfigDefaults writes into the host config the defaults the
// container gets anyway, as Docker records them (inspect shows them):
// /dev/shm's size, a private IPC namespace, the cgroup namespace mode of
// the host's cgroup version, and the masked and read-only /proc paths of
// an unprivileged container.
func fillHostConfigDefaults(hc *containertypes.HostConfig) {
	if hc.ShmSize == 0 {
		hc.ShmSize = oci.DefaultShmSize
	}
	if hc.IpcMode == "" {
		hc.IpcMode = containertypes.IPCModePrivate
	}
	if hc.CgroupnsMode == "" {
		hc.CgroupnsMode = containertypes.CgroupnsModeHost
		if oci.CgroupV2() {
			hc.CgroupnsMode = containertypes.CgroupnsModePrivate
		}
	}
	if !hc.Privileged {
		if hc.MaskedPaths == nil {
			hc.MaskedPaths = oci.DefaultMaskedPaths()
		}
		if hc.ReadonlyPaths == nil {
			hc.ReadonlyPaths = oci.DefaultReadonlyPaths()
		}
	}
}

// jsonFileOpts are the json-file driver's options and those every driver
// takes (mode, max-buffer-size, and 20.10's cache-* for its dual logging),
// as Docker has them.
var jsonFileOpts = []string{"max-size", "max-file", "compress", "labels", "labels-regex", "env", "env-regex", "tag",
	"mode", "max-buffer-size", "cache-disabled", "cache-max-size", "cache-max-file", "cache-compress"}

// checkLogConfig fills in the log driver (json-file, the only one berth
// writes, and none) and checks its options, with Docker's messages.
func checkLogConfig(lc *containertypes.LogConfig) error {
	if lc.Type == "" {
		lc.Type = "json-file"
	}
	switch lc.Type {
	case "none":
		return nil
	case "json-file":
	default:
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("logger: no log driver named '%s' is registered", lc.Type))
	}
	for k, v := range lc.Config {
		if !slices.Contains(jsonFileOpts, k) {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("unknown log opt '%s' for json-file log driver", k))
		}
		switch k {
		case "max-size":
			if _, err := units.RAMInBytes(v); err != nil {
				return errdefs.ErrInvalidArgument.WithMessage(err.Error())
			}
		case "max-file":
			if n, err := strconv.Atoi(v); err != nil || n < 1 {
				return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("max-file must be a positive number: %q", v))
			}
		}
	}
	return nil
}

// ContainerCreate makes a container: its record, its writable layer on
// the image and its hosts files. Nothing runs until start. On failure
// nothing is left behind.
func (d *Daemon) ContainerCreate(ctx context.Context, name string, req *containertypes.CreateRequest) (resp containertypes.CreateResponse, retErr error) {
	cfg, hc := req.Config, req.HostConfig
	if cfg.Image == "" {
		return resp, errdefs.ErrInvalidArgument.WithMessage("No command specified")
	}
	if err := oci.ValidateHostConfig(hc); err != nil {
		return resp, err
	}
	if hc.AutoRemove && hc.RestartPolicy.Name != "" && hc.RestartPolicy.Name != containertypes.RestartPolicyDisabled {
		return resp, errdefs.ErrInvalidArgument.WithMessage("can't create 'AutoRemove' container with restart policy")
	}
	if err := checkModeConflicts(cfg, hc); err != nil {
		return resp, err
	}
	if err := d.checkNetworkMode(hc, req.NetworkingConfig); err != nil {
		return resp, err
	}
	if err := checkLogConfig(&hc.LogConfig); err != nil {
		return resp, err
	}
	fillHostConfigDefaults(hc)
	if cfg.StopSignal != "" {
		if _, err := signal.ParseSignal(cfg.StopSignal); err != nil {
			return resp, errdefs.ErrInvalidArgument.WithMessage("Invalid signal: " + cfg.StopSignal)
		}
	}
	img, err := d.images.Get(ctx, cfg.Image)
	if err != nil {
		return resp, err
	}
	mergeImageConfig(cfg, &img.Config.Config)
	mergeHealthcheck(cfg, d.imageHealthcheck(ctx, img.ID))
	if len(cfg.Entrypoint) == 0 && len(cfg.Cmd) == 0 {
		return resp, errdefs.ErrInvalidArgument.WithMessage("no command specified")
	}

	id := ctr.NewID()
	if name == "" {
		name = d.store.GenerateName()
	}
	var links []ctr.Link
	if hc.Links, links, err = d.checkLinks(hc, strings.TrimPrefix(name, "/")); err != nil {
		return resp, err
	}
	c := ctr.New(id, strings.TrimPrefix(name, "/"), filepath.Join(d.cfg.DataRoot, "containers", id))
	c.Image = img.ID.String()
	c.ImageRef = req.Config.Image
	c.Config = cfg
	c.HostConfig = hc
	c.Rootfs = filepath.Join(d.bundleDir(id), "rootfs")
	c.Links = links
	if hc.LogConfig.Type == "none" {
		c.LogPath = "" // no log: the monitor writes none, logs refuses
	}
	if len(cfg.Entrypoint) > 0 {
		c.Path, c.Args = cfg.Entrypoint[0], append(append([]string{}, cfg.Entrypoint[1:]...), cfg.Cmd...)
	} else {
		c.Path, c.Args = cfg.Cmd[0], append([]string{}, cfg.Cmd[1:]...)
	}
	if err := d.store.Reserve(c); err != nil {
		return resp, err
	}
	defer func() {
		if retErr != nil {
			d.undoMounts(c)
			d.waitLayer(id)
			d.images.Snapshotter().Remove(context.WithoutCancel(ctx), id)
			d.net.RemoveEndpoints(id)
			os.RemoveAll(c.Dir)
			d.store.Delete(c)
		}
	}()
	if err := os.Mkdir(c.Dir, 0o710); err != nil {
		return resp, err
	}
	d.prepareLayer(ctx, c) // see layer.go
	if err := d.createMounts(c); err != nil {
		return resp, err
	}
	if err := d.recordEndpoints(c, req.NetworkingConfig); err != nil {
		return resp, err
	}
	if err := d.writeHostFiles(c); err != nil {
		return resp, err
	}
	c.Mu.Lock()
	err = c.Save()
	c.Mu.Unlock()
	if err != nil {
		return resp, err
	}
	d.createDone(c)
	d.publish(c, events.ActionCreate, nil)
	resp.ID = id
	resp.Warnings = []string{}
	return resp, nil
}

// mergeImageConfig fills what the client left out from the image, as
// Docker does before it records a container's config.
func mergeImageConfig(cfg *containertypes.Config, img *ocispec.ImageConfig) {
	if cfg.User == "" {
		cfg.User = img.User
	}
	if len(cfg.Cmd) == 0 && len(cfg.Entrypoint) == 0 {
		cfg.Cmd = img.Cmd
	}
	if len(cfg.Entrypoint) == 0 {
		cfg.Entrypoint = img.Entrypoint
	}
	if cfg.WorkingDir == "" {
		cfg.WorkingDir = img.WorkingDir
	}
	if cfg.StopSignal == "" {
		cfg.StopSignal = img.StopSignal
	}
	env := slices.Clone(img.Env)
	for _, e := range cfg.Env {
		k, _, _ := strings.Cut(e, "=")
		env = slices.DeleteFunc(env, func(x string) bool {
			xk, _, _ := strings.Cut(x, "=")
			return xk == k
		})
		env = append(env, e)
	}
	cfg.Env = env
	if len(img.Labels) > 0 {
		labels := map[string]string{}
		for k, v := range img.Labels {
			labels[k] = v
		}
		for k, v := range cfg.Labels {
			labels[k] = v
		}
		cfg.Labels = labels
	}
	if cfg.Labels == nil {
		cfg.Labels = map[string]string{}
	}
	for p := range img.ExposedPorts {
		if port, err := network.ParsePort(p); err == nil {
			if cfg.ExposedPorts == nil {
				cfg.ExposedPorts = network.PortSet{}
			}
			cfg.ExposedPorts[port] = struct{}{}
		}
	}
	if len(img.Volumes) > 0 {
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		for v := range img.Volumes {
			cfg.Volumes[v] = struct{}{}
		}
	}
}

// imageHealthcheck reads the HEALTHCHECK of the image whose config blob
// is id: Docker keeps it in the config's Docker extension, which the OCI
// image type the store decodes has no field for.
func (d *Daemon) imageHealthcheck(ctx context.Context, id digest.Digest) *containertypes.HealthConfig {
	ra, err := d.images.Content().ReaderAt(ctx, id)
	if err != nil {
		return nil
	}
	defer ra.Close()
	var img dockerspec.DockerOCIImage
	if err := json.NewDecoder(io.NewSectionReader(ra, 0, ra.Size())).Decode(&img); err != nil {
		return nil
	}
	return img.Config.Healthcheck
}

// mergeHealthcheck applies Docker's rule: the container's check replaces
// the image's, and a container check without a test keeps the image's
// test with its own timings.
func mergeHealthcheck(cfg *containertypes.Config, img *containertypes.HealthConfig) {
	switch {
	case img == nil:
	case cfg.Healthcheck == nil:
		h := *img
		cfg.Healthcheck = &h
	case len(cfg.Healthcheck.Test) == 0:
		h := *cfg.Healthcheck
		h.Test = img.Test
		if h.Interval == 0 {
			h.Interval = img.Interval
		}
		if h.Timeout == 0 {
			h.Timeout = img.Timeout
		}
		if h.StartPeriod == 0 {
			h.StartPeriod = img.StartPeriod
		}
		if h.Retries == 0 {
			h.Retries = img.Retries
		}
		cfg.Healthcheck = &h
	}
}

func (d *Daemon) bundleDir(id string) string {
	return filepath.Join(d.cfg.ExecRoot, "containers", id)
}
