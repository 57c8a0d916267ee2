// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package daemon

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/internal/api/httputils"
	ctr "github.com/berth-project/berth/internal/container"
)

// ContainerPrune removes every stopped container that the filters
// ("until", "label", "label!") select.
func (d *Daemon) ContainerPrune(ctx context.Context, f httputils.Filters) (containertypes.PruneReport, error) {
	var rep containertypes.PruneReport
	var until time.Time
	if v := f["until"]; len(v) > 0 {
		t, err := parseUntil(v[0])
		if err != nil {
			return rep, err
		}
		until = t
	}
	for _, c := range d.store.List() {
		c.Mu.Lock()
		ok := !c.IsRunning() && c.State.Status != ctr.Removing &&
			(until.IsZero() || c.Created.Before(until)) &&
			f.MatchLabels("label", c.Config.Labels) && !anyLabel(f["label!"], c.Config.Labels)
		c.Mu.Unlock()
		if !ok {
			continue
		}
		size := d.sizeRw(ctx, c.ID)
		if err := d.ContainerRemove(ctx, c.ID, false, false); err != nil {
			d.log.Debug("prune: remove", "id", c.ID, "err", err)
			continue
		}
		rep.ContainersDeleted = append(rep.ContainersDeleted, c.ID)
		rep.SpaceReclaimed += uint64(size)
	}
	d.events.Publish(events.ContainerEventType, events.ActionPrune, "", map[string]string{"reclaimed": fmt.Sprint(rep.SpaceReclaimed)})
	return rep, nil
}

func anyLabel(vals []string, labels map[string]string) bool {
	for _, v := range vals {
		k, want, hasValue := strings.Cut(v, "=")
		if got, ok := labels[k]; ok && (!hasValue || got == want) {
			return true
		}
	}
	return false
}

// parseUntil reads an "until" filter: a Unix timestamp, an RFC 3339 date
// or a Go duration before now ("24h").
func parseUntil(s string) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	if t, err := parseUnixish(s); err == nil {
		return t, nil
	}
	return time.Time{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter 'until=%s'", s))
}

func parseUnixish(s string) (time.Time, error) {
	var sec, nsec int64
	if _, err := fmt.Sscanf(s, "%d.%d", &sec, &nsec); err == nil {
		return time.Unix(sec, nsec), nil
	}
	if _, err := fmt.Sscanf(s, "%d", &sec); err == nil {
		return time.Unix(sec, 0), nil
	}
	return time.Time{}, fmt.Errorf("not a timestamp")
}
