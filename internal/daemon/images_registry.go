// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package daemon

import (
	"context"
	"fmt"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/registry"

	"github.com/berth-project/berth/internal/api/httputils"
)

// catalogDescription marks search results listed from a registry's
// catalog rather than found by a search service.
const catalogDescription = "(listed from the registry's /v2/_catalog: it has no search API)"

// splitSearchTerm splits a search term into the registry host and the
// text to look for, as Docker's ParseSearchIndexInfo does: the first
// component is a registry when it has a "." or a ":" or is "localhost".
func splitSearchTerm(term string) (host, text string) {
	first, rest, ok := strings.Cut(term, "/")
	if ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return first, rest
	}
	return "docker.io", term
}

func isDockerHub(host string) bool {
	switch host {
	case "docker.io", "index.docker.io", "registry-1.docker.io":
		return true
	}
	return false
}

// ImageSearch answers GET /images/search. A registry that only speaks the
// distribution API (v2) has no search; its catalog is listed instead, and
// the repositories whose name holds the term are returned, with their
// full name so that they can be pulled as they are.
func (b imageBackend) ImageSearch(ctx context.Context, term string, limit int, f httputils.Filters, auth *registry.AuthConfig) ([]registry.SearchResult, error) {
	d := b.d
	official, officialSet, err := boolFilter(f, "is-official")
	if err != nil {
		return nil, err
	}
	automated, _, err := boolFilter(f, "is-automated")
	if err != nil {
		return nil, err
	}
	var stars int
	for _, v := range f["stars"] {
		if _, err := fmt.Sscanf(v, "%d", &stars); err != nil {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter 'stars=%s'", v))
		}
	}
	host, text := splitSearchTerm(term)
	if isDockerHub(host) {
		return nil, errdefs.ErrNotImplemented.WithMessage(fmt.Sprintf(
			"search %q: berth does not search Docker Hub; name a registry in the term (such as 127.0.0.1:5000/%s) to list matching repositories from its catalog", term, text))
	}
	client, err := d.registryClient(auth, "")
	if err != nil {
		return nil, err
	}
	repos, err := client.Catalog(ctx, host)
	if err != nil {
		return nil, err
	}
	d.log.Info("search: the registry has no search API, listed its catalog", "registry", host, "term", text, "repositories", len(repos))
	out := []registry.SearchResult{}
	// Catalog entries are never official, automated or starred.
	if (officialSet && official) || automated || stars > 0 {
		return out, nil
	}
	for _, r := range repos {
		if len(out) == limit {
			break
		}
		if strings.Contains(strings.ToLower(r), strings.ToLower(text)) {
			out = append(out, registry.SearchResult{Name: host + "/" + r, Description: catalogDescription})
		}
	}
	return out, nil
}

// registryHost turns a login's server address ("http://127.0.0.1:5000",
// "https://index.docker.io/v1/", "localhost:5000") into a host[:port].
func registryHost(addr string) string {
	addr = strings.TrimPrefix(strings.TrimPrefix(addr, "https://"), "http://")
	addr, _, _ = strings.Cut(addr, "/")
	if addr == "" || isDockerHub(addr) {
		return "docker.io"
	}
	return addr
}

// RegistryLogin answers POST /auth: the credentials are checked against
// the registry's /v2/ endpoint.
func (b imageBackend) RegistryLogin(ctx context.Context, auth *registry.AuthConfig) (registry.AuthResponse, error) {
	client, err := b.d.registryClient(auth, "")
	if err != nil {
		return registry.AuthResponse{}, err
	}
	if err := client.Login(ctx, registryHost(auth.ServerAddress)); err != nil {
		return registry.AuthResponse{}, err
	}
	return registry.AuthResponse{Status: "Login Succeeded"}, nil
}
