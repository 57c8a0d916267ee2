// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package httputils holds what every API handler needs: decoding request
// bodies and form values, writing JSON, hijacking a connection for
// attach and exec streams, and the version of the API a request speaks.
package httputils

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"

	"github.com/berth-project/berth/internal/api/versions"
)

// MaxJSONBody bounds a JSON request body: a container create request is a
// few kilobytes; 16 MiB leaves room for big seccomp profiles.
const MaxJSONBody = 16 << 20

// APIFunc is an API handler: it writes a response or returns an error,
// which the server turns into Docker's error body and status.
type APIFunc func(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error

// WriteJSON writes v as JSON with status code.
func WriteJSON(w http.ResponseWriter, code int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// ReadJSON decodes the request body into v. An empty body leaves v as it
// is; malformed JSON, a body of another type than JSON and an oversized
// body are invalid arguments.
func ReadJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("unsupported Content-Type header (%s): must be 'application/json'", ct))
		}
	}
	body := http.MaxBytesReader(w, r.Body, MaxJSONBody)
	dec := json.NewDecoder(body)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("request body too large (more than %d bytes)", MaxJSONBody))
		}
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid JSON: %v", err))
	}
	return nil
}

// BoolValue reports whether form value k is true, as Docker reads it:
// anything but "", "0", "no", "false" and "none".
func BoolValue(r *http.Request, k string) bool {
	s := strings.ToLower(strings.TrimSpace(r.FormValue(k)))
	return !(s == "" || s == "0" || s == "no" || s == "false" || s == "none")
}

// BoolValueOrDefault is BoolValue with def for a missing value.
func BoolValueOrDefault(r *http.Request, k string, def bool) bool {
	if _, ok := r.Form[k]; !ok {
		return def
	}
	return BoolValue(r, k)
}

// IntValue parses form value k as an integer, def when absent.
func IntValue(r *http.Request, k string, def int) (int, error) {
	s := r.FormValue(k)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid value for %s: %q", k, s))
	}
	return n, nil
}

// ParseForm parses the query and form of r; a bad one is an invalid
// argument.
func ParseForm(r *http.Request) error {
	if r == nil {
		return nil
	}
	if err := r.ParseForm(); err != nil && !strings.HasPrefix(err.Error(), "mime:") {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("%v", err))
	}
	return nil
}

type versionKey struct{}

// WithVersion records the API version a request speaks.
func WithVersion(ctx context.Context, v string) context.Context {
	return context.WithValue(ctx, versionKey{}, v)
}

// VersionFromContext returns the API version of the request.
func VersionFromContext(ctx context.Context) string {
	v, _ := ctx.Value(versionKey{}).(string)
	return v
}

// VersionBefore reports whether the request names an API version older
// than v (the deprecated fields older versions still have, say).
func VersionBefore(ctx context.Context, v string) bool {
	got := VersionFromContext(ctx)
	return got != "" && versions.LessThan(got, v)
}
