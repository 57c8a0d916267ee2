// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package daemon

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	buildtypes "github.com/moby/moby/api/types/build"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/registry"
	"github.com/opencontainers/go-digest"

	buildrouter "github.com/berth-project/berth/internal/api/router/build"
	imagerouter "github.com/berth-project/berth/internal/api/router/image"
	"github.com/berth-project/berth/internal/builder"
	"github.com/berth-project/berth/internal/image"
	"github.com/berth-project/berth/internal/monitor"
	"github.com/berth-project/berth/internal/snapshot"
)

// newBuildRouter returns the build routes. What builds of a previous run
// left when it died is removed first: contexts in <data-root>/builder/tmp
// and the snapshots COPY --from mounted its sources from.
func newBuildRouter(d *Daemon) *buildrouter.Router {
	os.RemoveAll(filepath.Join(d.cfg.DataRoot, "builder", "tmp"))
	ctx := context.Background()
	var left []string
	d.images.Snapshotter().Walk(ctx, func(_ context.Context, info snapshot.Info) error {
		if strings.HasPrefix(info.Name, buildSourcePrefix) {
			left = append(left, info.Name)
		}
		return nil
	})
	for _, key := range left {
		if err := d.images.Snapshotter().Remove(ctx, key); err != nil {
			d.log.Warn("build: remove a source snapshot left behind", "key", key, "err", err)
		}
	}
	return buildrouter.New(buildAPI{d})
}

// buildSourcePrefix names the snapshots COPY --from reads from.
const buildSourcePrefix = "build-src-"

// buildAPI is the daemon as the build routes see it.
type buildAPI struct{ d *Daemon }

// buildError is a builder failure with its exit code for the stream.
type buildError struct{ e *builder.Error }

func (e buildError) Error() string { return e.e.Msg }
func (e buildError) ExitCode() int { return e.e.Code }

