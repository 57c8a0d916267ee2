// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package formatter

import (
	"strconv"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/volume"
)

// Default volume and network list formats.
const (
	DefaultVolumeTableFormat  = "table {{.Driver}}\t{{.Name}}"
	DefaultNetworkTableFormat = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
)

// VolumeWrite writes volumes in ctx's format.
func VolumeWrite(ctx Context, vols []volume.Volume) error {
	return ctx.Write(&VolumeContext{}, func(emit func(SubContext) error) error {
		for _, v := range vols {
			if err := emit(&VolumeContext{v: v}); err != nil {
				return err
			}
		}
		return nil
	})
}

// VolumeContext is one row of "volume ls".
type VolumeContext struct{ v volume.Volume }

// FullHeader is the column header of every field.
func (c *VolumeContext) FullHeader() any {
	return HeaderContext{"Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT",
		"Labels": "LABELS", "Links": "LINKS", "Size": "SIZE", "Group": "GROUP", "Availability": "AVAILABILITY", "Status": "STATUS"}
}

// MarshalJSON renders the row for {{json .}}.
func (c *VolumeContext) MarshalJSON() ([]byte, error) { return MarshalJSON(c) }

// Name is the volume's name.
func (c *VolumeContext) Name() string { return c.v.Name }

// Driver is the volume driver.
func (c *VolumeContext) Driver() string { return c.v.Driver }

// Scope is local or global.
func (c *VolumeContext) Scope() string { return c.v.Scope }

// Mountpoint is where the volume lives on the host.
func (c *VolumeContext) Mountpoint() string { return c.v.Mountpoint }

// Labels is every label as k=v.
func (c *VolumeContext) Labels() string { return joinLabels(c.v.Labels) }

// Label returns one label.
func (c *VolumeContext) Label(name string) string { return c.v.Labels[name] }

// Links is the number of containers using the volume, N/A if unknown.
func (c *VolumeContext) Links() string {
	if c.v.UsageData == nil {
		return "N/A"
	}
	return strconv.FormatInt(c.v.UsageData.RefCount, 10)
}

// Size is the volume's size, N/A if unknown.
func (c *VolumeContext) Size() string {
	if c.v.UsageData == nil {
		return "N/A"
	}
	return HumanSize(c.v.UsageData.Size)
}

// Group is the cluster volume group (always empty here).
func (c *VolumeContext) Group() string { return "" }

// Availability is the cluster volume availability (always empty here).
func (c *VolumeContext) Availability() string { return "" }

// Status is the cluster volume status (always empty here).
func (c *VolumeContext) Status() string { return "" }

// NetworkWrite writes networks in ctx's format.
func NetworkWrite(ctx Context, nets []network.Summary) error {
	return ctx.Write(&NetworkContext{}, func(emit func(SubContext) error) error {
		for _, n := range nets {
			if err := emit(&NetworkContext{n: n, trunc: ctx.Trunc}); err != nil {
				return err
			}
		}
		return nil
	})
}

// NetworkContext is one row of "network ls".
type NetworkContext struct {
	n     network.Summary
	trunc bool
}

// FullHeader is the column header of every field.
func (c *NetworkContext) FullHeader() any {
	return HeaderContext{"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE",
		"IPv4": "IPV4", "IPv6": "IPV6", "Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED"}
}

// MarshalJSON renders the row for {{json .}}.
func (c *NetworkContext) MarshalJSON() ([]byte, error) { return MarshalJSON(c) }

// ID is the network ID.
func (c *NetworkContext) ID() string {
	if c.trunc {
		return TruncateID(c.n.ID)
	}
	return c.n.ID
}

// Name is the network's name.
func (c *NetworkContext) Name() string { return c.n.Name }

// Driver is the network driver.
func (c *NetworkContext) Driver() string { return c.n.Driver }

// Scope is local, global or swarm.
func (c *NetworkContext) Scope() string { return c.n.Scope }

// IPv4 reports whether IPv4 is enabled.
func (c *NetworkContext) IPv4() string { return strconv.FormatBool(c.n.EnableIPv4) }

// IPv6 reports whether IPv6 is enabled.
func (c *NetworkContext) IPv6() string { return strconv.FormatBool(c.n.EnableIPv6) }

// Internal reports whether the network is internal.
func (c *NetworkContext) Internal() string { return strconv.FormatBool(c.n.Internal) }

// Labels is every label as k=v.
func (c *NetworkContext) Labels() string { return joinLabels(c.n.Labels) }

// Label returns one label.
func (c *NetworkContext) Label(name string) string { return c.n.Labels[name] }

// CreatedAt is the creation time.
func (c *NetworkContext) CreatedAt() string { return c.n.Created.String() }
