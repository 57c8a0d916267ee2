// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"net/url"
	"path"
	"strconv"

	"github.com/berth-project/berth/internal/cli/imageref"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/registry"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// repoTag splits a reference for the repo and tag query parameters of
// commit and tag: the normalized name, and the tag ("latest" if none).
func repoTag(ref string) (repo, tag string, err error) {
	r, err := imageref.ParseNormalized(ref)
	if err != nil {
		return "", "", err
	}
	if r.Digest != "" {
		return "", "", errors.New("refusing to create a tag with a digest reference")
	}
	return r.Name(), r.WithDefaultTag().Tag, nil
}

// platformString is a platform as the API's query parameters give it.
func platformString(p ocispec.Platform) string {
	return path.Join(p.OS, p.Architecture, p.Variant)
}

// ImageBuildOptions is a classic-builder build.
type ImageBuildOptions struct {
	Tags           []string
	SuppressOutput bool
	RemoteContext  string
	NoCache        bool
	Remove         bool
	ForceRemove    bool
	PullParent     bool
	Isolation      container.Isolation
	CPUSetCPUs     string
	CPUSetMems     string
	CPUShares      int64
	CPUQuota       int64
	CPUPeriod      int64
	Memory         int64
	MemorySwap     int64
	CgroupParent   string
	NetworkMode    string
	ShmSize        int64
	Dockerfile     string
	Ulimits        []*container.Ulimit
	BuildArgs      map[string]*string
	AuthConfigs    map[string]registry.AuthConfig
	Labels         map[string]string
	CacheFrom      []string
	SecurityOpt    []string
	ExtraHosts     []string
	Target         string
	Platforms      []ocispec.Platform
	Version        build.BuilderVersion
}

// ImageBuildResult is the build's progress stream.
type ImageBuildResult struct{ Body io.ReadCloser }

// ImageBuild builds an image from a tar of the build context (or from
// RemoteContext).
func (c *Client) ImageBuild(ctx context.Context, buildContext io.Reader, o ImageBuildOptions) (ImageBuildResult, error) {
	q := query("remote", o.RemoteContext, "q", flag(o.SuppressOutput), "nocache", flag(o.NoCache),
		"forcerm", flag(o.ForceRemove), "pull", flag(o.PullParent), "cpusetcpus", o.CPUSetCPUs,
		"cpusetmems", o.CPUSetMems, "cgroupparent", o.CgroupParent, "dockerfile", o.Dockerfile,
		"target", o.Target, "version", string(o.Version))
	for k, v := range map[string][]string{"t": o.Tags, "securityopt": o.SecurityOpt, "extrahosts": o.ExtraHosts} {
		if len(v) > 0 {
			q[k] = v
		}
	}
	if !o.Remove {
		q.Set("rm", "0")
	}
	if o.Isolation != "" && o.Isolation != "default" {
		q.Set("isolation", string(o.Isolation))
	}
	if o.NetworkMode != "" && o.NetworkMode != "default" {
		q.Set("networkmode", o.NetworkMode)
	}
	for k, v := range map[string]int64{"cpushares": o.CPUShares, "cpuquota": o.CPUQuota, "cpuperiod": o.CPUPeriod,
		"memory": o.Memory, "memswap": o.MemorySwap, "shmsize": o.ShmSize} {
		if v != 0 {
			q.Set(k, strconv.FormatInt(v, 10))
		}
	}
	for k, v := range map[string]any{"ulimits": o.Ulimits, "buildargs": o.BuildArgs, "labels": o.Labels, "cachefrom": o.CacheFrom} {
		if b, _ := json.Marshal(v); len(b) > 2 && string(b) != "null" {
			q.Set(k, string(b))
		}
	}
	if len(o.Platforms) > 1 {
		return ImageBuildResult{}, errors.New("specifying multiple platforms is not yet supported")
	}
	if len(o.Platforms) == 1 {
		q.Set("platform", platformString(o.Platforms[0]))
	}
	auth, err := json.Marshal(o.AuthConfigs)
	if err != nil {
		return ImageBuildResult{}, err
	}
	if o.AuthConfigs == nil {
		auth = []byte("{}")
	}
	h := textproto.MIMEHeader{"Content-Type": {"application/x-tar"}, "X-Registry-Config": {base64.URLEncoding.EncodeToString(auth)}}
	body, err := c.stream(ctx, "POST", "/build", q, buildContext, h)
	return ImageBuildResult{Body: body}, err
}