// Build answers POST /build: it unpacks the context into a directory of
// its own under <data-root>/builder/tmp, runs the builder with the
// daemon's containers and image store, and removes the directory.
func (a buildAPI) Build(ctx context.Context, body io.Reader, opts buildrouter.Options, out io.Writer) (string, error) {
	d := a.d
	if rc := opts.RemoteContext; rc != "" {
		r, err := fetchContext(ctx, rc)
		if err != nil {
			return "", err
		}
		defer r.Close()
		body = r
	}
	for _, t := range opts.Tags {
		n, err := reference.ParseNormalizedNamed(t)
		if err != nil {
			return "", errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid reference format: %s", t))
		}
		if _, ok := n.(reference.Canonical); ok {
			return "", errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid tag %s: a build result cannot be named by digest", t))
		}
	}
	if opts.NetworkMode != "" && opts.NetworkMode != "default" {
		hc := &containertypes.HostConfig{NetworkMode: containertypes.NetworkMode(opts.NetworkMode)}
		if err := d.checkNetworkMode(hc, nil); err != nil {
			return "", err
		}
	}
	tmp := filepath.Join(d.cfg.DataRoot, "builder", "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp(tmp, "context-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	data, err := builder.ExtractContext(ctx, body, dir, opts.Dockerfile)
	if err != nil {
		return "", err
	}
	be := &buildBackend{d: d, opts: opts}
	res, err := builder.Build(ctx, be, builder.Options{
		ContextDir: dir, Dockerfile: opts.Dockerfile, DockerfileData: data,
		Tags: opts.Tags, BuildArgs: opts.BuildArgs, Labels: opts.Labels, Target: opts.Target,
		NoCache: opts.NoCache, Remove: opts.Remove, ForceRemove: opts.ForceRemove,
		PullParent: opts.PullParent, Quiet: opts.Quiet, Platform: opts.Platform,
	}, out)
	if err != nil {
		var be *builder.Error
		if errors.As(err, &be) {
			return "", buildError{be}
		}
		return "", err
	}
	return res.ImageID, nil
}

// BuildCachePrune answers POST /build/prune: the cache records go, and
// with them the intermediate images no name keeps.
func (a buildAPI) BuildCachePrune(ctx context.Context) (*buildtypes.CachePruneReport, error) {
	d := a.d
	ids, err := d.images.PruneBuildCache(ctx)
	if err != nil {
		return nil, err
	}
	rep := &buildtypes.CachePruneReport{CachesDeleted: ids}
	res, err := d.images.GC(ctx)
	if err != nil {
		return rep, err
	}
	rep.SpaceReclaimed = uint64(res.BlobBytes)
	return rep, nil
}

// buildBackend runs one build's steps with the daemon's own paths:
// ContainerCreate, ContainerStart, the monitor's attach and exit, and
// ContainerRemove; image.CommitStep for the layers.
type buildBackend struct {
	d    *Daemon
	opts buildrouter.Options
}

func (b *buildBackend) image(ctx context.Context, id digest.Digest) (builder.Image, error) {
	cfg, err := b.d.images.DockerConfig(ctx, id)
	if err != nil {
		return builder.Image{}, err
	}
	return builder.Image{ID: id.String(), Config: cfg}, nil
}

func (b *buildBackend) Image(ctx context.Context, ref string) (builder.Image, error) {
	img, err := b.d.images.Get(ctx, ref)
	if err != nil {
		return builder.Image{}, err
	}
	return b.image(ctx, img.ID)
}

func (b *buildBackend) Pull(ctx context.Context, ref string, out io.Writer) (builder.Image, error) {
	n, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return builder.Image{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid reference format: %s", ref))
	}
	n = reference.TagNameOnly(n)
	err = imageBackend{b.d}.ImagePull(ctx, imagerouter.PullOptions{Ref: n.String(), Auth: &registry.AuthConfig{}}, func(m jsonstream.Message) {
		if m.Status != "" && m.Progress == nil {
			if m.ID != "" {
				fmt.Fprintf(out, "%s: %s\n", m.ID, m.Status)
			} else {
				fmt.Fprintln(out, m.Status)
			}
		}
	})
	if err != nil {
		return builder.Image{}, err
	}
	return b.Image(ctx, n.String())
}

// Scratch is an image with no layers and no configuration, the same one
// every time (fixed creation time, kept by a cache record).
func (b *buildBackend) Scratch(ctx context.Context) (builder.Image, error) {
	key := digest.FromString("berth scratch v1")
	if img, err := b.d.images.CachedStep(ctx, key); err == nil {
		return b.image(ctx, img.ID)
	}
	img, err := b.d.images.CommitStep(ctx, image.BuildStep{Created: time.Unix(0, 0).UTC(), CacheKey: key, CreatedBy: "scratch"})
	if err != nil {
		return builder.Image{}, err
	}
	return b.image(ctx, img.ID)
}

// hostConfig is the build's host configuration for its containers.
func (b *buildBackend) hostConfig() *containertypes.HostConfig {
	hc := &containertypes.HostConfig{
		NetworkMode: containertypes.NetworkMode(b.opts.NetworkMode),
		ExtraHosts:  b.opts.ExtraHosts,
		ShmSize:     b.opts.ShmSize,
		Resources:   b.opts.Resources,
	}
	hc.Resources.CgroupParent = b.opts.CgroupParent
	return hc
}

// noHealthcheck keeps the image's HEALTHCHECK from running in a step.
var noHealthcheck = &containertypes.HealthConfig{Test: []string{"NONE"}}

func (b *buildBackend) create(ctx context.Context, parent string, cmd []string, env []string, user, wd string) (string, error) {
	req := &containertypes.CreateRequest{
		Config: &containertypes.Config{
			Image: parent, Entrypoint: cmd[:1], Cmd: cmd[1:], Env: env, User: user, WorkingDir: wd,
			Healthcheck: noHealthcheck, Labels: map[string]string{},
		},
		HostConfig: b.hostConfig(),
	}
	resp, err := b.d.ContainerCreate(ctx, "", req)
	return resp.ID, err
}

func (b *buildBackend) Run(ctx context.Context, cfg builder.RunConfig, out io.Writer) (string, int, error) {
	d := b.d
	t0 := time.Now()
	id, err := b.create(ctx, cfg.Parent, cfg.Cmd, cfg.Env, cfg.User, cfg.WorkingDir)
	if err != nil {
		return "", 0, err
	}
	created := time.Since(t0)
	if s, ok := out.(interface{ Started(string) }); ok {
		s.Started(id)
	}
	// The output is attached before the start, so none is lost; stdout
	// and stderr write to out from two goroutines.
	w := &lockedWriter{w: out}
	p := newPendingAttach()
	p.streams, p.ctx = monitor.Streams{Stdout: w, Stderr: w}, ctx
	close(p.ready)
	d.mu.Lock()
	d.pending[id] = append(d.pending[id], p)
	d.mu.Unlock()
	exit, err := d.ContainerWait(ctx, id, containertypes.WaitConditionNextExit)
	if err != nil {
		d.dropPending(id, p)
		return id, 0, err
	}
	if err := d.ContainerStart(ctx, id); err != nil {
		d.dropPending(id, p)
		return id, 0, err
	}
	started := time.Since(t0)
	var code int
	select {
	case r, ok := <-exit:
		if !ok {
			return id, 0, ctx.Err()
		}
		code = int(r.StatusCode)
	case <-ctx.Done():
		return id, 0, ctx.Err()
	}
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		// the output did not end with the process (a child kept it open)
	}
	d.log.Debug("build: run step", "id", id, "create", created, "start", started-created, "wait", time.Since(t0)-started)
	return id, code, nil
}

