// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package container

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"

	"github.com/containerd/errdefs"
	containertypes "github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/api/httputils"
	"github.com/berth-project/berth/internal/api/server"
)

// ArchiveBackend is what the archive routes (docker cp) need.
type ArchiveBackend interface {
	// ContainerStatPath stats a path in the container.
	ContainerStatPath(ctx context.Context, ref, path string) (containertypes.PathStat, error)
	// ContainerArchivePath calls start with the path's stat, then writes
	// a tar of the path to the writer start returns.
	ContainerArchivePath(ctx context.Context, ref, path string, start func(containertypes.PathStat) io.Writer) error
	// ContainerExtractToDir unpacks a tar into a directory of the
	// container.
	ContainerExtractToDir(ctx context.Context, ref, path string, noOverwriteDirNonDir, copyUIDGID bool, r io.Reader) error
}

// statHeader is the header that carries a path's stat, base64 JSON.
const statHeader = "X-Docker-Container-Path-Stat"

func (r *Router) archiveRoutes() []server.Route {
	return []server.Route{
		{Method: "HEAD", Path: "/containers/{name:.*}/archive", Handler: r.archiveStat},
		{Method: "GET", Path: "/containers/{name:.*}/archive", Handler: r.archiveGet},
		{Method: "PUT", Path: "/containers/{name:.*}/archive", Handler: r.archivePut},
	}
}

func archivePath(req *http.Request) (string, error) {
	p := req.FormValue("path")
	if p == "" {
		// Docker 20.10's text, missing space included
		return "", errdefs.ErrInvalidArgument.WithMessage("bad parameter: pathcannot be empty")
	}
	return p, nil
}

func setStatHeader(w http.ResponseWriter, st containertypes.PathStat) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	w.Header().Set(statHeader, base64.StdEncoding.EncodeToString(b))
	return nil
}

func (r *Router) archiveStat(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	p, err := archivePath(req)
	if err != nil {
		return err
	}
	st, err := r.b.ContainerStatPath(ctx, vars["name"], p)
	if err != nil {
		return err
	}
	if err := setStatHeader(w, st); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (r *Router) archiveGet(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	p, err := archivePath(req)
	if err != nil {
		return err
	}
	return r.b.ContainerArchivePath(ctx, vars["name"], p, func(st containertypes.PathStat) io.Writer {
		setStatHeader(w, st)
		w.Header().Set("Content-Type", "application/x-tar")
		w.WriteHeader(http.StatusOK)
		return w
	})
}

func (r *Router) archivePut(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	p, err := archivePath(req)
	if err != nil {
		return err
	}
	err = r.b.ContainerExtractToDir(ctx, vars["name"], p,
		httputils.BoolValue(req, "noOverwriteDirNonDir"), httputils.BoolValue(req, "copyUIDGID"), req.Body)
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}
