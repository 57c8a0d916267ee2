// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package image

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/containerd/errdefs"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/registry"

	"github.com/berth-project/berth/internal/api/httputils"
	"github.com/berth-project/berth/internal/api/server"
)

// Router serves /images, /auth, /commit and /distribution.
type Router struct{ b Backend }

// New returns the image router over b.
func New(b Backend) *Router { return &Router{b: b} }

// Routes lists the routes. The fixed paths come before the {name:.*}
// ones, which would otherwise take them.
func (r *Router) Routes() []server.Route {
	return []server.Route{
		{Method: "GET", Path: "/images/json", Handler: r.list},
		{Method: "GET", Path: "/images/search", Handler: r.search},
		{Method: "GET", Path: "/images/get", Handler: r.save},
		{Method: "GET", Path: "/images/{name:.*}/get", Handler: r.save},
		{Method: "GET", Path: "/images/{name:.*}/history", Handler: r.history},
		{Method: "GET", Path: "/images/{name:.*}/json", Handler: r.inspect},
		{Method: "POST", Path: "/images/create", Handler: r.create},
		{Method: "POST", Path: "/images/load", Handler: r.load},
		{Method: "POST", Path: "/images/prune", Handler: r.prune},
		{Method: "POST", Path: "/images/{name:.*}/push", Handler: r.push},
		{Method: "POST", Path: "/images/{name:.*}/tag", Handler: r.tag},
		{Method: "DELETE", Path: "/images/{name:.*}", Handler: r.remove},
		{Method: "GET", Path: "/distribution/{name:.*}/json", Handler: r.distribution},
		{Method: "POST", Path: "/auth", Handler: r.auth},
		{Method: "POST", Path: "/commit", Handler: r.commit},
	}
}

func (r *Router) list(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	f, err := httputils.ParseFilters(req.FormValue("filters"), "before", "dangling", "label", "label!", "reference", "since", "until")
	if err != nil {
		return err
	}
	// API < 1.41 had a "filter" parameter: a reference pattern.
	if v := req.FormValue("filter"); v != "" {
		f["reference"] = append(f["reference"], v)
	}
	list, err := r.b.ImageList(ctx, httputils.BoolValue(req, "all"), f)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, list)
}

func (r *Router) inspect(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	img, err := r.b.ImageInspect(ctx, vars["name"])
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, img)
}

// distribution is GET /distribution/{name}/json. As in Docker, credentials
// that cannot be decoded are ignored (anonymous access).
func (r *Router) distribution(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	auth, err := decodeAuth(req.Header.Get(registry.AuthHeader))
	if err != nil {
		auth = &registry.AuthConfig{}
	}
	info, err := r.b.DistributionInspect(ctx, vars["name"], auth)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, info)
}

func (r *Router) history(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	h, err := r.b.ImageHistory(ctx, vars["name"])
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, h)
}

// repoTag joins the "repo" and "tag" parameters as Docker does; a tag
// that is a digest makes a digest reference.
func repoTag(repo, tag string) string {
	switch {
	case repo == "" || tag == "":
		return repo
	case strings.Contains(tag, ":"):
		return repo + "@" + tag
	}
	return repo + ":" + tag
}

// hasTag reports whether ref names a tag ("repo:tag", not a registry's
// "host:port/repo").
func hasTag(ref string) bool {
	i := strings.LastIndex(ref, ":")
	return i > strings.LastIndex(ref, "/")
}

// create is pull (fromImage) or import (fromSrc).
func (r *Router) create(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	from, src := req.FormValue("fromImage"), req.FormValue("fromSrc")
	s := newStream(w)
	switch {
	case from != "":
		auth, err := decodeAuth(req.Header.Get(registry.AuthHeader))
		if err != nil {
			return err
		}
		// an empty tag on a reference without one pulls all tags (the
		// docker CLI's pull -a; a plain pull sends "latest")
		tag := req.FormValue("tag")
		opts := PullOptions{Ref: repoTag(from, tag), Platform: req.FormValue("platform"), Auth: auth,
			AllTags: tag == "" && !strings.Contains(from, "@") && !hasTag(from)}
		return s.finish(r.b.ImagePull(ctx, opts, s.send))
	case src != "":
		opts := ImportOptions{
			Ref:      repoTag(req.FormValue("repo"), req.FormValue("tag")),
			Changes:  req.Form["changes"],
			Message:  req.FormValue("message"),
			Platform: req.FormValue("platform"),
		}
		if src == "-" {
			opts.Src = req.Body
		} else {
			opts.URL = src
		}
		return s.finish(r.b.ImageImport(ctx, opts, s.send))
	}
	return errdefs.ErrInvalidArgument.WithMessage("either fromImage or fromSrc must be given")
}