// BuildCachePruneOptions selects the build cache to remove.
type BuildCachePruneOptions struct {
	All     bool
	Filters Filters
}

// BuildCachePruneResult is what was removed.
type BuildCachePruneResult struct{ Report build.CachePruneReport }

// BuildCachePrune removes build cache.
func (c *Client) BuildCachePrune(ctx context.Context, o BuildCachePruneOptions) (BuildCachePruneResult, error) {
	r, err := prune[build.CachePruneReport](ctx, c, "/build/prune", query("all", flag(o.All)), o.Filters)
	return BuildCachePruneResult{Report: r}, err
}

// ImageHistoryOption has nothing to set: platforms are not supported.
type ImageHistoryOption func()

// ImageHistoryResult is an image's history, newest first.
type ImageHistoryResult struct{ Items []image.HistoryResponseItem }

// ImageHistory returns an image's history.
func (c *Client) ImageHistory(ctx context.Context, ref string, _ ...ImageHistoryOption) (ImageHistoryResult, error) {
	if err := emptyID("image", ref); err != nil {
		return ImageHistoryResult{}, err
	}
	var r ImageHistoryResult
	err := c.call(ctx, "GET", "/images/"+ref+"/history", nil, nil, &r.Items)
	return r, err
}

// ImageImportSource is the tar archive to import, from Source when
// SourceName is "-", else from the URL or file SourceName.
type ImageImportSource struct {
	Source     io.Reader
	SourceName string
}

// ImageImportOptions is what to do with the imported image.
type ImageImportOptions struct {
	Tag      string
	Message  string
	Changes  []string
	Platform ocispec.Platform
}

// ImageImportResult is the import's progress stream.
type ImageImportResult = io.ReadCloser

// ImageImport makes an image of a tar archive of a file system.
func (c *Client) ImageImport(ctx context.Context, src ImageImportSource, ref string, o ImageImportOptions) (ImageImportResult, error) {
	if ref != "" {
		if _, err := imageref.ParseNormalized(ref); err != nil {
			return nil, err
		}
	}
	q := query("fromSrc", src.SourceName, "repo", ref, "tag", o.Tag, "message", o.Message)
	if o.Platform.OS != "" {
		q.Set("platform", platformString(o.Platform))
	}
	for _, ch := range o.Changes {
		q.Add("changes", ch)
	}
	return c.stream(ctx, "POST", "/images/create", q, src.Source, nil)
}

// ImageInspectOption sets an option of ImageInspect.
type ImageInspectOption func(*imageInspectOptions)

type imageInspectOptions struct{ raw *bytes.Buffer }

// ImageInspectWithRawResponse has ImageInspect copy the response as sent
// into raw.
func ImageInspectWithRawResponse(raw *bytes.Buffer) ImageInspectOption {
	return func(o *imageInspectOptions) { o.raw = raw }
}

// ImageInspectResult is an image's details.
type ImageInspectResult struct{ image.InspectResponse }

// ImageInspect returns an image's details.
func (c *Client) ImageInspect(ctx context.Context, ref string, opts ...ImageInspectOption) (ImageInspectResult, error) {
	if err := emptyID("image", ref); err != nil {
		return ImageInspectResult{}, err
	}
	var o imageInspectOptions
	for _, f := range opts {
		f(&o)
	}
	var r ImageInspectResult
	raw, err := c.callRaw(ctx, "GET", "/images/"+ref+"/json", nil, &r.InspectResponse)
	if o.raw != nil {
		o.raw.Write(raw)
	}
	return r, err
}

