// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package daemon

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	units "github.com/docker/go-units"
	containertypes "github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/api/httputils"
	ctr "github.com/berth-project/berth/internal/container"
)

// ContainerList answers `ps`: the running containers, or all with all,
// filtered as Docker filters them, newest first.
func (d *Daemon) ContainerList(ctx context.Context, all bool, limit int, size bool, f httputils.Filters) ([]containertypes.Summary, error) {
	list := d.store.List()
	var before, since time.Time
	if v := f["before"]; len(v) > 0 {
		c, err := d.store.Get(v[0])
		if err != nil {
			return nil, err
		}
		before = c.Created
	}
	if v := f["since"]; len(v) > 0 {
		c, err := d.store.Get(v[0])
		if err != nil {
			return nil, err
		}
		since = c.Created
	}
	for _, s := range f["status"] {
		switch s {
		case ctr.Created, ctr.Running, ctr.Paused, ctr.Restarting, ctr.Removing, ctr.Exited, ctr.Dead:
		default:
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter 'status=%s'", s))
		}
	}
	for _, s := range f["health"] {
		switch s {
		case "starting", "healthy", "unhealthy", "none":
		default:
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Unrecognised filter value for health: %s", s))
		}
	}
	for _, v := range f["exited"] {
		if _, err := strconv.Atoi(v); err != nil {
			return nil, errdefs.ErrInvalidArgument.WithMessage(err.Error())
		}
	}
	if f.Has("status") {
		// a status looks beyond the running containers (exited does not,
		// as with Docker: ps --filter exited=0 wants -a)
		all = true
	}
	if limit > 0 {
		all = true
	}
	out := []containertypes.Summary{}
	refs := map[string]string{} // image reference → the image it names now
	for _, c := range list {
		c.Mu.Lock()
		s, ok := d.summary(c, all, before, since, f)
		c.Mu.Unlock()
		if !ok {
			continue
		}
		// as Docker: a reference that no longer names the container's
		// image (retagged, removed) shows as the image's ID
		if s.Image != s.ImageID {
			id, seen := refs[s.Image]
			if !seen {
				if img, err := d.images.Get(ctx, s.Image); err == nil {
					id = img.ID.String()
				}
				refs[s.Image] = id
			}
			if id != s.ImageID {
				s.Image = s.ImageID
			}
		}
		if size {
			rw := d.sizeRw(ctx, c.ID)
			s.SizeRw = rw
			s.SizeRootFs = rw + d.imageSize(ctx, c.Image)
		}
		out = append(out, s)
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	return out, nil
}

func (d *Daemon) summary(c *ctr.Container, all bool, before, since time.Time, f httputils.Filters) (containertypes.Summary, bool) {
	st := c.State.Status
	if !all && st != ctr.Running && st != ctr.Paused && st != ctr.Restarting {
		return containertypes.Summary{}, false
	}
	if !before.IsZero() && !c.Created.Before(before) || !since.IsZero() && !c.Created.After(since) {
		return containertypes.Summary{}, false
	}
	if !f.Match("status", st) || !f.MatchLabels("label", c.Config.Labels) {
		return containertypes.Summary{}, false
	}
	if f.Has("id") && !matchPrefix(f["id"], c.ID) {
		return containertypes.Summary{}, false
	}
	if f.Has("name") && !matchRegexp(f["name"], c.ShortName(), c.Name) {
		return containertypes.Summary{}, false
	}
	if f.Has("exited") {
		if st != ctr.Exited || !f.Match("exited", strconv.Itoa(c.State.ExitCode)) {
			return containertypes.Summary{}, false
		}
	}
	if f.Has("ancestor") && !d.isAncestor(f["ancestor"], c) {
		return containertypes.Summary{}, false
	}
	if f.Has("health") {
		h := "none"
		if c.State.Health != nil {
			h = string(c.State.Health.Status)
		}
		if !f.Match("health", h) {
			return containertypes.Summary{}, false
		}
	}
	nets, ports := d.containerNetworks(c)
	if !d.psNetworkFilter(c, nets, ports, f["network"], f["publish"], f["expose"]) {
		return containertypes.Summary{}, false
	}
	mounts := d.inspectMounts(c)
	if f.Has("volume") {
		// Docker's filter: a volume's name or any mount's destination
		found := false
		for _, m := range mounts {
			if f.Match("volume", m.Name) || f.Match("volume", m.Destination) {
				found = true
			}
		}
		if !found {
			return containertypes.Summary{}, false
		}
	}
	// as Docker shows it: arguments with a space in single quotes
	cmd := c.Path
	for _, a := range c.Args {
		if strings.Contains(a, " ") {
			a = "'" + a + "'"
		}
		cmd += " " + a
	}
	s := containertypes.Summary{
		ID:              c.ID,
		Names:           []string{c.Name},
		Image:           c.ImageRef,
		ImageID:         c.Image,
		Command:         cmd,
		Created:         c.Created.Unix(),
		Ports:           portSummaries(ports),
		Labels:          c.Config.Labels,
		State:           containertypes.ContainerState(st),
		Status:          statusText(c),
		Mounts:          mounts,
		NetworkSettings: &containertypes.NetworkSettingsSummary{Networks: nets},
	}
	s.HostConfig.NetworkMode = string(c.HostConfig.NetworkMode)
	if c.State.Health != nil {
		s.Health = &containertypes.HealthSummary{Status: c.State.Health.Status, FailingStreak: c.State.Health.FailingStreak}
	}
	return s, true
}

func matchPrefix(vals []string, id string) bool {
	for _, v := range vals {
		if strings.HasPrefix(id, v) {
			return true
		}
	}
	return false
}

// matchRegexp is Docker's filters.Match: a value matches a pattern it
// equals or a regular expression that finds it anywhere ("web" finds
// "my-web-1", "^web$" only "web"); a pattern that does not compile
// matches only exactly. Any of the values may match.
func matchRegexp(pats []string, values ...string) bool {
	for _, p := range pats {
		re, err := regexp.Compile(p)
		for _, v := range values {
			if v == p || err == nil && re.MatchString(v) {
				return true
			}
		}
	}
	return false
}

func (d *Daemon) isAncestor(vals []string, c *ctr.Container) bool {
	for _, v := range vals {
		img, err := d.images.Get(context.Background(), v)
		if err == nil && img.ID.String() == c.Image {
			return true
		}
		if v == c.ImageRef {
			return true
		}
	}
	return false
}

// statusText is the STATUS column of `docker ps`: "Up 3 minutes",
// "Exited (0) 2 seconds ago", "Created" …
func statusText(c *ctr.Container) string {
	switch c.State.Status {
	case ctr.Running, ctr.Paused:
		s := "Up " + units.HumanDuration(time.Since(c.State.StartedAt))
		if c.State.Health != nil {
			switch c.State.Health.Status {
			case containertypes.Starting:
				s += " (health: starting)"
			case containertypes.Healthy:
				s += " (healthy)"
			case containertypes.Unhealthy:
				s += " (unhealthy)"
			}
		}
		if c.State.Status == ctr.Paused {
			s += " (Paused)"
		}
		return s
	case ctr.Restarting:
		return fmt.Sprintf("Restarting (%d) %s ago", c.State.ExitCode, units.HumanDuration(time.Since(c.State.FinishedAt)))
	case ctr.Removing:
		return "Removal In Progress"
	case ctr.Dead:
		return "Dead"
	case ctr.Created:
		if !c.HasBeenStarted {
			return "Created"
		}
	}
	if c.State.FinishedAt.IsZero() {
		return "Created"
	}
	return fmt.Sprintf("Exited (%d) %s ago", c.State.ExitCode, units.HumanDuration(time.Since(c.State.FinishedAt)))
}
