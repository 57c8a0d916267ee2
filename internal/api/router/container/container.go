// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package container

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/containerd/errdefs"
	containertypes "github.com/moby/moby/api/types/container"
	"golang.org/x/net/websocket"

	"github.com/berth-project/berth/internal/api/httputils"
	"github.com/berth-project/berth/internal/api/server"
)

// Router serves /containers and /exec.
type Router struct{ b Backend }

// New returns the container router over b.
func New(b Backend) *Router { return &Router{b: b} }

// Routes lists the routes.
func (r *Router) Routes() []server.Route {
	return append(r.archiveRoutes(), []server.Route{
		{Method: "GET", Path: "/containers/json", Handler: r.list},
		{Method: "GET", Path: "/containers/{name:.*}/json", Handler: r.inspect},
		{Method: "GET", Path: "/containers/{name:.*}/top", Handler: r.top},
		{Method: "GET", Path: "/containers/{name:.*}/logs", Handler: r.logs},
		{Method: "GET", Path: "/containers/{name:.*}/changes", Handler: r.changes},
		{Method: "GET", Path: "/containers/{name:.*}/export", Handler: r.export},
		{Method: "GET", Path: "/containers/{name:.*}/stats", Handler: r.stats},
		{Method: "POST", Path: "/containers/create", Handler: r.create},
		{Method: "POST", Path: "/containers/prune", Handler: r.prune},
		{Method: "POST", Path: "/containers/{name:.*}/start", Handler: r.start},
		{Method: "POST", Path: "/containers/{name:.*}/stop", Handler: r.stop},
		{Method: "POST", Path: "/containers/{name:.*}/restart", Handler: r.restart},
		{Method: "POST", Path: "/containers/{name:.*}/kill", Handler: r.kill},
		{Method: "POST", Path: "/containers/{name:.*}/wait", Handler: r.wait},
		{Method: "POST", Path: "/containers/{name:.*}/rename", Handler: r.rename},
		{Method: "POST", Path: "/containers/{name:.*}/update", Handler: r.update},
		{Method: "POST", Path: "/containers/{name:.*}/pause", Handler: r.pause},
		{Method: "POST", Path: "/containers/{name:.*}/unpause", Handler: r.unpause},
		{Method: "POST", Path: "/containers/{name:.*}/attach", Handler: r.attach},
		{Method: "GET", Path: "/containers/{name:.*}/attach/ws", Handler: r.attachWS},
		{Method: "POST", Path: "/containers/{name:.*}/resize", Handler: r.resize},
		{Method: "POST", Path: "/containers/{name:.*}/exec", Handler: r.execCreate},
		{Method: "DELETE", Path: "/containers/{name:.*}", Handler: r.remove},
		{Method: "POST", Path: "/exec/{id:.*}/start", Handler: r.execStart},
		{Method: "POST", Path: "/exec/{id:.*}/resize", Handler: r.execResize},
		{Method: "GET", Path: "/exec/{id:.*}/json", Handler: r.execInspect},
	}...)
}

func (r *Router) list(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	f, err := httputils.ParseFilters(req.FormValue("filters"), "ancestor", "before", "expose", "exited", "health", "id", "isolation", "is-task", "label", "name", "network", "publish", "since", "status", "volume")
	if err != nil {
		return err
	}
	limit, err := httputils.IntValue(req, "limit", -1)
	if err != nil {
		return err
	}
	list, err := r.b.ContainerList(ctx, httputils.BoolValue(req, "all"), limit, httputils.BoolValue(req, "size"), f)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, list)
}

func (r *Router) inspect(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	c, err := r.b.ContainerInspect(ctx, vars["name"], httputils.BoolValue(req, "size"))
	if err != nil {
		return err
	}
	if httputils.VersionBefore(ctx, "1.52") && c.NetworkSettings != nil {
		return httputils.WriteJSON(w, http.StatusOK, withLegacyNetwork(c))
	}
	return httputils.WriteJSON(w, http.StatusOK, c)
}

// legacyInspect is inspect's answer with the network fields that API
// versions before 1.52 have at the top of NetworkSettings (deprecated
// since 1.44): the default bridge network's endpoint, as Docker fills
// them, so that templates such as {{.NetworkSettings.IPAddress}} work.
type legacyInspect struct {
	*containertypes.InspectResponse
	NetworkSettings *legacyNetworkSettings
}

