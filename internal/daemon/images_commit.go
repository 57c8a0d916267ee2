// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package daemon

import (
	"context"
	"fmt"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"maps"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	imagerouter "github.com/berth-project/berth/internal/api/router/image"
	ctr "github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/image"
)

// ImageCommit answers POST /commit: the container's writable layer (its
// snapshot, keyed by the container ID) becomes a new image on top of the
// container's image. The image's configuration is the request's, or the
// container's, with the changes applied and what is still empty taken from
// the container, as Docker's commit merges them.
func (b imageBackend) ImageCommit(ctx context.Context, opts imagerouter.CommitOptions) (string, error) {
	d := b.d
	c, err := d.store.Get(opts.Container)
	if err != nil {
		return "", err
	}
	c.Mu.Lock()
	status, parent, ran := c.State.Status, c.Image, c.HasBeenStarted
	ctrCfg := *c.Config
	createdBy := strings.Join(append([]string{c.Path}, c.Args...), " ")
	c.Mu.Unlock()
	if status == ctr.Removing || status == ctr.Dead {
		return "", errdefs.ErrConflict.WithMessage(fmt.Sprintf("container %s is marked for removal and cannot be committed", c.ID))
	}
	if opts.Ref != "" {
		if _, err := reference.ParseNormalizedNamed(opts.Ref); err != nil {
			return "", errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid reference format %q", opts.Ref))
		}
	}

	base := ctrCfg
	if opts.Config != nil {
		base = *opts.Config
	}
	cfg := imageConfigOf(&base)
	if err := image.ApplyChanges(&cfg, opts.Changes); err != nil {
		return "", err
	}
	mergeImageConfigFrom(&cfg, imageConfigOf(&ctrCfg))

	if opts.Pause && status == ctr.Running {
		if err := d.ContainerPause(ctx, c.ID); err != nil {
			return "", err
		}
		defer func() {
			if err := d.ContainerUnpause(context.WithoutCancel(ctx), c.ID); err != nil {
				d.log.Warn("commit: unpause", "id", c.ID, "err", err)
			}
		}()
	}
	if _, err := d.layerMounts(ctx, c); err != nil { // a created container's, still being prepared
		return "", err
	}
	img, err := d.images.Commit(ctx, c.ID, image.CommitOptions{
		Parent:    parent,
		Changes:   image.ImageConfigChanges{Config: cfg, Comment: opts.Comment, Healthcheck: healthcheckOf(&base, &ctrCfg), OnBuild: orStrings(base.OnBuild, ctrCfg.OnBuild), Shell: orStrings(base.Shell, ctrCfg.Shell)},
		Author:    opts.Author,
		CreatedBy: createdBy,
		Ref:       opts.Ref,
		Ran:       ran,
	})
	if err != nil {
		return "", err
	}
	id := img.ID.String()
	imageRef := ""
	if n := familiar(img.RepoTags); len(n) > 0 && opts.Ref != "" {
		imageRef = n[0]
	}
	c.Mu.Lock()
	d.publish(c, events.ActionCommit, map[string]string{"comment": opts.Comment, "imageID": id, "imageRef": imageRef})
	c.Mu.Unlock()
	return id, nil
}

// imageConfigOf is the part of a container's configuration an image keeps.
func imageConfigOf(c *containertypes.Config) ocispec.ImageConfig {
	cfg := ocispec.ImageConfig{
		User:       c.User,
		Env:        slices.Clone(c.Env),
		Entrypoint: slices.Clone(c.Entrypoint),
		Cmd:        slices.Clone(c.Cmd),
		WorkingDir: c.WorkingDir,
		Labels:     maps.Clone(c.Labels),
		StopSignal: c.StopSignal,
		Volumes:    maps.Clone(c.Volumes),
	}
	if len(c.ExposedPorts) > 0 {
		cfg.ExposedPorts = map[string]struct{}{}
		for p := range c.ExposedPorts {
			cfg.ExposedPorts[p.String()] = struct{}{}
		}
	}
	return cfg
}

// mergeImageConfigFrom fills what cfg leaves empty from from, as moby's
// daemon/commit.go merge does: the user and working directory, the
// command (when there is no entrypoint), and the environment, labels,
// ports and volumes, which are merged.
func mergeImageConfigFrom(cfg *ocispec.ImageConfig, from ocispec.ImageConfig) {
	if cfg.User == "" {
		cfg.User = from.User
	}
	if cfg.WorkingDir == "" {
		cfg.WorkingDir = from.WorkingDir
	}
	if cfg.StopSignal == "" {
		cfg.StopSignal = from.StopSignal
	}
	if len(cfg.Entrypoint) == 0 {
		if len(cfg.Cmd) == 0 {
			cfg.Cmd = from.Cmd
		}
		if cfg.Entrypoint == nil {
			cfg.Entrypoint = from.Entrypoint
		}
	}
	for _, e := range from.Env {
		k, _, _ := strings.Cut(e, "=")
		if !slices.ContainsFunc(cfg.Env, func(have string) bool { return strings.HasPrefix(have, k+"=") || have == k }) {
			cfg.Env = append(cfg.Env, e)
		}
	}
	for k, v := range from.Labels {
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		if _, ok := cfg.Labels[k]; !ok {
			cfg.Labels[k] = v
		}
	}
	for p := range from.ExposedPorts {
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		cfg.ExposedPorts[p] = struct{}{}
	}
	for v := range from.Volumes {
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		cfg.Volumes[v] = struct{}{}
	}
}

// healthcheckOf is the commit's HEALTHCHECK: the request config's, else
// the container's (which has its image's), as Docker keeps it.
func healthcheckOf(req, ctr *containertypes.Config) *dockerspec.HealthcheckConfig {
	h := req.Healthcheck
	if h == nil {
		h = ctr.Healthcheck
	}
	if h == nil {
		return nil
	}
	return &dockerspec.HealthcheckConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout,
		StartPeriod: h.StartPeriod, StartInterval: h.StartInterval, Retries: h.Retries}
}

// orStrings is a, or b where a is empty.
func orStrings(a, b []string) []string {
	if len(a) > 0 {
		return a
	}
	return b
}
