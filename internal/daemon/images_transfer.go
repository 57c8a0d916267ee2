// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package daemon

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/registry"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	imagerouter "github.com/berth-project/berth/internal/api/router/image"
	"github.com/berth-project/berth/internal/distribution"
	"github.com/berth-project/berth/internal/image"
)

// registryClient makes the client of one pull, push, search or login,
// with the request's credentials and the daemon's insecure registries.
func (d *Daemon) registryClient(auth *registry.AuthConfig, platform string) (*distribution.Client, error) {
	c := &distribution.Client{Insecure: d.cfg.InsecureRegistries}
	if user, pass := credentials(auth); user != "" {
		c.Auth = func(string) (string, string, bool) { return user, pass, true }
	}
	if platform != "" {
		p, err := parsePlatform(platform)
		if err != nil {
			return nil, err
		}
		c.Platform = &p
	}
	return c, nil
}

// credentials reads the user and password of an AuthConfig, from its
// "auth" field (base64 of "user:pass") when they are not given apart.
func credentials(auth *registry.AuthConfig) (user, pass string) {
	if auth == nil {
		return "", ""
	}
	if auth.Username == "" && auth.Auth != "" {
		if b, err := base64.StdEncoding.DecodeString(auth.Auth); err == nil {
			user, pass, _ = strings.Cut(string(b), ":")
			return user, pass
		}
	}
	return auth.Username, auth.Password
}

