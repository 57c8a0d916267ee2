// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package build holds the Engine API's build routes: POST /build (the
// classic builder's protocol: a tar context in, a JSON message stream
// out), POST /build/prune and POST /session, which a daemon without
// BuildKit does not serve.
package build

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/containerd/errdefs"
	"github.com/docker/go-units"
	buildtypes "github.com/moby/moby/api/types/build"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/jsonstream"

	"github.com/berth-project/berth/internal/api/httputils"
	"github.com/berth-project/berth/internal/api/server"
)

// Options are the parameters of POST /build.
type Options struct {
	Tags          []string
	Dockerfile    string
	BuildArgs     map[string]*string
	Labels        map[string]string
	Target        string
	NoCache       bool
	Remove        bool
	ForceRemove   bool
	PullParent    bool
	Quiet         bool
	Platform      string
	NetworkMode   string
	ExtraHosts    []string
	ShmSize       int64
	CgroupParent  string
	Resources     containertypes.Resources
	RemoteContext string
}

// Backend is what the build routes need from the daemon.
type Backend interface {
	// Build builds from the context in body, writing the step display
	// to out, and returns the image ID. A failure after out was written
	// to ends the stream; Code, when the error has one (Coder), is the
	// failing command's exit code.
	Build(ctx context.Context, body io.Reader, opts Options, out io.Writer) (string, error)
	// BuildCachePrune empties the build cache.
	BuildCachePrune(ctx context.Context) (*buildtypes.CachePruneReport, error)
}

// Coder is an error with a status code for the stream's errorDetail.
type Coder interface{ ExitCode() int }

// Router serves the build routes.
type Router struct{ b Backend }

// New returns the build router over b.
func New(b Backend) *Router { return &Router{b: b} }

// Routes lists the routes.
func (r *Router) Routes() []server.Route {
	return []server.Route{
		{Method: "POST", Path: "/build", Handler: r.build},
		{Method: "POST", Path: "/build/prune", Handler: r.prune},
		{Method: "POST", Path: "/session", Handler: r.session},
	}
}

// session answers as Docker 20.10 does to a client that does not ask for
// an upgrade; one that does gets "not implemented": there is no BuildKit
// session manager to hand the connection to.
func (r *Router) session(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	if req.Header.Get("Upgrade") == "" {
		return errdefs.ErrInvalidArgument.WithMessage("no upgrade proto in request")
	}
	return errdefs.ErrNotImplemented.WithMessage("session not supported: the daemon has no BuildKit")
}

func (r *Router) prune(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	if err := httputils.ParseForm(req); err != nil {
		return err
	}
	if _, err := httputils.ParseFilters(req.FormValue("filters"), "until", "id", "parent", "type", "description", "inuse", "shared", "private", "label", "label!"); err != nil {
		return err
	}
	rep, err := r.b.BuildCachePrune(ctx)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, rep)
}

func (r *Router) build(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	opts, err := parseOptions(req)
	if err != nil {
		return err
	}
	out := &stream{w: w}
	id, err := r.b.Build(ctx, req.Body, opts, out)
	if err != nil {
		if !out.started {
			return err
		}
		code := 1
		if c, ok := err.(Coder); ok && c.ExitCode() != 0 {
			code = c.ExitCode()
		}
		out.send(struct {
			ErrorDetail *jsonstream.Error `json:"errorDetail"`
			Error       string            `json:"error"`
		}{&jsonstream.Error{Code: code, Message: err.Error()}, err.Error()})
		return nil
	}
	aux, _ := json.Marshal(buildtypes.Result{ID: id})
	raw := json.RawMessage(aux)
	out.send(jsonstream.Message{Aux: &raw})
	return nil
}

// parseOptions reads the query of POST /build, as the docker CLI sends it
// without BuildKit.
func parseOptions(req *http.Request) (Options, error) {
	if err := httputils.ParseForm(req); err != nil {
		return Options{}, err
	}
	q := req.Form
	if v := q.Get("version"); v == string(buildtypes.BuilderBuildKit) {
		return Options{}, errdefs.ErrInvalidArgument.WithMessage("buildkit not supported by daemon")
	} else if v != "" && v != string(buildtypes.BuilderV1) {
		return Options{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid version %s", v))
	}
	o := Options{
		Tags:          q["t"],
		Dockerfile:    q.Get("dockerfile"),
		Target:        q.Get("target"),
		NoCache:       httputils.BoolValue(req, "nocache"),
		Remove:        httputils.BoolValueOrDefault(req, "rm", true),
		ForceRemove:   httputils.BoolValue(req, "forcerm"),
		PullParent:    httputils.BoolValue(req, "pull"),
		Quiet:         httputils.BoolValue(req, "q"),
		Platform:      q.Get("platform"),
		NetworkMode:   q.Get("networkmode"),
		CgroupParent:  q.Get("cgroupparent"),
		RemoteContext: q.Get("remote"),
	}
	if o.ForceRemove {
		o.Remove = true
	}
	for _, h := range q["extrahosts"] {
		for _, x := range strings.Split(h, ",") {
			if x != "" {
				o.ExtraHosts = append(o.ExtraHosts, x)
			}
		}
	}
	for _, k := range []struct {
		name string
		dst  any
	}{{"buildargs", &o.BuildArgs}, {"labels", &o.Labels}, {"ulimits", &o.Resources.Ulimits}} {
		if s := q.Get(k.name); s != "" {
			if err := json.Unmarshal([]byte(s), k.dst); err != nil {
				return Options{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid %s: %v", k.name, err))
			}
		}
	}
	ints := []struct {
		name string
		dst  *int64
	}{
		{"memory", &o.Resources.Memory}, {"memswap", &o.Resources.MemorySwap},
		{"cpushares", &o.Resources.CPUShares}, {"cpuperiod", &o.Resources.CPUPeriod},
		{"cpuquota", &o.Resources.CPUQuota}, {"shmsize", &o.ShmSize},
	}
	for _, k := range ints {
		s := q.Get(k.name)
		if s == "" {
			continue
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return Options{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid %s: %s", k.name, s))
		}
		*k.dst = n
	}
	o.Resources.CpusetCpus = q.Get("cpusetcpus")
	o.Resources.CpusetMems = q.Get("cpusetmems")
	if o.ShmSize < 0 {
		return Options{}, errdefs.ErrInvalidArgument.WithMessage("invalid shmsize: " + units.BytesSize(float64(o.ShmSize)))
	}
	return o, nil
}

// stream writes the build's output as Docker's JSON messages, one
// {"stream": …} per write, flushed at once. The status line goes out
// with the first message, so an error found before (a bad Dockerfile)
// gets its own HTTP status.
type stream struct {
	mu      sync.Mutex
	w       http.ResponseWriter
	started bool
	failed  bool
}

func (s *stream) Write(p []byte) (int, error) {
	s.send(jsonstream.Message{Stream: string(p)})
	return len(p), nil
}

func (s *stream) send(v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		s.started = true
		s.w.Header().Set("Content-Type", "application/json")
		s.w.WriteHeader(http.StatusOK)
	}
	if s.failed {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	b = append(b, '\r', '\n')
	if _, err := s.w.Write(b); err != nil {
		s.failed = true
		return
	}
	if f, ok := s.w.(http.Flusher); ok {
		f.Flush()
	}
}
