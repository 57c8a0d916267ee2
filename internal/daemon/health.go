// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package daemon

import (
	"bytes"
	"context"
	"sync"
	"time"

	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"

	router "github.com/berth-project/berth/internal/api/router/container"
	ctr "github.com/berth-project/berth/internal/container"
)

// Docker's health check defaults.
const (
	defaultHealthInterval = 30 * time.Second
	defaultHealthTimeout  = 30 * time.Second
	defaultHealthRetries  = 3
	healthLogEntries      = 5
	healthOutputMax       = 4096
)

var healthStops sync.Map // container ID → cancel func

func healthConfig(c *ctr.Container) *containertypes.HealthConfig {
	h := c.Config.Healthcheck
	if h == nil || len(h.Test) == 0 || h.Test[0] == "NONE" {
		return nil
	}
	return h
}

// healthStarting is the health state a container starts with: "starting"
// when it has a check.
func healthStarting(c *ctr.Container) *containertypes.Health {
	if healthConfig(c) == nil {
		return nil
	}
	return &containertypes.Health{Status: containertypes.Starting, Log: []*containertypes.HealthcheckResult{}}
}

// startHealthcheck runs the container's HEALTHCHECK every interval, as an
// exec in the container. The caller holds c.Mu.
func (d *Daemon) startHealthcheck(c *ctr.Container) {
	h := healthConfig(c)
	if h == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	healthStops.Store(c.ID, cancel)
	go d.healthLoop(ctx, c, h)
}

// stopHealthcheck ends the check loop. The caller holds c.Mu.
func (d *Daemon) stopHealthcheck(c *ctr.Container) {
	if v, ok := healthStops.LoadAndDelete(c.ID); ok {
		v.(context.CancelFunc)()
	}
}

func (d *Daemon) healthLoop(ctx context.Context, c *ctr.Container, h *containertypes.HealthConfig) {
	interval, timeout, retries := h.Interval, h.Timeout, h.Retries
	if interval == 0 {
		interval = defaultHealthInterval
	}
	if timeout == 0 {
		timeout = defaultHealthTimeout
	}
	if retries == 0 {
		retries = defaultHealthRetries
	}
	started := time.Now()
	first := interval
	if h.StartInterval > 0 && h.StartPeriod > 0 {
		first = h.StartInterval
	}
	t := time.NewTimer(first)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		res := d.probe(ctx, c, h, timeout)
		if ctx.Err() != nil {
			return
		}
		inStart := time.Since(started) < h.StartPeriod
		c.Mu.Lock()
		hs := c.State.Health
		if hs == nil || !c.IsRunning() {
			c.Mu.Unlock()
			return
		}
		hs.Log = append(hs.Log, res)
		if len(hs.Log) > healthLogEntries {
			hs.Log = hs.Log[len(hs.Log)-healthLogEntries:]
		}
		old := hs.Status
		if res.ExitCode == 0 {
			hs.Status = containertypes.Healthy
			hs.FailingStreak = 0
		} else if !inStart || old == containertypes.Healthy {
			hs.FailingStreak++
			if hs.FailingStreak >= retries {
				hs.Status = containertypes.Unhealthy
			}
		}
		c.Save()
		c.Mu.Unlock()
		if hs.Status != old {
			d.publish(c, events.Action("health_status: "+string(hs.Status)), nil)
		}
		next := interval
		if h.StartInterval > 0 && time.Since(started) < h.StartPeriod {
			next = h.StartInterval
		}
		t.Reset(next)
	}
}

// probe runs the check command once.
func (d *Daemon) probe(ctx context.Context, c *ctr.Container, h *containertypes.HealthConfig, timeout time.Duration) *containertypes.HealthcheckResult {
	res := &containertypes.HealthcheckResult{Start: time.Now(), ExitCode: -1}
	var cmd []string
	switch h.Test[0] {
	case "CMD":
		cmd = h.Test[1:]
	case "CMD-SHELL":
		cmd = append([]string{"/bin/sh", "-c"}, h.Test[1:]...)
	default:
		cmd = h.Test
	}
	id, err := d.ExecCreate(ctx, c.ID, &containertypes.ExecCreateRequest{Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		res.Output = err.Error()
		res.End = time.Now()
		return res
	}
	defer func() {
		d.mu.Lock()
		delete(d.execs, id)
		d.mu.Unlock()
	}()
	var out limitedBuffer
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err = d.ExecStart(tctx, id, &router.ExecStartConfig{Stdout: &out, Stderr: &out})
	res.End = time.Now()
	res.Output = out.String()
	if tctx.Err() != nil {
		res.Output = "Health check exceeded timeout (" + timeout.String() + ")"
		return res
	}
	if err != nil {
		res.Output = err.Error()
		return res
	}
	if e, err := d.getExec(id); err == nil {
		e.mu.Lock()
		if e.ExitCode != nil {
			res.ExitCode = *e.ExitCode
		}
		e.mu.Unlock()
	}
	return res
}

type limitedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := healthOutputMax - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
