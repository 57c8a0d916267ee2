// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package volume holds the Engine API's volume routes.
package volume

import (
	"context"
	"net/http"

	"github.com/moby/moby/api/types/volume"

	"github.com/berth-project/berth/internal/api/httputils"
	"github.com/berth-project/berth/internal/api/server"
)

// Backend is what the volume routes need from the daemon.
type Backend interface {
	VolumeList(ctx context.Context, f httputils.Filters) (volume.ListResponse, error)
	VolumeInspect(ctx context.Context, name string) (volume.Volume, error)
	VolumeCreate(ctx context.Context, req *volume.CreateRequest) (volume.Volume, error)
	VolumeRemove(ctx context.Context, name string, force bool) error
	VolumePrune(ctx context.Context, f httputils.Filters) (volume.PruneReport, error)
}

// Router serves /volumes.
type Router struct{ b Backend }

// New returns the volume router over b.
func New(b Backend) *Router { return &Router{b: b} }

// Routes lists the routes.
func (r *Router) Routes() []server.Route {
	return []server.Route{
		{Method: "GET", Path: "/volumes", Handler: r.list},
		{Method: "GET", Path: "/volumes/{name:.*}", Handler: r.inspect},
		{Method: "POST", Path: "/volumes/create", Handler: r.create},
		{Method: "POST", Path: "/volumes/prune", Handler: r.prune},
		{Method: "DELETE", Path: "/volumes/{name:.*}", Handler: r.remove},
	}
}

func (r *Router) list(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	f, err := httputils.ParseFilters(req.FormValue("filters"), "dangling", "driver", "label", "name")
	if err != nil {
		return err
	}
	l, err := r.b.VolumeList(ctx, f)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, l)
}

func (r *Router) inspect(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	v, err := r.b.VolumeInspect(ctx, vars["name"])
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, v)
}

func (r *Router) create(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	var cr volume.CreateRequest
	if err := httputils.ReadJSON(w, req, &cr); err != nil {
		return err
	}
	v, err := r.b.VolumeCreate(ctx, &cr)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusCreated, v)
}

func (r *Router) remove(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	if err := r.b.VolumeRemove(ctx, vars["name"], httputils.BoolValue(req, "force")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (r *Router) prune(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	f, err := httputils.ParseFilters(req.FormValue("filters"), "label", "label!", "all")
	if err != nil {
		return err
	}
	rep, err := r.b.VolumePrune(ctx, f)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, rep)
}