type legacyNetworkSettings struct {
	*containertypes.NetworkSettings
	Bridge                 string
	HairpinMode            bool
	LinkLocalIPv6Address   string
	LinkLocalIPv6PrefixLen int
	SecondaryIPAddresses   []any
	SecondaryIPv6Addresses []any
	EndpointID             string
	Gateway                string
	GlobalIPv6Address      string
	GlobalIPv6PrefixLen    int
	IPAddress              string
	IPPrefixLen            int
	IPv6Gateway            string
	MacAddress             string
}

func withLegacyNetwork(c *containertypes.InspectResponse) legacyInspect {
	ns := &legacyNetworkSettings{NetworkSettings: c.NetworkSettings}
	str := func(a netip.Addr) string {
		if !a.IsValid() {
			return ""
		}
		return a.String()
	}
	if ep := c.NetworkSettings.Networks["bridge"]; ep != nil {
		ns.EndpointID, ns.Gateway, ns.IPAddress, ns.IPPrefixLen = ep.EndpointID, str(ep.Gateway), str(ep.IPAddress), ep.IPPrefixLen
		ns.IPv6Gateway, ns.GlobalIPv6Address, ns.GlobalIPv6PrefixLen = str(ep.IPv6Gateway), str(ep.GlobalIPv6Address), ep.GlobalIPv6PrefixLen
		if len(ep.MacAddress) > 0 {
			ns.MacAddress = net.HardwareAddr(ep.MacAddress).String()
		}
	}
	return legacyInspect{InspectResponse: c, NetworkSettings: ns}
}

func (r *Router) create(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	var cr containertypes.CreateRequest
	if err := httputils.ReadJSON(w, req, &cr); err != nil {
		return err
	}
	if cr.Config == nil {
		return errdefs.ErrInvalidArgument.WithMessage("config cannot be empty in order to create a container")
	}
	if cr.HostConfig == nil {
		cr.HostConfig = &containertypes.HostConfig{}
	}
	resp, err := r.b.ContainerCreate(ctx, req.FormValue("name"), &cr)
	if err != nil {
		return err
	}
	if resp.Warnings == nil {
		resp.Warnings = []string{}
	}
	return httputils.WriteJSON(w, http.StatusCreated, resp)
}

