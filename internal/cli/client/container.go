// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ContainerCreateOptions is the container to create.
type ContainerCreateOptions struct {
	Config           *container.Config
	HostConfig       *container.HostConfig
	NetworkingConfig *network.NetworkingConfig
	Platform         *ocispec.Platform
	Name             string
}

// ContainerCreateResult is the created container.
type ContainerCreateResult struct {
	ID       string
	Warnings []string
}

// ContainerCreate creates a container. Capabilities are sent in their
// canonical form (CAP_ prefix, upper case, sorted), as the docker CLI
// sends them.
func (c *Client) ContainerCreate(ctx context.Context, o ContainerCreateOptions) (ContainerCreateResult, error) {
	cfg := o.Config
	if cfg == nil || cfg.Image == "" {
		return ContainerCreateResult{}, errors.New("config.Image or Image is required")
	}
	q := query("name", o.Name)
	if o.Platform != nil && o.Platform.OS != "" {
		q.Set("platform", path.Join(o.Platform.OS, o.Platform.Architecture, o.Platform.Variant))
	}
	hc := o.HostConfig
	if hc != nil {
		n := *hc
		n.CapAdd, n.CapDrop = canonicalCaps(hc.CapAdd), canonicalCaps(hc.CapDrop)
		hc = &n
	}
	var r container.CreateResponse
	err := c.call(ctx, "POST", "/containers/create", q,
		container.CreateRequest{Config: cfg, HostConfig: hc, NetworkingConfig: o.NetworkingConfig}, &r)
	return ContainerCreateResult{ID: r.ID, Warnings: r.Warnings}, err
}

