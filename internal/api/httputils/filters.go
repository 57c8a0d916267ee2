// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package httputils

import (
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/containerd/errdefs"
)

// Filters is the "filters" query parameter: each term with its values.
type Filters map[string][]string

// ParseFilters decodes the JSON of a "filters" parameter, in the current
// form ({"status":{"running":true}}) or the old one ({"status":["running"]}),
// and checks its terms against accepted.
func ParseFilters(s string, accepted ...string) (Filters, error) {
	f := Filters{}
	if s == "" {
		return f, nil
	}
	var cur map[string]map[string]bool
	if err := json.Unmarshal([]byte(s), &cur); err == nil {
		for k, vs := range cur {
			for v, ok := range vs {
				if ok {
					f[k] = append(f[k], v)
				}
			}
			sort.Strings(f[k])
		}
	} else {
		var old map[string][]string
		if err := json.Unmarshal([]byte(s), &old); err != nil {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter: %v", err))
		}
		f = old
	}
	if accepted != nil {
		ok := map[string]bool{}
		for _, a := range accepted {
			ok[a] = true
		}
		for k := range f {
			if !ok[k] {
				return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter '%s'", k))
			}
		}
	}
	return f, nil
}

// Has reports whether term is given.
func (f Filters) Has(term string) bool { return len(f[term]) > 0 }

// Match reports whether value matches one of term's values exactly (true
// when the term is absent).
func (f Filters) Match(term, value string) bool {
	vs := f[term]
	if len(vs) == 0 {
		return true
	}
	for _, v := range vs {
		if v == value {
			return true
		}
	}
	return false
}

// MatchGlob is Match with shell patterns (reference filters).
func (f Filters) MatchGlob(term, value string) bool {
	vs := f[term]
	if len(vs) == 0 {
		return true
	}
	for _, v := range vs {
		if ok, _ := path.Match(v, value); ok || v == value {
			return true
		}
	}
	return false
}

// MatchLabels reports whether labels satisfy every "label" value: "key"
// (present) or "key=value".
func (f Filters) MatchLabels(term string, labels map[string]string) bool {
	for _, v := range f[term] {
		k, want, hasValue := strings.Cut(v, "=")
		got, ok := labels[k]
		if !ok || hasValue && got != want {
			return false
		}
	}
	return true
}
