// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package api is the Docker Engine HTTP API server. Its subpackages: server
// (listeners, middleware, route registration), router/<group> (handlers and
// the backend interfaces each group needs), httputils (decoding, JSON and
// stream writers, hijacking) and httpstatus (errors to status codes). None
// of them knows how containers run: handlers decode, call a backend, encode.
package api
