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
	"strings"

	"github.com/containerd/errdefs"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	ctr "github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/oci"
)

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
	if err := checkNetworkMode(hc); err != nil {
		return resp, err
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
	c := ctr.New(id, strings.TrimPrefix(name, "/"), filepath.Join(d.cfg.DataRoot, "containers", id))
	c.Image = img.ID.String()
	c.ImageRef = req.Config.Image
	c.Config = cfg
	c.HostConfig = hc
	c.Rootfs = filepath.Join(d.bundleDir(id), "rootfs")
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
			d.images.Snapshotter().Remove(context.WithoutCancel(ctx), id)
			os.RemoveAll(c.Dir)
			d.store.Delete(c)
		}
	}()
	if err := os.Mkdir(c.Dir, 0o710); err != nil {
		return resp, err
	}
	if _, err := d.images.Mounts(ctx, c.Image, id); err != nil {
		return resp, fmt.Errorf("prepare the container's filesystem: %w", err)
	}
	if err := d.createMounts(c); err != nil {
		return resp, err
	}
	if err := writeHostFiles(c); err != nil {
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

// checkNetworkMode accepts the modes that work until networking lands:
// none, host, container:<id>; "default" and "bridge" become none.
func checkNetworkMode(hc *containertypes.HostConfig) error {
	m := string(hc.NetworkMode)
	switch {
	case m == "" || m == "default" || m == "bridge":
		hc.NetworkMode = "none"
	case m == "none" || m == "host" || strings.HasPrefix(m, "container:"):
	default:
		return errdefs.ErrNotFound.WithMessage(fmt.Sprintf("network %s not found", m))
	}
	return nil
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

// writeHostFiles writes the container's hostname, hosts and resolv.conf.
// Until networking lands every container has only loopback: the hosts
// file names it, and resolv.conf is the host's minus loopback resolvers
// (which the container cannot reach).
func writeHostFiles(c *ctr.Container) error {
	hostname := c.Config.Hostname
	if hostname == "" {
		hostname = c.ID[:12]
		if c.HostConfig.NetworkMode == "host" {
			hostname, _ = os.Hostname()
		}
		c.Config.Hostname = hostname
	}
	if err := os.WriteFile(c.HostnamePath, []byte(hostname+"\n"), 0o644); err != nil {
		return err
	}
	hosts := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
	for _, h := range c.HostConfig.ExtraHosts {
		name, ip, ok := strings.Cut(h, ":")
		if !ok {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid argument %q for \"--add-host\" flag", h))
		}
		hosts += ip + "\t" + name + "\n"
	}
	if err := os.WriteFile(c.HostsPath, []byte(hosts), 0o644); err != nil {
		return err
	}
	var resolv []string
	if b, err := os.ReadFile("/etc/resolv.conf"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Fields(l)
			if len(f) >= 2 && f[0] == "nameserver" && (strings.HasPrefix(f[1], "127.") || f[1] == "::1") {
				continue
			}
			resolv = append(resolv, l)
		}
	}
	for _, dns := range c.HostConfig.DNS {
		resolv = append(resolv, "nameserver "+dns.String())
	}
	return os.WriteFile(c.ResolvConfPath, []byte(strings.Join(resolv, "\n")), 0o644)
}

func (d *Daemon) bundleDir(id string) string {
	return filepath.Join(d.cfg.ExecRoot, "containers", id)
}