func canonicalCaps(caps []string) []string {
	if caps == nil {
		return nil
	}
	out := make([]string, len(caps))
	for i, c := range caps {
		c = strings.ToUpper(c)
		if c != "ALL" && !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		out[i] = c
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ContainerInspectOptions asks for the container's sizes too.
type ContainerInspectOptions struct{ Size bool }

// ContainerInspectResult is the container, decoded and as sent.
type ContainerInspectResult struct {
	Container container.InspectResponse
	Raw       json.RawMessage
}

// ContainerInspect returns a container's details.
func (c *Client) ContainerInspect(ctx context.Context, id string, o ContainerInspectOptions) (ContainerInspectResult, error) {
	if err := emptyID("container", id); err != nil {
		return ContainerInspectResult{}, err
	}
	var r ContainerInspectResult
	raw, err := c.callRaw(ctx, "GET", "/containers/"+id+"/json", query("size", flag(o.Size)), &r.Container)
	r.Raw = raw
	return r, err
}

// ContainerListOptions selects the containers to list.
type ContainerListOptions struct {
	Size    bool
	All     bool
	Limit   int
	Latest  bool
	Since   string
	Before  string
	Filters Filters
}

// ContainerListResult is the containers listed.
type ContainerListResult struct{ Items []container.Summary }

// ContainerList lists containers.
func (c *Client) ContainerList(ctx context.Context, o ContainerListOptions) (ContainerListResult, error) {
	q := query("all", flag(o.All), "size", flag(o.Size), "since", o.Since, "before", o.Before)
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Latest {
		q.Set("limit", "1")
	}
	o.Filters.set(q)
	var r ContainerListResult
	err := c.call(ctx, "GET", "/containers/json", q, nil, &r.Items)
	return r, err
}

// ContainerStartOptions has nothing to set: checkpoints are not
// supported.
type ContainerStartOptions struct{}

// ContainerStartResult is empty.
type ContainerStartResult struct{}

// ContainerStart starts a container.
func (c *Client) ContainerStart(ctx context.Context, id string, _ ContainerStartOptions) (ContainerStartResult, error) {
	if err := emptyID("container", id); err != nil {
		return ContainerStartResult{}, err
	}
	return ContainerStartResult{}, c.call(ctx, "POST", "/containers/"+id+"/start", nil, nil, nil)
}

// ContainerStopOptions is the signal and the seconds to wait before
// killing.
type ContainerStopOptions struct {
	Signal  string
	Timeout *int
}

// ContainerStopResult is empty.
type ContainerStopResult struct{}

// ContainerStop stops a container.
func (c *Client) ContainerStop(ctx context.Context, id string, o ContainerStopOptions) (ContainerStopResult, error) {
	if err := emptyID("container", id); err != nil {
		return ContainerStopResult{}, err
	}
	return ContainerStopResult{}, c.call(ctx, "POST", "/containers/"+id+"/stop", stopQuery(o.Signal, o.Timeout), nil, nil)
}

func stopQuery(signal string, timeout *int) url.Values {
	q := query("signal", signal)
	if timeout != nil {
		q.Set("t", strconv.Itoa(*timeout))
	}
	return q
}

// ContainerRestartOptions is the signal and the seconds to wait before
// killing.
type ContainerRestartOptions struct {
	Signal  string
	Timeout *int
}

// ContainerRestartResult is empty.
type ContainerRestartResult struct{}

// ContainerRestart restarts a container.
func (c *Client) ContainerRestart(ctx context.Context, id string, o ContainerRestartOptions) (ContainerRestartResult, error) {
	if err := emptyID("container", id); err != nil {
		return ContainerRestartResult{}, err
	}
	return ContainerRestartResult{}, c.call(ctx, "POST", "/containers/"+id+"/restart", stopQuery(o.Signal, o.Timeout), nil, nil)
}

// ContainerKillOptions is the signal to send.
type ContainerKillOptions struct{ Signal string }

// ContainerKillResult is empty.
type ContainerKillResult struct{}

// ContainerKill signals a container.
func (c *Client) ContainerKill(ctx context.Context, id string, o ContainerKillOptions) (ContainerKillResult, error) {
	if err := emptyID("container", id); err != nil {
		return ContainerKillResult{}, err
	}
	return ContainerKillResult{}, c.call(ctx, "POST", "/containers/"+id+"/kill", query("signal", o.Signal), nil, nil)
}

// ContainerPauseOptions has nothing to set.
type ContainerPauseOptions struct{}

// ContainerPauseResult is empty.
type ContainerPauseResult struct{}

// ContainerPause freezes a container.
func (c *Client) ContainerPause(ctx context.Context, id string, _ ContainerPauseOptions) (ContainerPauseResult, error) {
	if err := emptyID("container", id); err != nil {
		return ContainerPauseResult{}, err
	}
	return ContainerPauseResult{}, c.call(ctx, "POST", "/containers/"+id+"/pause", nil, nil, nil)
}

// ContainerUnpauseOptions has nothing to set.
type ContainerUnpauseOptions struct{}

// ContainerUnpauseResult is empty.
type ContainerUnpauseResult struct{}

// ContainerUnpause thaws a container.
func (c *Client) ContainerUnpause(ctx context.Context, id string, _ ContainerUnpauseOptions) (ContainerUnpauseResult, error) {
	if err := emptyID("container", id); err != nil {
		return ContainerUnpauseResult{}, err
	}
	return ContainerUnpauseResult{}, c.call(ctx, "POST", "/containers/"+id+"/unpause", nil, nil, nil)
}

// ContainerRemoveOptions says what goes with the container.
type ContainerRemoveOptions struct {
	RemoveVolumes bool
	RemoveLinks   bool
	Force         bool
}

// ContainerRemoveResult is empty.
type ContainerRemoveResult struct{}

// ContainerRemove removes a container.
func (c *Client) ContainerRemove(ctx context.Context, id string, o ContainerRemoveOptions) (ContainerRemoveResult, error) {
	if err := emptyID("container", id); err != nil {
		return ContainerRemoveResult{}, err
	}
	q := query("v", flag(o.RemoveVolumes), "link", flag(o.RemoveLinks), "force", flag(o.Force))
	return ContainerRemoveResult{}, c.call(ctx, "DELETE", "/containers/"+id, q, nil, nil)
}

// ContainerRenameOptions is the new name.
type ContainerRenameOptions struct{ NewName string }

// ContainerRenameResult is empty.
type ContainerRenameResult struct{}

// ContainerRename renames a container.
func (c *Client) ContainerRename(ctx context.Context, id string, o ContainerRenameOptions) (ContainerRenameResult, error) {
	if err := emptyID("container", id); err != nil {
		return ContainerRenameResult{}, err
	}
	return ContainerRenameResult{}, c.call(ctx, "POST", "/containers/"+id+"/rename", url.Values{"name": {o.NewName}}, nil, nil)
}

// ContainerResizeOptions is the terminal's new size.
type ContainerResizeOptions struct{ Height, Width uint }

// ContainerResizeResult is empty.
type ContainerResizeResult struct{}

// ContainerResize resizes a container's terminal.
func (c *Client) ContainerResize(ctx context.Context, id string, o ContainerResizeOptions) (ContainerResizeResult, error) {
	if err := emptyID("container", id); err != nil {
		return ContainerResizeResult{}, err
	}
	return ContainerResizeResult{}, c.call(ctx, "POST", "/containers/"+id+"/resize", sizeQuery(o.Height, o.Width), nil, nil)
}

func sizeQuery(h, w uint) url.Values {
	return url.Values{"h": {strconv.FormatUint(uint64(h), 10)}, "w": {strconv.FormatUint(uint64(w), 10)}}
}

// ContainerUpdateOptions is the new resources (and restart policy).
type ContainerUpdateOptions struct {
	Resources     *container.Resources
	RestartPolicy *container.RestartPolicy
}

// ContainerUpdateResult is the daemon's warnings.
type ContainerUpdateResult struct{ Warnings []string }

// ContainerUpdate changes a container's resources.
func (c *Client) ContainerUpdate(ctx context.Context, id string, o ContainerUpdateOptions) (ContainerUpdateResult, error) {
	if err := emptyID("container", id); err != nil {
		return ContainerUpdateResult{}, err
	}
	var u container.UpdateConfig
	if o.Resources != nil {
		u.Resources = *o.Resources
	}
	if o.RestartPolicy != nil {
		u.RestartPolicy = *o.RestartPolicy
	}
	var r container.UpdateResponse
	err := c.call(ctx, "POST", "/containers/"+id+"/update", nil, u, &r)
	return ContainerUpdateResult{Warnings: r.Warnings}, err
}

// ContainerTopOptions is ps's arguments.
type ContainerTopOptions struct{ Arguments []string }

// ContainerTopResult is ps's table.
type ContainerTopResult struct {
	Processes [][]string
	Titles    []string
}

// ContainerTop lists a container's processes.
func (c *Client) ContainerTop(ctx context.Context, id string, o ContainerTopOptions) (ContainerTopResult, error) {
	if err := emptyID("container", id); err != nil {
		return ContainerTopResult{}, err
	}
	q := url.Values{}
	if len(o.Arguments) > 0 {
		q.Set("ps_args", strings.Join(o.Arguments, " "))
	}
	var r container.TopResponse
	err := c.call(ctx, "GET", "/containers/"+id+"/top", q, nil, &r)
	return ContainerTopResult{Processes: r.Processes, Titles: r.Titles}, err
}

// ContainerDiffOptions has nothing to set.
type ContainerDiffOptions struct{}

// ContainerDiffResult is the changes of the container's file system.
type ContainerDiffResult struct{ Changes []container.FilesystemChange }

// ContainerDiff lists a container's file system changes.
func (c *Client) ContainerDiff(ctx context.Context, id string, _ ContainerDiffOptions) (ContainerDiffResult, error) {
	if err := emptyID("container", id); err != nil {
		return ContainerDiffResult{}, err
	}
	var r ContainerDiffResult
	err := c.call(ctx, "GET", "/containers/"+id+"/changes", nil, nil, &r.Changes)
	return r, err
}

// ContainerExportOptions has nothing to set.
type ContainerExportOptions struct{}

// ContainerExportResult is the tar stream of the file system.
type ContainerExportResult = io.ReadCloser

// ContainerExport streams a container's file system as a tar archive.
func (c *Client) ContainerExport(ctx context.Context, id string, _ ContainerExportOptions) (ContainerExportResult, error) {
	if err := emptyID("container", id); err != nil {
		return nil, err
	}
	return c.stream(ctx, "GET", "/containers/"+id+"/export", nil, nil, nil)
}

// ContainerLogsOptions selects the log lines.
type ContainerLogsOptions struct {
	ShowStdout bool
	ShowStderr bool
	Since      string
	Until      string
	Timestamps bool
	Follow     bool
	Tail       string
	Details    bool
}

// ContainerLogsResult is the log stream (multiplexed unless the
// container has a terminal).
type ContainerLogsResult = io.ReadCloser

// ContainerLogs streams a container's logs. Since and Until may be a
// time, a Unix time or a duration before now.
func (c *Client) ContainerLogs(ctx context.Context, id string, o ContainerLogsOptions) (ContainerLogsResult, error) {
	if err := emptyID("container", id); err != nil {
		return nil, err
	}
	q := query("stdout", flag(o.ShowStdout), "stderr", flag(o.ShowStderr), "timestamps", flag(o.Timestamps),
		"details", flag(o.Details), "follow", flag(o.Follow), "tail", o.Tail)
	if err := setTimes(q, o.Since, o.Until); err != nil {
		return nil, err
	}
	return c.stream(ctx, "GET", "/containers/"+id+"/logs", q, nil, nil)
}

// ContainerWaitOptions is the condition to wait for.
type ContainerWaitOptions struct{ Condition container.WaitCondition }

// ContainerWaitResult delivers the container's exit, or an error.
type ContainerWaitResult struct {
	Result <-chan container.WaitResponse
	Error  <-chan error
}

// ContainerWait waits, in the background, for the container to reach the
// condition. The request is sent before ContainerWait returns, so that a
// start after it cannot be missed.
func (c *Client) ContainerWait(ctx context.Context, id string, o ContainerWaitOptions) ContainerWaitResult {
	results := make(chan container.WaitResponse, 1)
	errs := make(chan error, 1)
	if err := emptyID("container", id); err != nil {
		errs <- err
		return ContainerWaitResult{Result: results, Error: errs}
	}
	resp, err := c.send(ctx, "POST", "/containers/"+id+"/wait", query("condition", string(o.Condition)), nil, nil)
	if err != nil {
		errs <- err
		return ContainerWaitResult{Result: results, Error: errs}
	}
	go func() {
		defer resp.Body.Close()
		var r container.WaitResponse
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			errs <- err
			return
		}
		results <- r
	}()
	return ContainerWaitResult{Result: results, Error: errs}
}

// ContainerAttachOptions selects the streams to attach.
type ContainerAttachOptions struct {
	Stream     bool
	Stdin      bool
	Stdout     bool
	Stderr     bool
	DetachKeys string
	Logs       bool
}

// ContainerAttachResult is the attached stream.
type ContainerAttachResult struct{ HijackedResponse }

// ContainerAttach attaches to a container's streams.
func (c *Client) ContainerAttach(ctx context.Context, id string, o ContainerAttachOptions) (ContainerAttachResult, error) {
	if err := emptyID("container", id); err != nil {
		return ContainerAttachResult{}, err
	}
	q := query("stream", flag(o.Stream), "stdin", flag(o.Stdin), "stdout", flag(o.Stdout), "stderr", flag(o.Stderr),
		"detachKeys", o.DetachKeys, "logs", flag(o.Logs))
	h, err := c.hijack(ctx, "/containers/"+id+"/attach", q, nil)
	return ContainerAttachResult{h}, err
}

// ContainerStatsOptions selects a stream or one sample.
type ContainerStatsOptions struct {
	Stream                bool
	IncludePreviousSample bool
}

// ContainerStatsResult is the stream of samples.
type ContainerStatsResult struct{ Body io.ReadCloser }

// ContainerStats streams a container's resource usage.
func (c *Client) ContainerStats(ctx context.Context, id string, o ContainerStatsOptions) (ContainerStatsResult, error) {
	if err := emptyID("container", id); err != nil {
		return ContainerStatsResult{}, err
	}
	q := url.Values{"stream": {strconv.FormatBool(o.Stream)}}
	if !o.Stream && !o.IncludePreviousSample {
		q.Set("one-shot", "true")
	}
	body, err := c.stream(ctx, "GET", "/containers/"+id+"/stats", q, nil, nil)
	return ContainerStatsResult{Body: body}, err
}

// ContainerCommitOptions is the image to make.
type ContainerCommitOptions struct {
	Reference string
	Comment   string
	Author    string
	Changes   []string
	NoPause   bool
	Config    *container.Config
}

// ContainerCommitResult is the new image.
type ContainerCommitResult struct{ ID string }

// ContainerCommit makes an image of a container's changes.
func (c *Client) ContainerCommit(ctx context.Context, id string, o ContainerCommitOptions) (ContainerCommitResult, error) {
	if err := emptyID("container", id); err != nil {
		return ContainerCommitResult{}, err
	}
	q := query("container", id, "comment", o.Comment, "author", o.Author)
	if o.Reference != "" {
		repo, tag, err := repoTag(o.Reference)
		if err != nil {
			return ContainerCommitResult{}, err
		}
		q.Set("repo", repo)
		q.Set("tag", tag)
	}
	for _, ch := range o.Changes {
		q.Add("changes", ch)
	}
	if o.NoPause {
		q.Set("pause", "0")
	}
	var r container.CommitResponse
	err := c.call(ctx, "POST", "/commit", q, o.Config, &r)
	return ContainerCommitResult{ID: r.ID}, err
}

// ContainerPruneOptions selects the stopped containers to remove.
type ContainerPruneOptions struct{ Filters Filters }

// ContainerPruneResult is what was removed.
type ContainerPruneResult struct{ Report container.PruneReport }

// ContainerPrune removes stopped containers.
func (c *Client) ContainerPrune(ctx context.Context, o ContainerPruneOptions) (ContainerPruneResult, error) {
	r, err := prune[container.PruneReport](ctx, c, "/containers/prune", nil, o.Filters)
	return ContainerPruneResult{Report: r}, err
}

// ContainerStatPathOptions is the path to look at.
type ContainerStatPathOptions struct{ Path string }

// ContainerStatPathResult is what is at the path.
type ContainerStatPathResult struct{ Stat container.PathStat }

// ContainerStatPath describes a path in a container.
func (c *Client) ContainerStatPath(ctx context.Context, id string, o ContainerStatPathOptions) (ContainerStatPathResult, error) {
	if err := emptyID("container", id); err != nil {
		return ContainerStatPathResult{}, err
	}
	resp, err := c.send(ctx, "HEAD", "/containers/"+id+"/archive", url.Values{"path": {o.Path}}, nil, nil)
	if err != nil {
		return ContainerStatPathResult{}, err
	}
	resp.Body.Close()
	st, err := pathStat(resp.Header)
	return ContainerStatPathResult{Stat: st}, err
}

// pathStat decodes the X-Docker-Container-Path-Stat header.
func pathStat(h textproto.MIMEHeader) (container.PathStat, error) {
	var st container.PathStat
	b, err := base64.StdEncoding.DecodeString(h.Get("X-Docker-Container-Path-Stat"))
	if err != nil {
		return st, fmt.Errorf("unable to decode container path stat header: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("unable to decode container path stat header: %w", err)
	}
	return st, nil
}

// CopyFromContainerOptions is the path to copy.
type CopyFromContainerOptions struct{ SourcePath string }

// CopyFromContainerResult is the path as a tar archive, and what it is.
type CopyFromContainerResult struct {
	Content io.ReadCloser
	Stat    container.PathStat
}

// CopyFromContainer streams a path of a container as a tar archive.
func (c *Client) CopyFromContainer(ctx context.Context, id string, o CopyFromContainerOptions) (CopyFromContainerResult, error) {
	if err := emptyID("container", id); err != nil {
		return CopyFromContainerResult{}, err
	}
	resp, err := c.send(ctx, "GET", "/containers/"+id+"/archive", url.Values{"path": {o.SourcePath}}, nil, nil)
	if err != nil {
		return CopyFromContainerResult{}, err
	}
	st, err := pathStat(resp.Header)
	if err != nil {
		resp.Body.Close()
		return CopyFromContainerResult{}, err
	}
	return CopyFromContainerResult{Content: resp.Body, Stat: st}, nil
}

// CopyToContainerOptions is the tar archive and where to extract it.
type CopyToContainerOptions struct {
	DestinationPath           string
	Content                   io.Reader
	AllowOverwriteDirWithFile bool
	CopyUIDGID                bool
}

// CopyToContainerResult is empty.
type CopyToContainerResult struct{}

// CopyToContainer extracts a tar archive into a container.
func (c *Client) CopyToContainer(ctx context.Context, id string, o CopyToContainerOptions) (CopyToContainerResult, error) {
	if err := emptyID("container", id); err != nil {
		return CopyToContainerResult{}, err
	}
	q := url.Values{"path": {o.DestinationPath}}
	if !o.AllowOverwriteDirWithFile {
		q.Set("noOverwriteDirNonDir", "true")
	}
	if o.CopyUIDGID {
		q.Set("copyUIDGID", "true")
	}
	resp, err := c.send(ctx, "PUT", "/containers/"+id+"/archive", q, o.Content, textproto.MIMEHeader{"Content-Type": {"application/x-tar"}})
	if err != nil {
		return CopyToContainerResult{}, err
	}
	resp.Body.Close()
	return CopyToContainerResult{}, nil
}

// emptyID is the moby client's error for an empty name or ID (an invalid
// argument), which would otherwise make another API path.
func emptyID(kind, id string) error {
	if strings.TrimSpace(id) != "" {
		return nil
	}
	return errdefs.ErrInvalidArgument.WithMessage("invalid " + kind + " name or ID: value is empty")
}
