// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package distribution is berth's registry client: it resolves image
// references to manifests, fetches manifests, configs and layers into the
// content store, and pushes them back, speaking the OCI distribution
// protocol through github.com/google/go-containerregistry (protocol, basic
// and bearer auth) and naming images with github.com/distribution/reference.
//
// # Names
//
// ParseRef normalizes as Docker does: "busybox" is
// docker.io/library/busybox:latest, "localhost:5000/x" keeps its registry,
// and "name@sha256:…" pins a digest.
//
// # Transport security
//
// As in Docker, a loopback registry (localhost, 127.0.0.0/8, ::1) and the
// registries listed in Client.Insecure may be reached over plain HTTP
// (HTTPS is tried first, certificates are not verified); every other
// registry only over verified TLS. The rule is enforced on every request
// by the client's transport, so no library heuristic can bypass it.
//
// # Fetch and push
//
// Resolve picks the manifest for the client's platform (linux and the
// host's architecture unless Client.Platform says otherwise), following an
// OCI index or Docker manifest list. Fetch stores the index (if any), the
// manifest, the config and the layers in a content.Store, layers in
// parallel, each verified by digest, skipping blobs already stored. Push
// uploads the blobs a manifest (or index) names from the content store,
// skipping those the registry has and mounting from other repositories
// when told where they live, and then puts the manifest under the tag.
//
// Progress is reported per layer with Docker's status words, so the
// Engine API's JSON message stream and the CLI's bars can show it as is.
//
// # Errors
//
// Errors carry github.com/containerd/errdefs classes: a malformed reference
// is ErrInvalidArgument; an unknown repository, tag or blob ErrNotFound
// (with the registry's message, e.g. "manifest unknown"); missing or wrong
// credentials ErrUnauthenticated; a refused action ErrPermissionDenied; an
// unreachable registry or a refused plain-HTTP connection ErrUnavailable;
// an unsupported manifest (Docker schema 1) ErrNotImplemented.
package distribution
