// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package server serves the Engine API: it registers the routers' routes
// under both the unversioned and the versioned paths ("/containers/json"
// and "/v1.47/containers/json"), checks the version a client asks for,
// answers errors in Docker's JSON shape and logs each request.
package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/berth-project/berth/internal/api/httpstatus"
	"github.com/berth-project/berth/internal/api/httputils"
	"github.com/berth-project/berth/internal/api/versions"
)

// The API versions berth speaks. Clients asking for no version get the
// newest; the docker CLI negotiates down to the lower of its own and ours.
const (
	APIVersion    = "1.51"
	MinAPIVersion = "1.24"
)

// Route is one endpoint of a router.
type Route struct {
	Method  string
	Path    string
	Handler httputils.APIFunc
}

// Router is a group of routes (containers, images, system …).
type Router interface {
	Routes() []Route
}

// Config is what the server says of itself in headers.
type Config struct {
	// Version is berth's version, sent in the Server header.
	Version string
	Log     *slog.Logger
}

// Server is the Engine API HTTP server.
type Server struct {
	cfg     Config
	routes  []route
	servers []*http.Server
}

// route is a Route with its path compiled.
type route struct {
	method  string
	path    pathPattern
	handler httputils.APIFunc
}

// New returns a server for routers. A route whose path it cannot match
// (see pathPattern) is a programming error: New panics.
func New(cfg Config, routers ...Router) *Server {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg}
	for _, r := range routers {
		for _, rt := range r.Routes() {
			p, err := compilePath(rt.Path)
			if err != nil {
				panic(err)
			}
			s.routes = append(s.routes, route{method: rt.Method, path: p, handler: rt.Handler})
		}
	}
	return s
}

// notFound answers a path no route has, or a method the path's routes
// do not take (as Docker, which answers both with 404).
func notFound(ctx context.Context, w http.ResponseWriter, r *http.Request, _ map[string]string) error {
	return writeError(w, http.StatusNotFound, "page not found")
}

// ServeHTTP finds the first route with the request's method and path,
// under "/v<version>" or not, and serves it. The path is matched as sent
// (not cleaned), after percent-decoding.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	version, path := splitVersion(r.URL.Path)
	vars := make(map[string]string, 3)
	for i := range s.routes {
		rt := &s.routes[i]
		if rt.method != r.Method || !rt.path.match(path, vars) {
			continue
		}
		if version != "" {
			vars["version"] = version
		}
		s.serve(w, r, rt.handler, vars)
		return
	}
	if version != "" {
		vars["version"] = version
	}
	s.serve(w, r, notFound, vars)
}

// Handler returns the server's http.Handler.
func (s *Server) Handler() http.Handler { return s }

// Serve serves ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 30 * time.Second}
	s.servers = append(s.servers, hs)
	err := hs.Serve(ln)
	if err == http.ErrServerClosed {
		return nil
	}
	return err
}

// Shutdown stops every listener; hijacked streams are the handlers' to end.
func (s *Server) Shutdown(ctx context.Context) {
	for _, hs := range s.servers {
		hs.Shutdown(ctx)
	}
}

type errorResponse struct {
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, code int, msg string) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	return json.NewEncoder(w).Encode(errorResponse{Message: msg})
}

// statusWriter remembers whether a handler wrote its header, so an error
// after the body started is only logged.
type statusWriter struct {
	http.ResponseWriter
	code    int
	written bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.written {
		w.code, w.written = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if !w.written {
		w.code, w.written = http.StatusOK, true
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the hijacker.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Hijack() (net.Conn, *bufioReadWriter, error) {
	w.written = true
	w.code = http.StatusSwitchingProtocols
	return hijack(w.ResponseWriter)
}

// serve is the middleware around a route's handler: version check and
// headers, form parsing, error bodies, panic recovery and the request log.
func (s *Server) serve(rw http.ResponseWriter, r *http.Request, h httputils.APIFunc, vars map[string]string) {
	start := time.Now()
	w := &statusWriter{ResponseWriter: rw}
	version := vars["version"]
	w.Header().Set("Api-Version", APIVersion)
	w.Header().Set("Server", "berth/"+s.cfg.Version+" (linux)")
	w.Header().Set("Ostype", "linux")
	w.Header().Set("Docker-Experimental", "false")
	var err error
	defer func() {
		if p := recover(); p != nil {
			s.cfg.Log.Error("panic in API handler", "method", r.Method, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
			if !w.written {
				writeError(w, http.StatusInternalServerError, fmt.Sprint(p))
			}
		}
		level := slog.LevelDebug
		if w.code >= 500 {
			level = slog.LevelWarn
		}
		attrs := []any{"method", r.Method, "path", r.URL.Path, "status", w.code, "duration", time.Since(start)}
		if err != nil {
			attrs = append(attrs, "err", err)
		}
		s.cfg.Log.Log(r.Context(), level, "request", attrs...)
	}()
	switch {
	case version == "":
		version = APIVersion
	case versions.LessThan(version, MinAPIVersion):
		err = fmt.Errorf("client version %s is too old. Minimum supported API version is %s, please upgrade your client to a newer version", version, MinAPIVersion)
		writeError(w, http.StatusBadRequest, err.Error())
		return
	case versions.LessThan(APIVersion, version):
		err = fmt.Errorf("client version %s is too new. Maximum supported API version is %s", version, APIVersion)
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx := httputils.WithVersion(r.Context(), version)
	if err = httputils.ParseForm(r); err == nil {
		err = h(ctx, w, r.WithContext(ctx), vars)
	}
	if err != nil && !w.written {
		writeError(w, httpstatus.FromError(err), err.Error())
	}
}
