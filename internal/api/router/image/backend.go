// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package image holds the Engine API's image routes (/images/…, /auth,
// /commit and /distribution): list, inspect, history, pull and import,
// push, tag, remove, save and load, prune, search, registry login, and
// what a registry has for a reference.
package image

import (
	"context"
	"io"

	containertypes "github.com/moby/moby/api/types/container"
	imagetypes "github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/registry"

	"github.com/berth-project/berth/internal/api/httputils"
)

// Progress sends one message of a JSON progress stream (pull, push,
// import, load) to the client. It is safe for concurrent use. The HTTP
// status and headers go out with the first message, so a backend that
// fails before sending anything gets its error answered with the error's
// own status; after that, errors travel in the stream.
type Progress func(jsonstream.Message)

// PullOptions is a pull request (POST /images/create?fromImage=…).
type PullOptions struct {
	// Ref is the reference to pull: "busybox:latest" or "app@sha256:…".
	Ref string
	// Platform is "os/arch[/variant]", or "" for the daemon's.
	Platform string
	// Auth holds the credentials of X-Registry-Auth; never nil.
	Auth *registry.AuthConfig
	// AllTags pulls every tag of the repository Ref names (pull -a: the
	// API's empty tag).
	AllTags bool
}

// ImportOptions is an import request (POST /images/create?fromSrc=…).
type ImportOptions struct {
	// Src is the root filesystem tar when fromSrc is "-"; URL is set
	// instead when fromSrc names one.
	Src io.Reader
	URL string
	// Ref is "repo[:tag]" or "" for an image without a name.
	Ref string
	// Changes are Dockerfile instructions applied to the config.
	Changes []string
	// Message is the comment of the image's history entry.
	Message string
	// Platform is "os/arch[/variant]", or "" for the daemon's.
	Platform string
}

// CommitOptions is a commit request (POST /commit).
type CommitOptions struct {
	// Container is the container's ID or name.
	Container string
	// Ref is "repo[:tag]" or "" for an image without a name.
	Ref     string
	Comment string
	Author  string
	// Changes are Dockerfile instructions applied to the config.
	Changes []string
	// Pause pauses a running container while its layer is written.
	Pause bool
	// Config, if not nil, overrides the container's configuration in
	// the image's config (fields it leaves empty come from the container).
	Config *containertypes.Config
}

// Backend is what the image routes need from the daemon. References are
// as the client sent them; the backend normalizes them.
type Backend interface {
	// ImageList returns the images the filters select (dangling, label,
	// before, since, reference); all includes intermediate images.
	ImageList(ctx context.Context, all bool, f httputils.Filters) ([]imagetypes.Summary, error)
	ImageInspect(ctx context.Context, ref string) (*imagetypes.InspectResponse, error)
	ImageHistory(ctx context.Context, ref string) ([]imagetypes.HistoryResponseItem, error)
	// ImagePull fetches an image, reporting Docker's pull messages.
	ImagePull(ctx context.Context, opts PullOptions, progress Progress) error
	// ImageImport makes an image of a root filesystem tar; its last
	// message's status is the new image's ID.
	ImageImport(ctx context.Context, opts ImportOptions, progress Progress) error
	// ImagePush uploads the image ref names (every tag of the repository
	// when ref has none), reporting Docker's push messages.
	ImagePush(ctx context.Context, ref string, auth *registry.AuthConfig, progress Progress) error
	// ImageTag gives the image src the name ref.
	ImageTag(ctx context.Context, src, ref string) error
	ImageDelete(ctx context.Context, ref string, force, prune bool) ([]imagetypes.DeleteResponse, error)
	// ImageSave writes the images refs name to w as a Docker image
	// archive; it checks them before writing anything.
	ImageSave(ctx context.Context, refs []string, w io.Writer) error
	// ImageLoad stores the images of the archive r, reporting a
	// "Loaded image: …" line (in Stream) for each.
	ImageLoad(ctx context.Context, r io.Reader, quiet bool, progress Progress) error
	ImagePrune(ctx context.Context, f httputils.Filters) (*imagetypes.PruneReport, error)
	ImageSearch(ctx context.Context, term string, limit int, f httputils.Filters, auth *registry.AuthConfig) ([]registry.SearchResult, error)
	// RegistryLogin checks credentials against the registry they name.
	RegistryLogin(ctx context.Context, auth *registry.AuthConfig) (registry.AuthResponse, error)
	// ImageCommit makes an image of a container's writable layer and
	// returns its ID.
	ImageCommit(ctx context.Context, opts CommitOptions) (string, error)
	// DistributionInspect asks the registry what ref names: the digest
	// of its manifest (or index) and the platforms it offers.
	DistributionInspect(ctx context.Context, ref string, auth *registry.AuthConfig) (registry.DistributionInspect, error)
}
