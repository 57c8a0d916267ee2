// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/internal/api/httputils"
)

// Until bridge networking lands, the daemon has Docker's two predefined
// networks that need no setup: "host" (the host's namespace) and "none"
// (a namespace with loopback only, what "bridge" and "default" get for
// now). Creating networks is refused as not implemented.
var predefinedNetworks = []struct{ name, driver string }{{"host", "host"}, {"none", "null"}}

func networkID(name string) string {
	sum := sha256.Sum256([]byte("berth network " + name))
	return hex.EncodeToString(sum[:])
}

func (d *Daemon) networkSummaries() []network.Summary {
	var out []network.Summary
	for _, n := range predefinedNetworks {
		out = append(out, network.Summary{Network: network.Network{
			Name:       n.name,
			ID:         networkID(n.name),
			Created:    d.started.UTC(),
			Scope:      "local",
			Driver:     n.driver,
			EnableIPv4: true,
			IPAM:       network.IPAM{Driver: "default", Config: []network.IPAMConfig{}},
			Options:    map[string]string{},
			Labels:     map[string]string{},
		}})
	}
	return out
}

// NetworkList lists the networks.
func (d *Daemon) NetworkList(ctx context.Context, f httputils.Filters) ([]network.Summary, error) {
	out := []network.Summary{}
	for _, n := range d.networkSummaries() {
		if !f.Match("driver", n.Driver) || !f.Match("scope", n.Scope) || !f.MatchLabels("label", n.Labels) {
			continue
		}
		if f.Has("name") && !matchSubstring(f["name"], n.Name) || f.Has("id") && !matchPrefix(f["id"], n.ID) {
			continue
		}
		if f.Has("type") && !f.Match("type", "builtin") {
			continue
		}
		out = append(out, n)
	}
	return out, nil
}

// NetworkInspect finds a network by name, ID or ID prefix.
func (d *Daemon) NetworkInspect(ctx context.Context, ref string) (network.Inspect, error) {
	for _, n := range d.networkSummaries() {
		if n.Name == ref || strings.HasPrefix(n.ID, ref) && ref != "" {
			return network.Inspect{Network: n.Network, Containers: map[string]network.EndpointResource{}}, nil
		}
	}
	return network.Inspect{}, errdefs.ErrNotFound.WithMessage(fmt.Sprintf("network %s not found", ref))
}

// NetworkCreate is not implemented yet.
func (d *Daemon) NetworkCreate(ctx context.Context, req *network.CreateRequest) (network.CreateResponse, error) {
	return network.CreateResponse{}, errdefs.ErrNotImplemented.WithMessage("network create: user-defined networks are not implemented yet (berth has host and none)")
}

// NetworkRemove refuses the predefined networks, as Docker does.
func (d *Daemon) NetworkRemove(ctx context.Context, ref string) error {
	n, err := d.NetworkInspect(ctx, ref)
	if err != nil {
		return err
	}
	return errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("%s is a pre-defined network and cannot be removed", n.Name))
}

// NetworkPrune removes unused user-defined networks: there are none.
func (d *Daemon) NetworkPrune(ctx context.Context, f httputils.Filters) (network.PruneReport, error) {
	return network.PruneReport{NetworksDeleted: []string{}}, nil
}
