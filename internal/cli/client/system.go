// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/api/types/volume"
)

// InfoOptions has nothing to set.
type InfoOptions struct{}

// SystemInfoResult is the daemon's description of itself.
type SystemInfoResult struct{ Info system.Info }

// Info describes the daemon and its host.
func (c *Client) Info(ctx context.Context, _ InfoOptions) (SystemInfoResult, error) {
	var r SystemInfoResult
	err := c.call(ctx, "GET", "/info", nil, nil, &r.Info)
	return r, err
}

// ServerVersionOptions has nothing to set.
type ServerVersionOptions struct{}

// PlatformInfo names the daemon's product.
type PlatformInfo struct{ Name string }

// ServerVersionResult is the daemon's version and its components'.
type ServerVersionResult struct {
	Platform      PlatformInfo
	Version       string
	APIVersion    string
	MinAPIVersion string
	Os            string
	Arch          string
	Experimental  bool
	Components    []system.ComponentVersion
}

// ServerVersion returns the daemon's version.
func (c *Client) ServerVersion(ctx context.Context, _ ServerVersionOptions) (ServerVersionResult, error) {
	var v system.VersionResponse
	if err := c.call(ctx, "GET", "/version", nil, nil, &v); err != nil {
		return ServerVersionResult{}, err
	}
	return ServerVersionResult{
		Platform: PlatformInfo{Name: v.Platform.Name}, Version: v.Version, APIVersion: v.APIVersion,
		MinAPIVersion: v.MinAPIVersion, Os: v.Os, Arch: v.Arch, Experimental: v.Experimental, Components: v.Components,
	}, nil
}

// DiskUsageOptions selects the kinds of objects to count.
type DiskUsageOptions struct {
	Containers bool
	Images     bool
	BuildCache bool
	Volumes    bool
}

// Usage is the disk usage of one kind of object.
type Usage struct {
	ActiveCount int64
	TotalCount  int64
	Reclaimable int64
	TotalSize   int64
}

// DiskUsageResult is the disk usage of each kind of object.
type DiskUsageResult struct {
	Containers Usage
	Images     Usage
	BuildCache Usage
	Volumes    Usage
}

// DiskUsage counts the disk space that images, containers, volumes and
// the build cache take, and how much of it is unused (reclaimable), from
// the daemon's lists of them (API 1.51 and before).
func (c *Client) DiskUsage(ctx context.Context, o DiskUsageOptions) (DiskUsageResult, error) {
	q := url.Values{}
	for _, t := range []struct {
		on   bool
		kind string
	}{{o.Containers, "container"}, {o.Images, "image"}, {o.Volumes, "volume"}, {o.BuildCache, "build-cache"}} {
		if t.on {
			q.Add("type", t.kind)
		}
	}
	var du struct {
		LayersSize int64
		Images     []image.Summary
		Containers []container.Summary
		Volumes    []volume.Volume
		BuildCache []build.CacheRecord
	}
	if err := c.call(ctx, "GET", "/system/df", q, nil, &du); err != nil {
		return DiskUsageResult{}, err
	}
	var r DiskUsageResult
	r.Images = Usage{TotalCount: int64(len(du.Images)), TotalSize: du.LayersSize}
	for _, i := range du.Images {
		switch {
		case i.Containers > 0:
			r.Images.ActiveCount++
		case i.Containers == 0 && i.Size != -1 && i.SharedSize != -1:
			r.Images.Reclaimable += i.Size - i.SharedSize
		}
	}
	r.Containers = Usage{TotalCount: int64(len(du.Containers))}
	for _, ct := range du.Containers {
		r.Containers.TotalSize += ct.SizeRw
		switch ct.State {
		case container.StateRunning, container.StatePaused, container.StateRestarting:
			r.Containers.ActiveCount++
		default:
			r.Containers.Reclaimable += ct.SizeRw
		}
	}
	r.Volumes = Usage{TotalCount: int64(len(du.Volumes))}
	var used int64
	for _, v := range du.Volumes {
		if v.UsageData == nil {
			continue
		}
		if v.UsageData.RefCount > 0 {
			r.Volumes.ActiveCount++
			used += v.UsageData.Size
		}
		if v.UsageData.Size > 0 {
			r.Volumes.TotalSize += v.UsageData.Size
		}
	}
	r.Volumes.Reclaimable = r.Volumes.TotalSize - used
	r.BuildCache = Usage{TotalCount: int64(len(du.BuildCache))}
	for _, b := range du.BuildCache {
		if b.InUse {
			r.BuildCache.ActiveCount++
		}
		if !b.Shared {
			r.BuildCache.TotalSize += b.Size
			if !b.InUse {
				r.BuildCache.Reclaimable += b.Size
			}
		}
	}
	return r, nil
}

// EventsListOptions selects the events to stream.
type EventsListOptions struct {
	Since   string
	Until   string
	Filters Filters
}

// EventsResult delivers events, then an error (io.EOF when the daemon
// ends the stream, at Until).
type EventsResult struct {
	Messages <-chan events.Message
	Err      <-chan error
}

// Events streams the daemon's events in the background. Since and Until
// may be a time, a Unix time or a duration before now.
func (c *Client) Events(ctx context.Context, o EventsListOptions) EventsResult {
	messages := make(chan events.Message)
	errs := make(chan error, 1)
	res := EventsResult{Messages: messages, Err: errs}
	q := url.Values{}
	if err := setTimes(q, o.Since, o.Until); err != nil {
		errs <- err
		return res
	}
	o.Filters.set(q)
	resp, err := c.send(ctx, "GET", "/events", q, nil, nil)
	if err != nil {
		errs <- err
		return res
	}
	go func() {
		defer resp.Body.Close()
		dec := json.NewDecoder(resp.Body)
		for {
			var m events.Message
			if err := dec.Decode(&m); err != nil {
				errs <- err
				return
			}
			select {
			case messages <- m:
			case <-ctx.Done():
				errs <- ctx.Err()
				return
			}
		}
	}()
	return res
}

// setTimes puts since and until (see Timestamp) in q, when given.
func setTimes(q url.Values, since, until string) error {
	now := time.Now()
	for k, v := range map[string]string{"since": since, "until": until} {
		if v == "" {
			continue
		}
		ts, err := Timestamp(v, now)
		if err != nil {
			return err
		}
		q.Set(k, ts)
	}
	return nil
}

// Timestamp turns a --since or --until value into the API's form (Unix
// seconds, with nanoseconds after a point): a Unix time stays as it is, a
// duration is that long before now, and a time may be RFC 3339 or shorter
// (a date, or up to minutes), in local time when it has no zone.
func Timestamp(value string, now time.Time) (string, error) {
	if value == "" {
		return "", nil
	}
	if d, err := time.ParseDuration(value); err == nil && value != "0" {
		return strconv.FormatInt(now.Add(-d).Unix(), 10), nil
	}
	if sec, frac, _ := strings.Cut(value, "."); isDigits(sec) && (frac == "" && !strings.Contains(value, ".") || isDigits(frac)) {
		return value, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05",
		"2006-01-02T15:04Z07:00", "2006-01-02T15:04", "2006-01-02T15Z07:00", "2006-01-02T15", "2006-01-02Z07:00", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, value, time.Local); err == nil {
			return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond()), nil
		}
	}
	return "", fmt.Errorf("failed to parse value as time or duration: %q", value)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