func (r *Router) push(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	auth, err := decodeAuth(req.Header.Get(registry.AuthHeader))
	if err != nil {
		return err
	}
	s := newStream(w)
	return s.finish(r.b.ImagePush(ctx, repoTag(vars["name"], req.FormValue("tag")), auth, s.send))
}

func (r *Router) tag(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	repo := req.FormValue("repo")
	if repo == "" {
		return errdefs.ErrInvalidArgument.WithMessage("repository name must have at least one component")
	}
	tag := req.FormValue("tag")
	if tag == "" {
		tag = "latest"
	}
	if strings.Contains(tag, ":") || strings.Contains(tag, "/") {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid tag format %q", tag))
	}
	if err := r.b.ImageTag(ctx, vars["name"], repo+":"+tag); err != nil {
		return err
	}
	w.WriteHeader(http.StatusCreated)
	return nil
}

func (r *Router) remove(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	name := vars["name"]
	if strings.TrimSpace(name) == "" {
		return errdefs.ErrInvalidArgument.WithMessage("image name cannot be blank")
	}
	list, err := r.b.ImageDelete(ctx, name, httputils.BoolValue(req, "force"), !httputils.BoolValue(req, "noprune"))
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, list)
}

// tarWriter sets the archive's headers with its first byte, so that an
// error found before (an unknown image) keeps its status.
type tarWriter struct {
	w       http.ResponseWriter
	started bool
}

func (t *tarWriter) Write(p []byte) (int, error) {
	if !t.started {
		t.started = true
		t.w.Header().Set("Content-Type", "application/x-tar")
		t.w.WriteHeader(http.StatusOK)
	}
	return t.w.Write(p)
}

func (r *Router) save(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	names := req.Form["names"]
	if n := vars["name"]; n != "" {
		names = []string{n}
	}
	if len(names) == 0 {
		return errdefs.ErrInvalidArgument.WithMessage("no image names given")
	}
	return r.b.ImageSave(ctx, names, &tarWriter{w: w})
}

func (r *Router) load(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	s := newStream(w)
	return s.finish(r.b.ImageLoad(ctx, req.Body, httputils.BoolValue(req, "quiet"), s.send))
}

func (r *Router) prune(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	f, err := httputils.ParseFilters(req.FormValue("filters"), "dangling", "label", "label!", "until")
	if err != nil {
		return err
	}
	rep, err := r.b.ImagePrune(ctx, f)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, rep)
}

func (r *Router) search(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	term := req.FormValue("term")
	if term == "" {
		return errdefs.ErrInvalidArgument.WithMessage("search term is required")
	}
	limit, err := httputils.IntValue(req, "limit", 25)
	if err != nil {
		return err
	}
	if limit < 1 || limit > 100 {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("limit %d is outside the range of [1, 100]", limit))
	}
	f, err := httputils.ParseFilters(req.FormValue("filters"), "is-automated", "is-official", "stars")
	if err != nil {
		return err
	}
	auth, err := decodeAuth(req.Header.Get(registry.AuthHeader))
	if err != nil {
		return err
	}
	res, err := r.b.ImageSearch(ctx, term, limit, f, auth)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, res)
}

func (r *Router) auth(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	var cfg registry.AuthConfig
	if err := httputils.ReadJSON(w, req, &cfg); err != nil {
		return err
	}
	resp, err := r.b.RegistryLogin(ctx, &cfg)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, resp)
}

func (r *Router) commit(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	var cfg *containertypes.Config
	if err := httputils.ReadJSON(w, req, &cfg); err != nil {
		return err
	}
	opts := CommitOptions{
		Container: req.FormValue("container"),
		Ref:       repoTag(req.FormValue("repo"), req.FormValue("tag")),
		Comment:   req.FormValue("comment"),
		Author:    req.FormValue("author"),
		Changes:   req.Form["changes"],
		Pause:     httputils.BoolValueOrDefault(req, "pause", true),
		Config:    cfg,
	}
	if opts.Container == "" {
		return errdefs.ErrInvalidArgument.WithMessage("container is required")
	}
	id, err := r.b.ImageCommit(ctx, opts)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusCreated, containertypes.CommitResponse{ID: id})
}