func (b *buildBackend) Prepare(ctx context.Context, parent, comment string, fn func(root string) error) (string, error) {
	id, err := b.create(ctx, parent, []string{"/bin/sh", "-c", comment}, nil, "", "")
	if err != nil {
		return "", err
	}
	c, err := b.d.store.Get(id)
	if err != nil {
		return id, err
	}
	mounts, err := b.d.layerMounts(ctx, c)
	if err != nil {
		return id, err
	}
	return id, snapshot.WithTempMount(ctx, mounts, fn)
}

func (b *buildBackend) Mount(ctx context.Context, img string, fn func(root string) error) error {
	key := buildSourcePrefix + rand.Text()
	mounts, err := b.d.images.Mounts(ctx, img, key)
	if err != nil {
		return err
	}
	defer b.d.images.Snapshotter().Remove(context.WithoutCancel(ctx), key)
	return snapshot.WithTempMount(ctx, mounts, fn)
}

func (b *buildBackend) Commit(ctx context.Context, container, parent string, cfg dockerspec.DockerOCIImageConfig, h builder.History, key digest.Digest) (builder.Image, error) {
	t0 := time.Now()
	// a RUN step's container ran: its layer leaves out the runtime's
	// mountpoints; a COPY step's (Prepare) keeps what it copied
	ran := false
	if c, err := b.d.store.Get(container); err == nil {
		c.Mu.Lock()
		ran = c.HasBeenStarted
		c.Mu.Unlock()
	}
	img, err := b.d.images.CommitStep(ctx, image.BuildStep{Parent: parent, Key: container, Config: cfg, CreatedBy: h.CreatedBy, Author: h.Author, CacheKey: key, TakeSnapshot: h.Discard, Ran: ran})
	if err != nil {
		return builder.Image{}, err
	}
	b.d.log.Debug("build: commit", "container", container, "elapsed", time.Since(t0))
	return b.image(ctx, img.ID)
}

func (b *buildBackend) Cached(ctx context.Context, key digest.Digest) (builder.Image, bool) {
	img, err := b.d.images.CachedStep(ctx, key)
	if err != nil {
		return builder.Image{}, false
	}
	bi, err := b.image(ctx, img.ID)
	return bi, err == nil
}

func (b *buildBackend) Remove(ctx context.Context, id string) error {
	t0 := time.Now()
	err := b.d.ContainerRemove(ctx, id, true, true)
	b.d.log.Debug("build: remove", "id", id, "elapsed", time.Since(t0))
	return err
}

func (b *buildBackend) Tag(ctx context.Context, id, ref string) error {
	n, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid reference format: %s", ref))
	}
	n = reference.TagNameOnly(n)
	old, oldErr := b.d.images.Get(ctx, n.String())
	if oldErr == nil && old.ID.String() == id {
		// already so: a cached rebuild writes nothing
		b.d.imageEvent(ctx, events.ActionTag, id, reference.FamiliarString(n))
		return nil
	}
	if err := b.d.images.Tag(ctx, id, n.String()); err != nil {
		return err
	}
	if oldErr == nil && old.ID.String() != id {
		// The image that had the tag is dangling now, as in Docker
		// (`images` shows it, image prune removes it), though the cache
		// still names it.
		if err := b.d.images.KeepDangling(ctx, old.ID.String()); err != nil {
			return err
		}
	}
	b.d.imageEvent(ctx, events.ActionTag, id, reference.FamiliarString(n))
	return nil
}

func (b *buildBackend) KeepDangling(ctx context.Context, id string) error {
	return b.d.images.KeepDangling(ctx, id)
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// fetchContext downloads a remote build context: a tar archive
// (compressed or not) or a bare Dockerfile at an http(s) URL. Git
// repositories are not supported.
func fetchContext(ctx context.Context, rawURL string) (io.ReadCloser, error) {
	if !strings.HasPrefix(rawURL, "http://") && !strings.HasPrefix(rawURL, "https://") || strings.HasSuffix(rawURL, ".git") || strings.Contains(rawURL, ".git#") {
		return nil, errdefs.ErrNotImplemented.WithMessage(fmt.Sprintf("remote build context %s: only http(s) URLs of a tar archive or a Dockerfile are supported, not git repositories", rawURL))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, errdefs.ErrInvalidArgument.WithMessage(err.Error())
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("unable to prepare context: %v", err))
	}
	if resp.StatusCode >= 400 {
		resp.Body.Close()
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("unable to prepare context: failed to GET %s with status %s", rawURL, resp.Status))
	}
	return resp.Body, nil
}