// parsePlatform reads "os[/arch[/variant]]".
func parsePlatform(s string) (ocispec.Platform, error) {
	parts := strings.Split(strings.ToLower(s), "/")
	if len(parts) > 3 || parts[0] == "" {
		return ocispec.Platform{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid platform %q", s))
	}
	p := ocispec.Platform{OS: parts[0]}
	if len(parts) > 1 {
		p.Architecture = parts[1]
	}
	if len(parts) > 2 {
		p.Variant = parts[2]
	}
	return p, nil
}

// layerProgress turns the store's per-layer events into Docker's
// messages. Docker announces each new layer with "Pulling fs layer" before
// anything else is said of it.
func layerProgress(out imagerouter.Progress, pull bool) func(distribution.Progress) {
	var mu sync.Mutex
	seen := map[string]bool{}
	return func(p distribution.Progress) {
		mu.Lock()
		defer mu.Unlock()
		if pull && !seen[p.ID] && p.Status != distribution.StatusAlreadyExists {
			out(jsonstream.Message{ID: p.ID, Status: "Pulling fs layer", Progress: &jsonstream.Progress{}})
		}
		seen[p.ID] = true
		m := jsonstream.Message{ID: p.ID, Status: p.Status, Progress: &jsonstream.Progress{}}
		// Docker sends byte counts only while moving bytes; the CLI
		// prints a message with counts only as a progress bar.
		if p.Status == distribution.StatusDownloading || p.Status == distribution.StatusPushing {
			m.Progress = &jsonstream.Progress{Current: p.Current, Total: p.Total}
		}
		out(m)
	}
}

// ImagePull answers POST /images/create?fromImage=…. The reference is
// resolved before anything is streamed, so an unknown image or tag is an
// HTTP error, as in Docker: 404 "manifest for … not found: manifest
// unknown: manifest unknown".
func (b imageBackend) ImagePull(ctx context.Context, opts imagerouter.PullOptions, out imagerouter.Progress) error {
	d := b.d
	n, err := distribution.ParseRef(opts.Ref)
	if err != nil {
		return err
	}
	client, err := d.registryClient(opts.Auth, opts.Platform)
	if err != nil {
		return err
	}
	if !opts.AllTags {
		return d.pullOne(ctx, client, n, out, true)
	}
	// pull -a: every tag of the repository, then one status for all
	repo := reference.TrimNamed(n)
	tags, err := client.Tags(ctx, repo)
	if err != nil {
		return err
	}
	slices.Sort(tags)
	for _, tag := range tags {
		t, err := reference.WithTag(repo, tag)
		if err != nil {
			return err
		}
		if err := d.pullOne(ctx, client, t, out, false); err != nil {
			return err
		}
	}
	out(jsonstream.Message{Status: "Status: Downloaded newer image for " + reference.FamiliarName(repo)})
	return nil
}

// pullOne pulls reference n; status says whether to end with the
// "Status: ..." line (not for each tag of pull -a).
func (d *Daemon) pullOne(ctx context.Context, client *distribution.Client, n reference.Named, out imagerouter.Progress, status bool) error {
	res, err := client.Resolve(ctx, n)
	if err != nil {
		return err
	}
	before, beforeErr := d.images.Get(ctx, n.String())
	tagOrDigest := ""
	if t, ok := n.(reference.Tagged); ok {
		tagOrDigest = t.Tag()
	} else if c, ok := n.(reference.Canonical); ok {
		tagOrDigest = c.Digest().String()
	}
	out(jsonstream.Message{ID: tagOrDigest, Status: "Pulling from " + reference.Path(n)})
	img, err := d.images.Pull(ctx, n.String(), client, layerProgress(out, true))
	if err != nil {
		return err
	}
	out(jsonstream.Message{Status: "Digest: " + res.Target.Digest.String()})
	switch {
	case !status:
	case beforeErr == nil && before.ID == img.ID:
		out(jsonstream.Message{Status: "Status: Image is up to date for " + reference.FamiliarString(n)})
	default:
		out(jsonstream.Message{Status: "Status: Downloaded newer image for " + reference.FamiliarString(n)})
	}
	d.imageEvent(ctx, events.ActionPull, reference.FamiliarString(n), reference.FamiliarName(n))
	return nil
}

// ImagePush answers POST /images/{name}/push: the tag given, or every tag
// of the repository, as Docker does.
func (b imageBackend) ImagePush(ctx context.Context, ref string, auth *registry.AuthConfig, out imagerouter.Progress) error {
	d := b.d
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid reference format %q", ref))
	}
	var tags []reference.Named
	if reference.IsNameOnly(named) {
		imgs, err := d.images.List(ctx)
		if err != nil {
			return err
		}
		for _, img := range imgs {
			for _, t := range img.RepoTags {
				if r, err := reference.ParseNormalizedNamed(t); err == nil && r.Name() == named.Name() {
					tags = append(tags, r)
				}
			}
		}
		if len(tags) == 0 {
			return errdefs.ErrNotFound.WithMessage("An image does not exist locally with the tag: " + reference.FamiliarName(named))
		}
	} else {
		if _, ok := named.(reference.Canonical); ok {
			return errdefs.ErrInvalidArgument.WithMessage("cannot push a digest reference")
		}
		if _, err := d.images.Get(ctx, named.String()); err != nil {
			return errdefs.ErrNotFound.WithMessage("An image does not exist locally with the tag: " + reference.FamiliarString(named))
		}
		tags = []reference.Named{named}
	}
	client, err := d.registryClient(auth, "")
	if err != nil {
		return err
	}
	out(jsonstream.Message{Status: "The push refers to repository [" + named.Name() + "]"})
	for _, t := range tags {
		desc, err := d.images.Push(ctx, t.String(), client, layerProgress(out, false))
		if err != nil {
			return err
		}
		tag := t.(reference.Tagged).Tag()
		out(jsonstream.Message{Status: fmt.Sprintf("%s: digest: %s size: %d", tag, desc.Digest, desc.Size)})
		aux, err := json.Marshal(struct {
			Tag    string
			Digest string
			Size   int64
		}{tag, desc.Digest.String(), desc.Size})
		if err != nil {
			return err
		}
		raw := json.RawMessage(aux)
		out(jsonstream.Message{Progress: &jsonstream.Progress{}, Aux: &raw})
		d.imageEvent(ctx, events.ActionPush, reference.FamiliarString(t), reference.FamiliarName(t))
	}
	return nil
}

// ImageImport answers POST /images/create?fromSrc=…: the tar comes in
// the request body, or from a URL, which must be on a loopback address
// (the daemon must not be made to fetch from the networks it can reach).
func (b imageBackend) ImageImport(ctx context.Context, opts imagerouter.ImportOptions, out imagerouter.Progress) error {
	d := b.d
	if opts.Platform != "" {
		p, err := parsePlatform(opts.Platform)
		if err != nil {
			return err
		}
		if host := hostPlatform(); p.OS != host.OS || (p.Architecture != "" && p.Architecture != host.Architecture) {
			return errdefs.ErrNotImplemented.WithMessage(fmt.Sprintf("import for platform %s: only %s/%s is supported", opts.Platform, host.OS, host.Architecture))
		}
	}
	var changes image.ImageConfigChanges
	if err := image.ApplyChanges(&changes.Config, opts.Changes); err != nil {
		return err
	}
	changes.Comment = opts.Message
	src := opts.Src
	if opts.URL != "" {
		body, err := fetchLoopback(ctx, opts.URL)
		if err != nil {
			return err
		}
		defer body.Close()
		out(jsonstream.Message{Status: "Downloading from " + opts.URL})
		src = body
	}
	img, err := d.images.Import(ctx, src, opts.Ref, changes)
	if err != nil {
		return err
	}
	out(jsonstream.Message{Status: img.ID.String()})
	d.imageEvent(ctx, events.ActionImport, img.ID.String(), img.ID.String())
	return nil
}

