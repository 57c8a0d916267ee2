// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package system holds the Engine API's system routes: ping, version,
// info, events and disk usage.
package system

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/system"

	"github.com/berth-project/berth/internal/api/httputils"
	"github.com/berth-project/berth/internal/api/server"
)

// Backend is what the system routes need from the daemon.
type Backend interface {
	SystemVersion(ctx context.Context) system.VersionResponse
	SystemInfo(ctx context.Context) (*system.Info, error)
	// SystemDiskUsage returns the body of /system/df for the API version.
	SystemDiskUsage(ctx context.Context, version string) (any, error)
	// SubscribeEvents returns past events since and a channel of the
	// coming ones; cancel ends it.
	SubscribeEvents(since time.Time) ([]events.Message, <-chan events.Message, func())
}

// Router serves the system routes.
type Router struct{ b Backend }

// New returns the system router over b.
func New(b Backend) *Router { return &Router{b: b} }

// Routes lists the routes.
func (r *Router) Routes() []server.Route {
	return []server.Route{
		{Method: "GET", Path: "/_ping", Handler: r.ping},
		{Method: "HEAD", Path: "/_ping", Handler: r.ping},
		{Method: "GET", Path: "/version", Handler: r.version},
		{Method: "GET", Path: "/info", Handler: r.info},
		{Method: "GET", Path: "/events", Handler: r.events},
		{Method: "GET", Path: "/system/df", Handler: r.df},
	}
}

func (r *Router) ping(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	h := w.Header()
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("Pragma", "no-cache")
	h.Set("Builder-Version", "1")
	h.Set("Swarm", "inactive")
	if req.Method == http.MethodHead {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return nil
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write([]byte("OK"))
	return err
}

func (r *Router) version(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	return httputils.WriteJSON(w, http.StatusOK, r.b.SystemVersion(ctx))
}

func (r *Router) info(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	info, err := r.b.SystemInfo(ctx)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, info)
}

func (r *Router) df(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	du, err := r.b.SystemDiskUsage(ctx, httputils.VersionFromContext(ctx))
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, du)
}

// events streams events as JSON lines: the kept ones since "since" (all
// of them with "until" alone), then new ones until "until" passes or the
// client goes.
func (r *Router) events(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	f, err := httputils.ParseFilters(req.FormValue("filters"), "config", "container", "daemon", "event", "image", "label", "network", "node", "plugin", "scope", "secret", "service", "type", "volume")
	if err != nil {
		return err
	}
	since, err := httputils.ParseTimestamp(req.FormValue("since"))
	if err != nil {
		return err
	}
	until, err := httputils.ParseTimestamp(req.FormValue("until"))
	if err != nil {
		return err
	}
	// as in Docker, "until" alone replays every kept event before it
	replay := since
	if replay.IsZero() && !until.IsZero() {
		replay = time.Unix(0, 0)
	}
	past, ch, cancel := r.b.SubscribeEvents(replay)
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	fw := httputils.NewFlushWriter(w)
	fw.Write(nil)
	enc := json.NewEncoder(fw)
	legacy := httputils.VersionBefore(ctx, "1.52")
	send := func(m events.Message) error {
		if !until.IsZero() && m.TimeNano > until.UnixNano() {
			return nil
		}
		if !match(f, m) {
			return nil
		}
		if legacy && (m.Type == events.ContainerEventType || m.Type == events.ImageEventType) {
			return enc.Encode(withLegacyFields(m))
		}
		return enc.Encode(m)
	}
	for _, m := range past {
		if err := send(m); err != nil {
			return nil
		}
	}
	var timeout <-chan time.Time
	if !until.IsZero() {
		d := time.Until(until)
		if d < 0 {
			return nil
		}
		timeout = time.After(d)
	}
	for {
		select {
		case m := <-ch:
			if err := send(m); err != nil {
				return nil
			}
		case <-timeout:
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}

// legacyMessage is an event with the fields API versions before 1.52
// give container and image events (deprecated): status (the action), id
// (the actor's) and, for a container, from (its image). The docker CLI's
// --format '{{.Status}}' reads them.
type legacyMessage struct {
	Status string `json:"status,omitempty"`
	ID     string `json:"id,omitempty"`
	From   string `json:"from,omitempty"`
	events.Message
}

func withLegacyFields(m events.Message) legacyMessage {
	l := legacyMessage{Status: string(m.Action), ID: m.Actor.ID, Message: m}
	if m.Type == events.ContainerEventType {
		l.From = m.Actor.Attributes["image"]
	}
	return l
}

// match applies the events filters, Docker's way: each term restricts,
// values of one term are alternatives.
func match(f httputils.Filters, m events.Message) bool {
	if !f.Match("type", string(m.Type)) || !f.Match("scope", m.Scope) {
		return false
	}
	action := string(m.Action)
	if base, _, ok := strings.Cut(action, ":"); ok {
		if !f.Match("event", action) && !f.Match("event", base) {
			return false
		}
	} else if !f.Match("event", action) {
		return false
	}
	name := m.Actor.Attributes["name"]
	if f.Has("image") && m.Type == events.ContainerEventType {
		// a container's events match its image, by name (with or
		// without the tag) or ID, as Docker's image filter does
		img := m.Actor.Attributes["image"]
		if !f.Match("image", img) && !f.Match("image", stripTag(img)) {
			return false
		}
	}
	for _, term := range []events.Type{events.ContainerEventType, events.ImageEventType, events.NetworkEventType, events.VolumeEventType} {
		if !f.Has(string(term)) || term == events.ImageEventType && m.Type == events.ContainerEventType {
			continue
		}
		if m.Type != term {
			return false
		}
		if !f.Match(string(term), m.Actor.ID) && !f.Match(string(term), name) && !prefixMatch(f[string(term)], m.Actor.ID) {
			return false
		}
	}
	return f.MatchLabels("label", m.Actor.Attributes)
}

// stripTag is a reference without its tag ("busybox" of "busybox:1");
// a digest reference or an ID stays as it is.
func stripTag(ref string) string {
	if strings.Contains(ref, "@") || strings.HasPrefix(ref, "sha256:") {
		return ref
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[:i]
	}
	return ref
}

func prefixMatch(vals []string, id string) bool {
	for _, v := range vals {
		if len(v) >= 12 && len(v) <= len(id) && id[:len(v)] == v {
			return true
		}
	}
	return false
}
