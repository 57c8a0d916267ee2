// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package server

import (
	"fmt"
	"strings"
)

// pathPattern is a compiled Route path. The routers' paths are a literal
// ("/containers/json"), or a literal, one variable and a literal
// ("/containers/{name:.*}/json"), where the variable takes everything
// between, slashes too: an image's name has them. ".+" wants it not
// empty. A last segment may be a second variable that is one of a few
// words ("/plugins/{name:.*}/{action:enable|disable}"). These are the
// regular expressions gorilla/mux compiled for each route and tried one
// after the other on every request; matching them by hand costs a few
// string comparisons.
type pathPattern struct {
	prefix   string // up to the variable, or the whole literal path
	name     string // the variable; "" for a literal path
	nonEmpty bool   // ".+": the variable may not be empty
	suffix   string // after the variable, up to the last one
	last     string // the last segment's variable, or ""
	choices  []string
}

// compilePath compiles a route's path, or says why it cannot.
func compilePath(p string) (pathPattern, error) {
	open := strings.IndexByte(p, '{')
	if open < 0 {
		return pathPattern{prefix: p}, nil
	}
	pat := pathPattern{prefix: p[:open]}
	rest := p[open:]
	end := strings.IndexByte(rest, '}')
	if end < 0 {
		return pathPattern{}, fmt.Errorf("route %q: unclosed variable", p)
	}
	name, expr, _ := strings.Cut(rest[1:end], ":")
	switch expr {
	case ".*":
	case ".+":
		pat.nonEmpty = true
	default:
		return pathPattern{}, fmt.Errorf("route %q: variable %s: only .* and .+ are supported, not %q", p, name, expr)
	}
	pat.name, rest = name, rest[end+1:]
	if open := strings.IndexByte(rest, '{'); open >= 0 {
		end := strings.IndexByte(rest, '}')
		lname, alts, ok := strings.Cut(rest[open+1:max(end, open+1)], ":")
		if end != len(rest)-1 || !ok || open == 0 || rest[open-1] != '/' || strings.ContainsAny(alts, "()[]*+?.\\^$") {
			return pathPattern{}, fmt.Errorf("route %q: a second variable must be the last segment, a choice of words", p)
		}
		pat.last, pat.choices, rest = lname, strings.Split(alts, "|"), rest[:open]
	}
	pat.suffix = rest
	return pat, nil
}

// match reports whether path matches, and adds the variables to vars.
func (p *pathPattern) match(path string, vars map[string]string) bool {
	if p.name == "" {
		return path == p.prefix
	}
	if !strings.HasPrefix(path, p.prefix) {
		return false
	}
	mid := path[len(p.prefix):]
	var lastVal string
	if p.last != "" {
		i := strings.LastIndexByte(mid, '/')
		if i < 0 {
			return false
		}
		lastVal = mid[i+1:]
		found := false
		for _, c := range p.choices {
			found = found || c == lastVal
		}
		if !found {
			return false
		}
		mid = mid[:i+1]
	}
	if !strings.HasSuffix(mid, p.suffix) {
		return false
	}
	val := mid[:len(mid)-len(p.suffix)]
	if p.nonEmpty && val == "" {
		return false
	}
	vars[p.name] = val
	if p.last != "" {
		vars[p.last] = lastVal
	}
	return true
}

// splitVersion splits "/v1.47/containers/json" into "1.47" and
// "/containers/json"; a path without a version ("/v" then digits and
// dots, then "/") is returned whole.
func splitVersion(path string) (version, rest string) {
	if !strings.HasPrefix(path, "/v") {
		return "", path
	}
	i := 2
	for i < len(path) && (path[i] >= '0' && path[i] <= '9' || path[i] == '.') {
		i++
	}
	if i == 2 || i == len(path) || path[i] != '/' {
		return "", path
	}
	return path[2:i], path[i:]
}