func hostPlatform() ocispec.Platform {
	return ocispec.Platform{OS: "linux", Architecture: goruntime.GOARCH}
}

// fetchLoopback GETs u, which (and every redirect) must be http or https
// on a loopback address or "localhost".
func fetchLoopback(ctx context.Context, u string) (io.ReadCloser, error) {
	check := func(u *url.URL) error {
		if u.Scheme != "http" && u.Scheme != "https" {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("import from %s: only http and https URLs are supported", u))
		}
		host := u.Hostname()
		if ip, err := netip.ParseAddr(host); (err == nil && ip.Unmap().IsLoopback()) || host == "localhost" {
			return nil
		}
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("import from %s refused: the daemon only fetches from loopback addresses", u))
	}
	parsed, err := url.Parse(u)
	if err != nil {
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("import from %q: %v", u, err))
	}
	if err := check(parsed); err != nil {
		return nil, err
	}
	// "localhost" must not resolve elsewhere: dial loopback only.
	dialer := &net.Dialer{}
	transport := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if host == "localhost" {
			host = "127.0.0.1"
		}
		if ip, err := netip.ParseAddr(host); err != nil || !ip.Unmap().IsLoopback() {
			return nil, fmt.Errorf("refusing to dial %s: not a loopback address", addr)
		}
		return dialer.DialContext(ctx, network, net.JoinHostPort(host, port))
	}}
	client := &http.Client{Transport: transport, CheckRedirect: func(req *http.Request, _ []*http.Request) error { return check(req.URL) }}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		if errdefs.IsInvalidArgument(err) {
			return nil, err
		}
		return nil, errdefs.ErrUnavailable.WithMessage(fmt.Sprintf("import from %s: %v", u, err))
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("import from %s: status %s", u, resp.Status))
	}
	return resp.Body, nil
}

// ImageSave answers GET /images/get and /images/{name}/get.
func (b imageBackend) ImageSave(ctx context.Context, refs []string, w io.Writer) error {
	d := b.d
	ids := make([]string, len(refs))
	for i, r := range refs {
		img, err := d.images.Get(ctx, r)
		if err != nil {
			return err
		}
		ids[i] = img.ID.String()
	}
	if err := d.images.Save(ctx, w, refs); err != nil {
		return err
	}
	for i, r := range refs {
		d.imageEvent(ctx, events.ActionSave, ids[i], r)
	}
	return nil
}

// ImageLoad answers POST /images/load, with a load event for each name
// (or ID, for an image without one) the archive brought, as Docker does.
func (b imageBackend) ImageLoad(ctx context.Context, r io.Reader, quiet bool, out imagerouter.Progress) error {
	d := b.d
	var loaded []string
	_, err := d.images.Load(ctx, r, func(line string) {
		out(jsonstream.Message{Stream: line + "\n"})
		if _, name, ok := strings.Cut(line, ": "); ok {
			loaded = append(loaded, name)
		}
	})
	if err != nil {
		return err
	}
	for _, name := range loaded {
		if img, err := d.images.Get(ctx, name); err == nil {
			d.imageEvent(ctx, events.ActionLoad, img.ID.String(), name)
		}
	}
	return nil
}

// DistributionInspect answers GET /distribution/{name}/json: what the
// registry has for ref (with "latest" when it names no tag or digest),
// without pulling it. A full image ID names nothing in a registry.
func (b imageBackend) DistributionInspect(ctx context.Context, ref string, auth *registry.AuthConfig) (registry.DistributionInspect, error) {
	if parsed, err := reference.ParseAnyReference(ref); err == nil {
		if _, named := parsed.(reference.Named); !named {
			return registry.DistributionInspect{}, errdefs.ErrInvalidArgument.WithMessage("no manifest found for full image ID")
		}
	}
	n, err := distribution.ParseRef(ref)
	if err != nil {
		return registry.DistributionInspect{}, err
	}
	client, err := b.d.registryClient(auth, "")
	if err != nil {
		return registry.DistributionInspect{}, err
	}
	desc, platforms, err := client.Inspect(ctx, n)
	if err != nil {
		return registry.DistributionInspect{}, err
	}
	return registry.DistributionInspect{Descriptor: desc, Platforms: platforms}, nil
}
