// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package swarm answers the Engine API's swarm and plugin routes the way
// Docker answers them on a node that is in no swarm and has no plugins:
// berth implements neither, so the docker CLI's swarm, node, service,
// stack, secret, config and plugin commands get Docker's own errors (or
// an empty plugin list), never "page not found".
package swarm

import (
	"context"
	"fmt"
	"net/http"

	"github.com/containerd/errdefs"

	"github.com/berth-project/berth/internal/api/httputils"
	"github.com/berth-project/berth/internal/api/server"
)

// Docker's texts (daemon/cluster), with their status: 503.
var (
	errNotManager = errdefs.ErrUnavailable.WithMessage(`This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.`)
	errNoSwarm    = errdefs.ErrUnavailable.WithMessage("This node is not part of a swarm")
)

// Router serves /swarm, /nodes, /services, /tasks, /secrets, /configs and
// /plugins.
type Router struct{}

// New returns the router.
func New() *Router { return &Router{} }

// Routes lists the routes.
func (r *Router) Routes() []server.Route {
	fail := func(err error) httputils.APIFunc {
		return func(context.Context, http.ResponseWriter, *http.Request, map[string]string) error { return err }
	}
	routes := []server.Route{
		{Method: "POST", Path: "/swarm/init", Handler: fail(errNotSupported("swarm mode is"))},
		{Method: "POST", Path: "/swarm/join", Handler: fail(errNotSupported("swarm mode is"))},
		{Method: "POST", Path: "/swarm/leave", Handler: fail(errNoSwarm)},
		{Method: "POST", Path: "/swarm/unlock", Handler: fail(errNoSwarm)},
		{Method: "GET", Path: "/swarm", Handler: fail(errNotManager)},
		{Method: "POST", Path: "/swarm/update", Handler: fail(errNotManager)},
		{Method: "GET", Path: "/swarm/unlockkey", Handler: fail(errNotManager)},
	}
	for _, kind := range []string{"nodes", "services", "tasks", "secrets", "configs"} {
		routes = append(routes,
			server.Route{Method: "GET", Path: "/" + kind, Handler: fail(errNotManager)},
			server.Route{Method: "GET", Path: "/" + kind + "/{id:.*}", Handler: fail(errNotManager)},
			server.Route{Method: "POST", Path: "/" + kind + "/{id:.*}", Handler: fail(errNotManager)},
			server.Route{Method: "DELETE", Path: "/" + kind + "/{id:.*}", Handler: fail(errNotManager)},
		)
	}
	return append(routes,
		server.Route{Method: "GET", Path: "/plugins", Handler: r.plugins},
		server.Route{Method: "GET", Path: "/plugins/privileges", Handler: fail(errNotSupported("plugins are"))},
		server.Route{Method: "POST", Path: "/plugins/pull", Handler: fail(errNotSupported("plugins are"))},
		server.Route{Method: "POST", Path: "/plugins/create", Handler: fail(errNotSupported("plugins are"))},
		server.Route{Method: "GET", Path: "/plugins/{name:.*}/json", Handler: r.noPlugin},
		server.Route{Method: "POST", Path: "/plugins/{name:.*}/{action:enable|disable|push|set|upgrade}", Handler: r.noPlugin},
		server.Route{Method: "DELETE", Path: "/plugins/{name:.*}", Handler: r.noPlugin},
	)
}

func errNotSupported(what string) error {
	return errdefs.ErrNotImplemented.WithMessage(what + " not supported by berth")
}

// plugins is GET /plugins: none.
func (r *Router) plugins(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	if _, err := httputils.ParseFilters(req.FormValue("filters"), "capability", "enable"); err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, []struct{}{})
}

// noPlugin answers for a named plugin, which never exists, in Docker's
// words.
func (r *Router) noPlugin(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	return errdefs.ErrNotFound.WithMessage(fmt.Sprintf("plugin %q not found", vars["name"]))
}