func (r *Router) start(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	if err := r.b.ContainerStart(ctx, vars["name"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func timeoutParam(req *http.Request) (*int, error) {
	s := req.FormValue("t")
	if s == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid value for t: %q", s))
	}
	return &n, nil
}

func (r *Router) stop(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	t, err := timeoutParam(req)
	if err != nil {
		return err
	}
	if err := r.b.ContainerStop(ctx, vars["name"], req.FormValue("signal"), t); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (r *Router) restart(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	t, err := timeoutParam(req)
	if err != nil {
		return err
	}
	if err := r.b.ContainerRestart(ctx, vars["name"], req.FormValue("signal"), t); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (r *Router) kill(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	if err := r.b.ContainerKill(ctx, vars["name"], req.FormValue("signal")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// wait answers once the condition is met. The status line goes out at
// once (as Docker does) so that the client knows the wait is in place.
func (r *Router) wait(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	cond := containertypes.WaitCondition(req.FormValue("condition"))
	switch cond {
	case "", containertypes.WaitConditionNotRunning, containertypes.WaitConditionNextExit, containertypes.WaitConditionRemoved:
	default:
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid condition: %q", cond))
	}
	ch, err := r.b.ContainerWait(ctx, vars["name"], cond)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	select {
	case resp, ok := <-ch:
		if !ok {
			return nil
		}
		return json.NewEncoder(w).Encode(resp)
	case <-ctx.Done():
		return nil
	}
}

func (r *Router) remove(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	if httputils.BoolValue(req, "link") {
		return errdefs.ErrNotImplemented.WithMessage("links are not supported")
	}
	if err := r.b.ContainerRemove(ctx, vars["name"], httputils.BoolValue(req, "force"), httputils.BoolValue(req, "v")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (r *Router) rename(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	if err := r.b.ContainerRename(ctx, vars["name"], req.FormValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (r *Router) update(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	var u containertypes.UpdateConfig
	if err := httputils.ReadJSON(w, req, &u); err != nil {
		return err
	}
	resp, err := r.b.ContainerUpdate(ctx, vars["name"], &u)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, resp)
}

func (r *Router) pause(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	if err := r.b.ContainerPause(ctx, vars["name"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (r *Router) unpause(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	if err := r.b.ContainerUnpause(ctx, vars["name"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (r *Router) top(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	resp, err := r.b.ContainerTop(ctx, vars["name"], req.FormValue("ps_args"))
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, resp)
}

func (r *Router) stats(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	stream := httputils.BoolValueOrDefault(req, "stream", true)
	if httputils.BoolValue(req, "one-shot") {
		stream = false
	}
	w.Header().Set("Content-Type", "application/json")
	return r.b.ContainerStats(ctx, vars["name"], stream, httputils.NewFlushWriter(w))
}

func (r *Router) changes(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	ch, err := r.b.ContainerChanges(ctx, vars["name"])
	if err != nil {
		return err
	}
	if ch == nil {
		ch = []containertypes.FilesystemChange{}
	}
	return httputils.WriteJSON(w, http.StatusOK, ch)
}

func (r *Router) export(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	w.Header().Set("Content-Type", "application/x-tar")
	return r.b.ContainerExport(ctx, vars["name"], w)
}

func (r *Router) prune(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	f, err := httputils.ParseFilters(req.FormValue("filters"), "until", "label", "label!")
	if err != nil {
		return err
	}
	rep, err := r.b.ContainerPrune(ctx, f)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, rep)
}

func (r *Router) resize(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	h, w2, err := sizeParams(req)
	if err != nil {
		return err
	}
	if err := r.b.ContainerResize(ctx, vars["name"], h, w2); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func sizeParams(req *http.Request) (uint16, uint16, error) {
	h, err1 := strconv.ParseUint(req.FormValue("h"), 10, 16)
	w, err2 := strconv.ParseUint(req.FormValue("w"), 10, 16)
	if err1 != nil || err2 != nil {
		return 0, 0, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid height or width: %q x %q", req.FormValue("h"), req.FormValue("w")))
	}
	return uint16(h), uint16(w), nil
}

// logs streams the log: raw for a TTY container, multiplexed frames
// otherwise.
func (r *Router) logs(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	cfg := &LogsConfig{
		Stdout:     httputils.BoolValue(req, "stdout"),
		Stderr:     httputils.BoolValue(req, "stderr"),
		Follow:     httputils.BoolValue(req, "follow"),
		Timestamps: httputils.BoolValue(req, "timestamps"),
		Details:    httputils.BoolValue(req, "details"),
		Tail:       -1,
	}
	if !cfg.Stdout && !cfg.Stderr {
		return errdefs.ErrInvalidArgument.WithMessage("Bad parameters: you must choose at least one stream")
	}
	if t := req.FormValue("tail"); t != "" && t != "all" {
		// a value that is no number means all, as with Docker
		if n, err := strconv.Atoi(t); err == nil && n >= 0 {
			cfg.Tail = n
		}
	}
	var err error
	if cfg.Since, err = logsTime(req.FormValue("since")); err != nil {
		return err
	}
	if cfg.Until, err = logsTime(req.FormValue("until")); err != nil {
		return err
	}
	tty, err := r.b.ContainerLogsCheck(ctx, vars["name"])
	if err != nil {
		return err
	}
	if tty {
		w.Header().Set("Content-Type", "application/vnd.docker.raw-stream")
	} else {
		w.Header().Set("Content-Type", "application/vnd.docker.multiplexed-stream")
	}
	w.WriteHeader(http.StatusOK)
	fw := httputils.NewFlushWriter(w)
	fw.Write(nil)
	_, err = r.b.ContainerLogs(ctx, vars["name"], cfg, fw)
	return err
}

// logsTime reads a logs bound; for logs "0" means no bound, as "" does.
func logsTime(s string) (time.Time, error) {
	if s == "0" {
		return time.Time{}, nil
	}
	return httputils.ParseTimestamp(s)
}

// attachConfig reads an attach's query: the streams, logs, stream and
// the detach keys.
func attachConfig(req *http.Request, stream bool, reserved AttachReservation) *AttachConfig {
	return &AttachConfig{
		UseStdin:    httputils.BoolValue(req, "stdin"),
		UseStdout:   httputils.BoolValue(req, "stdout"),
		UseStderr:   httputils.BoolValue(req, "stderr"),
		Logs:        httputils.BoolValue(req, "logs"),
		Stream:      stream,
		DetachKeys:  req.FormValue("detachKeys"),
		Reservation: reserved,
	}
}

// attach hijacks the connection and hands the streams to the backend.
func (r *Router) attach(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	name := vars["name"]
	stream := httputils.BoolValue(req, "stream")
	tty, reserved, err := r.b.ContainerAttachInfo(ctx, name, stream)
	if err != nil {
		return err
	}
	conn, rw, err := httputils.Hijack(w, req, !tty)
	if err != nil {
		if reserved != nil {
			reserved.Cancel()
		}
		return err
	}
	defer conn.Close()
	cfg := attachConfig(req, stream, reserved)
	cfg.Multiplexed = !tty
	var in io.Reader = rw.Reader
	cfg.Stdin = in
	if tty {
		cfg.Stdout = conn
		cfg.Stderr = conn
	} else {
		cfg.Stdout = &httputils.FrameWriter{W: conn, Stream: httputils.Stdout}
		cfg.Stderr = &httputils.FrameWriter{W: conn, Stream: httputils.Stderr}
	}
	// The request's context ends with the hijacked connection's request;
	// the attach lives as long as the connection.
	if err := r.b.ContainerAttach(context.WithoutCancel(ctx), name, cfg); err != nil {
		fmt.Fprintf(cfg.Stderr, "Error attaching: %s\n", err)
	}
	return nil
}

// attachWS is GET /containers/{name}/attach/ws: the attach over a
// WebSocket, as Docker serves it. The output is raw, never multiplexed,
// stdout and stderr on the one connection, in binary frames (text frames
// for API versions before 1.28, as Docker sent them then); the client's
// frames are the input. There is no origin check, as in Docker: the
// socket's permissions are the access control.
func (r *Router) attachWS(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	name := vars["name"]
	stream := httputils.BoolValue(req, "stream")
	_, reserved, err := r.b.ContainerAttachInfo(ctx, name, stream)
	if err != nil {
		return err
	}
	served := false
	srv := websocket.Server{Handler: func(conn *websocket.Conn) {
		served = true
		if !httputils.VersionBefore(ctx, "1.28") {
			conn.PayloadType = websocket.BinaryFrame
		}
		cfg := attachConfig(req, stream, reserved)
		cfg.Stdin, cfg.Stdout, cfg.Stderr = conn, conn, conn
		if err := r.b.ContainerAttach(context.WithoutCancel(ctx), name, cfg); err != nil {
			fmt.Fprintf(conn, "Error attaching: %s\n", err)
		}
	}}
	srv.ServeHTTP(w, req)
	if !served && reserved != nil {
		reserved.Cancel() // the handshake failed
	}
	return nil
}

func (r *Router) execCreate(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	var ec containertypes.ExecCreateRequest
	if err := httputils.ReadJSON(w, req, &ec); err != nil {
		return err
	}
	if len(ec.Cmd) == 0 {
		return errdefs.ErrInvalidArgument.WithMessage("No exec command specified")
	}
	id, err := r.b.ExecCreate(ctx, vars["name"], &ec)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusCreated, containertypes.ExecCreateResponse{ID: id})
}

func (r *Router) execStart(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	var es containertypes.ExecStartRequest
	if err := httputils.ReadJSON(w, req, &es); err != nil {
		return err
	}
	id := vars["id"]
	tty, err := r.b.ExecInfo(ctx, id)
	if err != nil {
		return err
	}
	if es.Detach {
		if err := r.b.ExecStart(ctx, id, &ExecStartConfig{Detach: true, Tty: tty}); err != nil {
			return err
		}
		w.WriteHeader(http.StatusOK)
		return nil
	}
	conn, rw, err := httputils.Hijack(w, req, !tty)
	if err != nil {
		return err
	}
	defer conn.Close()
	cfg := &ExecStartConfig{Tty: tty, Stdin: rw.Reader}
	if tty {
		cfg.Stdout, cfg.Stderr = conn, conn
	} else {
		cfg.Stdout = &httputils.FrameWriter{W: conn, Stream: httputils.Stdout}
		cfg.Stderr = &httputils.FrameWriter{W: conn, Stream: httputils.Stderr}
	}
	if err := r.b.ExecStart(context.WithoutCancel(ctx), id, cfg); err != nil {
		fmt.Fprintf(cfg.Stderr, "%s\n", err)
	}
	return nil
}

func (r *Router) execResize(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	h, w2, err := sizeParams(req)
	if err != nil {
		return err
	}
	if err := r.b.ExecResize(ctx, vars["id"], h, w2); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (r *Router) execInspect(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	resp, err := r.b.ExecInspect(ctx, vars["id"])
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, resp)
}
