// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package server

import (
	"maps"
	"regexp"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
)

// asRegexp is the regular expression gorilla/mux made of a route's path:
// "{name:re}" becomes a named group, the rest is literal, anchored.
func asRegexp(path string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for path != "" {
		open := strings.IndexByte(path, '{')
		if open < 0 {
			b.WriteString(regexp.QuoteMeta(path))
			break
		}
		b.WriteString(regexp.QuoteMeta(path[:open]))
		end := strings.IndexByte(path, '}')
		name, expr, _ := strings.Cut(path[open+1:end], ":")
		b.WriteString("(?P<" + name + ">" + expr + ")")
		path = path[end+1:]
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// TestPathPatterns compares the matcher with the regular expressions on
// every shape of path the routers use, for paths that match and paths
// that nearly do.
func TestPathPatterns(t *testing.T) {
	routes := []string{
		"/containers/json", "/containers/{name:.*}", "/containers/{name:.*}/json",
		"/containers/{name:.*}/attach/ws", "/images/{name:.*}/push", "/networks/",
		"/networks/{id:.+}", "/networks/{id:.+}/connect", "/exec/{id:.*}/start",
		"/plugins/{name:.*}/{action:enable|disable|push|set|upgrade}", "/_ping", "/",
	}
	paths := []string{
		"/", "", "/containers", "/containers/", "/containers/json", "/containers/json/json",
		"/containers/abc", "/containers/abc/json", "/containers//json", "/containers/a/b/json",
		"/containers/abc/attach/ws", "/containers/abc/attach", "/containers/abc/json/",
		"/images/registry:5000/a/b:tag/push", "/images//push", "/images/push",
		"/networks", "/networks/", "/networks/x", "/networks/x/connect", "/networks//connect",
		"/networks/x/y", "/exec/1/start", "/exec//start", "/exec/start",
		"/plugins/p/enable", "/plugins/a/b/disable", "/plugins//set", "/plugins/enable",
		"/plugins/p/enabled", "/plugins/p/enable/", "/_ping", "/_pingx", "/containers/a%2Fb/json",
	}
	for _, r := range routes {
		p, err := compilePath(r)
		assert.NilError(t, err, r)
		re := asRegexp(r)
		for _, path := range paths {
			vars := map[string]string{}
			got := p.match(path, vars)
			m := re.FindStringSubmatch(path)
			assert.Equal(t, got, m != nil, "route %s, path %q", r, path)
			if m == nil {
				continue
			}
			want := map[string]string{}
			for i, name := range re.SubexpNames() {
				if name != "" {
					want[name] = m[i]
				}
			}
			assert.Assert(t, maps.Equal(vars, want), "route %s, path %q: %v, want %v", r, path, vars, want)
		}
	}
}

func TestSplitVersion(t *testing.T) {
	for _, tc := range []struct{ path, version, rest string }{
		{"/v1.51/containers/json", "1.51", "/containers/json"},
		{"/v1/_ping", "1", "/_ping"},
		{"/volumes/x", "", "/volumes/x"},
		{"/v1.51", "", "/v1.51"},
		{"/v/containers/json", "", "/v/containers/json"},
		{"/v1.x/containers/json", "", "/v1.x/containers/json"},
		{"/containers/json", "", "/containers/json"},
	} {
		v, rest := splitVersion(tc.path)
		assert.Equal(t, v, tc.version, tc.path)
		assert.Equal(t, rest, tc.rest, tc.path)
	}
}

func TestCompilePathRefuses(t *testing.T) {
	for _, p := range []string{"/a/{x:[0-9]+}", "/a/{x", "/a/{x:.*}/{y:.*}", "/a/{x:.*}/{y:a|b}/c"} {
		_, err := compilePath(p)
		assert.Assert(t, err != nil, p)
	}
}
