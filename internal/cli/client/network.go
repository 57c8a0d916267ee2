// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package client

import (
	"context"
	"encoding/json"
	"net/url"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/volume"
)

// NetworkCreateOptions is the network to create.
type NetworkCreateOptions struct {
	Driver     string
	Scope      string
	EnableIPv4 *bool
	EnableIPv6 *bool
	IPAM       *network.IPAM
	Internal   bool
	Attachable bool
	Ingress    bool
	ConfigOnly bool
	ConfigFrom string
	Options    map[string]string
	Labels     map[string]string
}

// NetworkCreateResult is the new network.
type NetworkCreateResult struct {
	ID      string
	Warning []string
}

// NetworkCreate creates a network.
func (c *Client) NetworkCreate(ctx context.Context, name string, o NetworkCreateOptions) (NetworkCreateResult, error) {
	if err := emptyID("network", name); err != nil {
		return NetworkCreateResult{}, err
	}
	req := network.CreateRequest{
		Name: name, Driver: o.Driver, Scope: o.Scope, EnableIPv4: o.EnableIPv4, EnableIPv6: o.EnableIPv6,
		IPAM: o.IPAM, Internal: o.Internal, Attachable: o.Attachable, Ingress: o.Ingress,
		ConfigOnly: o.ConfigOnly, Options: o.Options, Labels: o.Labels,
	}
	if o.ConfigFrom != "" {
		req.ConfigFrom = &network.ConfigReference{Network: o.ConfigFrom}
	}
	var r network.CreateResponse
	if err := c.call(ctx, "POST", "/networks/create", nil, req, &r); err != nil {
		return NetworkCreateResult{}, err
	}
	res := NetworkCreateResult{ID: r.ID}
	if r.Warning != "" {
		res.Warning = []string{r.Warning}
	}
	return res, nil
}

// NetworkInspectOptions has nothing to set.
type NetworkInspectOptions struct{}

// NetworkInspectResult is the network, decoded and as sent.
type NetworkInspectResult struct {
	Network network.Inspect
	Raw     json.RawMessage
}

// NetworkInspect returns a network's details.
func (c *Client) NetworkInspect(ctx context.Context, id string, _ NetworkInspectOptions) (NetworkInspectResult, error) {
	if err := emptyID("network", id); err != nil {
		return NetworkInspectResult{}, err
	}
	var r NetworkInspectResult
	raw, err := c.callRaw(ctx, "GET", "/networks/"+id, nil, &r.Network)
	r.Raw = raw
	return r, err
}

// NetworkListOptions selects the networks to list.
type NetworkListOptions struct{ Filters Filters }

// NetworkListResult is the networks listed.
type NetworkListResult struct{ Items []network.Summary }

// NetworkList lists networks.
func (c *Client) NetworkList(ctx context.Context, o NetworkListOptions) (NetworkListResult, error) {
	q := url.Values{}
	o.Filters.set(q)
	var r NetworkListResult
	err := c.call(ctx, "GET", "/networks", q, nil, &r.Items)
	return r, err
}

// NetworkRemoveOptions has nothing to set.
type NetworkRemoveOptions struct{}

// NetworkRemoveResult is empty.
type NetworkRemoveResult struct{}

// NetworkRemove removes a network.
func (c *Client) NetworkRemove(ctx context.Context, id string, _ NetworkRemoveOptions) (NetworkRemoveResult, error) {
	if err := emptyID("network", id); err != nil {
		return NetworkRemoveResult{}, err
	}
	return NetworkRemoveResult{}, c.call(ctx, "DELETE", "/networks/"+id, nil, nil, nil)
}

// NetworkConnectOptions is the container to connect and its endpoint.
type NetworkConnectOptions struct {
	Container      string
	EndpointConfig *network.EndpointSettings
}

// NetworkConnectResult is empty.
type NetworkConnectResult struct{}

// NetworkConnect connects a container to a network.
func (c *Client) NetworkConnect(ctx context.Context, id string, o NetworkConnectOptions) (NetworkConnectResult, error) {
	if err := emptyID("network", id); err != nil {
		return NetworkConnectResult{}, err
	}
	req := network.ConnectRequest{Container: o.Container, EndpointConfig: o.EndpointConfig}
	return NetworkConnectResult{}, c.call(ctx, "POST", "/networks/"+id+"/connect", nil, req, nil)
}

// NetworkDisconnectOptions is the container to disconnect.
type NetworkDisconnectOptions struct {
	Container string
	Force     bool
}

