// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package network holds the Engine API's network routes.
package network

import (
	"context"
	"net/http"

	"github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/internal/api/httputils"
	"github.com/berth-project/berth/internal/api/server"
)

// Backend is what the network routes need from the daemon.
type Backend interface {
	NetworkList(ctx context.Context, f httputils.Filters) ([]network.Summary, error)
	NetworkInspect(ctx context.Context, ref string) (network.Inspect, error)
	NetworkCreate(ctx context.Context, req *network.CreateRequest) (network.CreateResponse, error)
	NetworkRemove(ctx context.Context, ref string) error
	NetworkPrune(ctx context.Context, f httputils.Filters) (network.PruneReport, error)
	NetworkConnect(ctx context.Context, ref string, req *network.ConnectRequest) error
	NetworkDisconnect(ctx context.Context, ref string, req *network.DisconnectRequest) error
}

// Router serves /networks.
type Router struct{ b Backend }

// New returns the network router over b.
func New(b Backend) *Router { return &Router{b: b} }

// Routes lists the routes.
func (r *Router) Routes() []server.Route {
	return []server.Route{
		{Method: "GET", Path: "/networks", Handler: r.list},
		{Method: "GET", Path: "/networks/", Handler: r.list},
		{Method: "GET", Path: "/networks/{id:.+}", Handler: r.inspect},
		{Method: "POST", Path: "/networks/create", Handler: r.create},
		{Method: "POST", Path: "/networks/prune", Handler: r.prune},
		{Method: "POST", Path: "/networks/{id:.+}/connect", Handler: r.connect},
		{Method: "POST", Path: "/networks/{id:.+}/disconnect", Handler: r.disconnect},
		{Method: "DELETE", Path: "/networks/{id:.+}", Handler: r.remove},
	}
}

func (r *Router) list(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	f, err := httputils.ParseFilters(req.FormValue("filters"), "dangling", "driver", "id", "label", "name", "scope", "type")
	if err != nil {
		return err
	}
	l, err := r.b.NetworkList(ctx, f)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, l)
}

func (r *Router) inspect(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	n, err := r.b.NetworkInspect(ctx, vars["id"])
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, n)
}

func (r *Router) create(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	var cr network.CreateRequest
	if err := httputils.ReadJSON(w, req, &cr); err != nil {
		return err
	}
	resp, err := r.b.NetworkCreate(ctx, &cr)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusCreated, resp)
}

func (r *Router) remove(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	if err := r.b.NetworkRemove(ctx, vars["id"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (r *Router) prune(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	f, err := httputils.ParseFilters(req.FormValue("filters"), "until", "label", "label!")
	if err != nil {
		return err
	}
	rep, err := r.b.NetworkPrune(ctx, f)
	if err != nil {
		return err
	}
	if rep.NetworksDeleted == nil {
		rep.NetworksDeleted = []string{}
	}
	return httputils.WriteJSON(w, http.StatusOK, rep)
}

func (r *Router) connect(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	var cr network.ConnectRequest
	if err := httputils.ReadJSON(w, req, &cr); err != nil {
		return err
	}
	if err := r.b.NetworkConnect(ctx, vars["id"], &cr); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (r *Router) disconnect(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	var dr network.DisconnectRequest
	if err := httputils.ReadJSON(w, req, &dr); err != nil {
		return err
	}
	if err := r.b.NetworkDisconnect(ctx, vars["id"], &dr); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}