// ImageListOptions selects the images to list.
type ImageListOptions struct {
	All        bool
	Filters    Filters
	SharedSize bool
	Manifests  bool
}

// ImageListResult is the images listed.
type ImageListResult struct{ Items []image.Summary }

// ImageList lists images.
func (c *Client) ImageList(ctx context.Context, o ImageListOptions) (ImageListResult, error) {
	q := query("all", flag(o.All), "shared-size", flag(o.SharedSize), "manifests", flag(o.Manifests))
	o.Filters.set(q)
	var r ImageListResult
	err := c.call(ctx, "GET", "/images/json", q, nil, &r.Items)
	return r, err
}

// ImageLoadOption sets an option of ImageLoad.
type ImageLoadOption func(url.Values)

// ImageLoadWithQuiet asks for no progress bars.
func ImageLoadWithQuiet(quiet bool) ImageLoadOption {
	return func(q url.Values) {
		if quiet {
			q.Set("quiet", "1")
		}
	}
}

// ImageLoadResult is the load's progress stream.
type ImageLoadResult = io.ReadCloser

// ImageLoad loads images from a tar archive of `save`.
func (c *Client) ImageLoad(ctx context.Context, input io.Reader, opts ...ImageLoadOption) (ImageLoadResult, error) {
	q := url.Values{}
	for _, f := range opts {
		f(q)
	}
	return c.stream(ctx, "POST", "/images/load", q, input, textproto.MIMEHeader{"Content-Type": {"application/x-tar"}})
}

// ImageSaveOption has nothing to set: platforms are not supported.
type ImageSaveOption func()

// ImageSaveResult is the tar archive.
type ImageSaveResult = io.ReadCloser

// ImageSave streams images as a tar archive.
func (c *Client) ImageSave(ctx context.Context, refs []string, _ ...ImageSaveOption) (ImageSaveResult, error) {
	return c.stream(ctx, "GET", "/images/get", url.Values{"names": refs}, nil, nil)
}

// ImagePruneOptions selects the images to remove.
type ImagePruneOptions struct{ Filters Filters }

// ImagePruneResult is what was removed.
type ImagePruneResult struct{ Report image.PruneReport }

// ImagePrune removes unused images.
func (c *Client) ImagePrune(ctx context.Context, o ImagePruneOptions) (ImagePruneResult, error) {
	r, err := prune[image.PruneReport](ctx, c, "/images/prune", nil, o.Filters)
	return ImagePruneResult{Report: r}, err
}

// ImagePullOptions is how to pull.
type ImagePullOptions struct {
	All          bool
	RegistryAuth string
	Platforms    []ocispec.Platform
}

// ImagePullResponse is the pull's progress stream.
type ImagePullResponse = io.ReadCloser

// ImagePull pulls an image (or, with All, every tag of a repository).
func (c *Client) ImagePull(ctx context.Context, ref string, o ImagePullOptions) (ImagePullResponse, error) {
	r, err := imageref.ParseNormalized(ref)
	if err != nil {
		return nil, err
	}
	q := url.Values{"fromImage": {r.Name()}}
	if !o.All {
		switch {
		case r.Digest != "":
			q.Set("tag", r.Digest)
		case r.Tag != "":
			q.Set("tag", r.Tag)
		default:
			q.Set("tag", "latest")
		}
	}
	if len(o.Platforms) > 1 {
		return nil, errors.New("specifying multiple platforms is not yet supported")
	}
	if len(o.Platforms) == 1 {
		q.Set("platform", platformString(o.Platforms[0]))
	}
	return c.stream(ctx, "POST", "/images/create", q, nil, authHeader(o.RegistryAuth))
}

func authHeader(auth string) textproto.MIMEHeader {
	if auth == "" {
		return nil
	}
	return textproto.MIMEHeader{"X-Registry-Auth": {auth}}
}

// ImagePushOptions is how to push.
type ImagePushOptions struct {
	All          bool
	RegistryAuth string
}

// ImagePushResponse is the push's progress stream.
type ImagePushResponse = io.ReadCloser