// NetworkDisconnectResult is empty.
type NetworkDisconnectResult struct{}

// NetworkDisconnect disconnects a container from a network.
func (c *Client) NetworkDisconnect(ctx context.Context, id string, o NetworkDisconnectOptions) (NetworkDisconnectResult, error) {
	if err := emptyID("network", id); err != nil {
		return NetworkDisconnectResult{}, err
	}
	req := network.DisconnectRequest{Container: o.Container, Force: o.Force}
	return NetworkDisconnectResult{}, c.call(ctx, "POST", "/networks/"+id+"/disconnect", nil, req, nil)
}

// NetworkPruneOptions selects the unused networks to remove.
type NetworkPruneOptions struct{ Filters Filters }

// NetworkPruneResult is what was removed.
type NetworkPruneResult struct{ Report network.PruneReport }

// NetworkPrune removes unused networks.
func (c *Client) NetworkPrune(ctx context.Context, o NetworkPruneOptions) (NetworkPruneResult, error) {
	r, err := prune[network.PruneReport](ctx, c, "/networks/prune", nil, o.Filters)
	return NetworkPruneResult{Report: r}, err
}

// VolumeCreateOptions is the volume to create.
type VolumeCreateOptions struct {
	Name       string
	Driver     string
	DriverOpts map[string]string
	Labels     map[string]string
}

// VolumeCreateResult is the new volume.
type VolumeCreateResult struct{ Volume volume.Volume }

// VolumeCreate creates a volume.
func (c *Client) VolumeCreate(ctx context.Context, o VolumeCreateOptions) (VolumeCreateResult, error) {
	req := volume.CreateRequest{Name: o.Name, Driver: o.Driver, DriverOpts: o.DriverOpts, Labels: o.Labels}
	var r VolumeCreateResult
	err := c.call(ctx, "POST", "/volumes/create", nil, req, &r.Volume)
	return r, err
}

// VolumeInspectOptions has nothing to set.
type VolumeInspectOptions struct{}

// VolumeInspectResult is the volume, decoded and as sent.
type VolumeInspectResult struct {
	Volume volume.Volume
	Raw    json.RawMessage
}

// VolumeInspect returns a volume's details.
func (c *Client) VolumeInspect(ctx context.Context, name string, _ VolumeInspectOptions) (VolumeInspectResult, error) {
	if err := emptyID("volume", name); err != nil {
		return VolumeInspectResult{}, err
	}
	var r VolumeInspectResult
	raw, err := c.callRaw(ctx, "GET", "/volumes/"+name, nil, &r.Volume)
	r.Raw = raw
	return r, err
}

// VolumeListOptions selects the volumes to list.
type VolumeListOptions struct{ Filters Filters }

// VolumeListResult is the volumes listed.
type VolumeListResult struct {
	Items    []volume.Volume
	Warnings []string
}

// VolumeList lists volumes.
func (c *Client) VolumeList(ctx context.Context, o VolumeListOptions) (VolumeListResult, error) {
	q := url.Values{}
	o.Filters.set(q)
	var r volume.ListResponse
	err := c.call(ctx, "GET", "/volumes", q, nil, &r)
	return VolumeListResult{Items: r.Volumes, Warnings: r.Warnings}, err
}

// VolumeRemoveOptions says whether to remove a volume in use.
type VolumeRemoveOptions struct{ Force bool }

// VolumeRemoveResult is empty.
type VolumeRemoveResult struct{}

// VolumeRemove removes a volume.
func (c *Client) VolumeRemove(ctx context.Context, name string, o VolumeRemoveOptions) (VolumeRemoveResult, error) {
	if err := emptyID("volume", name); err != nil {
		return VolumeRemoveResult{}, err
	}
	return VolumeRemoveResult{}, c.call(ctx, "DELETE", "/volumes/"+name, query("force", flag(o.Force)), nil, nil)
}

// VolumePruneOptions selects the unused volumes to remove (only
// anonymous ones unless All).
type VolumePruneOptions struct {
	All     bool
	Filters Filters
}

// VolumePruneResult is what was removed.
type VolumePruneResult struct{ Report volume.PruneReport }

// VolumePrune removes unused volumes.
func (c *Client) VolumePrune(ctx context.Context, o VolumePruneOptions) (VolumePruneResult, error) {
	f := o.Filters
	if o.All {
		if f == nil {
			f = Filters{}
		}
		f.Add("all", "true")
	}
	r, err := prune[volume.PruneReport](ctx, c, "/volumes/prune", nil, f)
	return VolumePruneResult{Report: r}, err
}