// ImagePush pushes an image (or, with All, every tag of a repository).
func (c *Client) ImagePush(ctx context.Context, ref string, o ImagePushOptions) (ImagePushResponse, error) {
	r, err := imageref.ParseNormalized(ref)
	if err != nil {
		return nil, err
	}
	if r.Digest != "" {
		return nil, errors.New("cannot push a digest reference")
	}
	q := query("tag", r.Tag)
	if o.All && r.Tag != "" {
		return nil, errors.New("cannot push a tagged image with the All option")
	}
	// a header is required even without credentials
	auth := o.RegistryAuth
	if auth == "" {
		auth = base64.URLEncoding.EncodeToString([]byte("{}"))
	}
	return c.stream(ctx, "POST", "/images/"+r.Name()+"/push", q, nil, authHeader(auth))
}

// ImageRemoveOptions is how to remove.
type ImageRemoveOptions struct {
	Force         bool
	PruneChildren bool
}

// ImageRemoveResult is what was untagged and deleted.
type ImageRemoveResult struct{ Items []image.DeleteResponse }

// ImageRemove removes an image (or a tag of it).
func (c *Client) ImageRemove(ctx context.Context, ref string, o ImageRemoveOptions) (ImageRemoveResult, error) {
	if err := emptyID("image", ref); err != nil {
		return ImageRemoveResult{}, err
	}
	q := query("force", flag(o.Force))
	if !o.PruneChildren {
		q.Set("noprune", "1")
	}
	var r ImageRemoveResult
	err := c.call(ctx, "DELETE", "/images/"+ref, q, nil, &r.Items)
	return r, err
}

// ImageSearchOptions is how to search.
type ImageSearchOptions struct {
	RegistryAuth string
	Filters      Filters
	Limit        int
}

// ImageSearchResult is what was found.
type ImageSearchResult struct{ Items []registry.SearchResult }

// ImageSearch searches a registry.
func (c *Client) ImageSearch(ctx context.Context, term string, o ImageSearchOptions) (ImageSearchResult, error) {
	q := url.Values{"term": {term}}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	o.Filters.set(q)
	resp, err := c.send(ctx, "GET", "/images/search", q, nil, authHeader(o.RegistryAuth))
	if err != nil {
		return ImageSearchResult{}, err
	}
	defer resp.Body.Close()
	var r ImageSearchResult
	return r, json.NewDecoder(resp.Body).Decode(&r.Items)
}

// ImageTagOptions is the image and its new name.
type ImageTagOptions struct{ Source, Target string }

// ImageTagResult is empty.
type ImageTagResult struct{}

// ImageTag gives an image another name.
func (c *Client) ImageTag(ctx context.Context, o ImageTagOptions) (ImageTagResult, error) {
	repo, tag, err := repoTag(o.Target)
	if err != nil {
		return ImageTagResult{}, fmt.Errorf("error parsing reference: %q is not a valid repository/tag: %w", o.Target, err)
	}
	return ImageTagResult{}, c.call(ctx, "POST", "/images/"+o.Source+"/tag", url.Values{"repo": {repo}, "tag": {tag}}, nil, nil)
}

// RegistryLoginOptions is the credentials to check.
type RegistryLoginOptions struct {
	Username      string
	Password      string
	ServerAddress string
	IdentityToken string
	RegistryToken string
}

// RegistryLoginResult is the registry's answer.
type RegistryLoginResult struct{ Auth registry.AuthResponse }

// RegistryLogin checks credentials with a registry, through the daemon.
func (c *Client) RegistryLogin(ctx context.Context, o RegistryLoginOptions) (RegistryLoginResult, error) {
	req := registry.AuthConfig{Username: o.Username, Password: o.Password, ServerAddress: o.ServerAddress,
		IdentityToken: o.IdentityToken, RegistryToken: o.RegistryToken}
	var r RegistryLoginResult
	err := c.call(ctx, "POST", "/auth", nil, req, &r.Auth)
	return r, err
}
