// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package network

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/containerd/errdefs"
)

// Network is a bridge network and its endpoints.
type Network struct {
	ID      string
	Name    string
	Created time.Time
	// Bridge is the Linux bridge's name.
	Bridge  string
	Subnet  netip.Prefix
	Gateway netip.Addr
	IPRange netip.Prefix `json:",omitzero"`
	// AuxAddresses are addresses the IPAM never leases (--aux-address
	// name=ip): taken by devices outside berth.
	AuxAddresses map[string]netip.Addr `json:",omitempty"`
	Internal     bool
	MTU          int `json:",omitempty"`
	// Default marks the daemon's "bridge" network, which has no DNS
	// server (as Docker's default bridge) and cannot be removed.
	Default bool `json:",omitempty"`
	Options map[string]string
	Labels  map[string]string
	// Endpoints are the containers attached, by container ID.
	Endpoints map[string]*Endpoint
}

// Endpoint is one container's attachment to a network. IP is set while
// the container runs (its lease); StaticIP is what --ip asked for.
type Endpoint struct {
	ID          string
	ContainerID string
	// Name is the container's name without "/".
	Name    string
	Aliases []string `json:",omitempty"`
	// Links are the container's "name[:alias]" links on this network:
	// names its own DNS queries resolve.
	Links []string `json:",omitempty"`
	// DNS are the container's --dns servers, to which the network's DNS
	// server forwards the names it does not know.
	DNS      []netip.Addr `json:",omitempty"`
	StaticIP netip.Addr   `json:",omitzero"`
	IP       netip.Addr   `json:",omitzero"`
	// StaticMAC is the MAC address asked for, MAC the one in use.
	StaticMAC string `json:",omitempty"`
	MAC       string `json:",omitempty"`
	// HostVeth is the host side of the veth pair, IfName the
	// container's side, while the container runs.
	HostVeth string `json:",omitempty"`
	IfName   string `json:",omitempty"`
	// Ports are the container's published ports (on its first network
	// only), with the host ports actually bound.
	Ports []PortMapping `json:",omitempty"`
}

// PortMapping is one published port.
type PortMapping struct {
	Proto         string // "tcp" or "udp"
	HostIP        netip.Addr
	HostPort      uint16
	ContainerPort uint16
	// HostPortEnd, when set, makes HostPort..HostPortEnd a range to take
	// the first free port of (a request only; not stored).
	HostPortEnd uint16 `json:"-"`
}

func (n *Network) path(dir string) string { return filepath.Join(dir, n.ID+".json") }

// save writes n atomically.
func (n *Network) save(dir string) error {
	b, err := json.Marshal(n)
	if err != nil {
		return err
	}
	tmp := n.path(dir) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, n.path(dir))
}

func loadNetworks(dir string) (map[string]*Network, error) {
	out := map[string]*Network{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, ".tmp") {
			os.Remove(filepath.Join(dir, name)) // a write a crash cut short
			continue
		}
		if !strings.HasSuffix(name, ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		var n Network
		if err := json.Unmarshal(b, &n); err != nil {
			return nil, fmt.Errorf("network file %s: %w", name, err)
		}
		if n.Endpoints == nil {
			n.Endpoints = map[string]*Endpoint{}
		}
		out[n.ID] = &n
	}
	return out, nil
}

// allocate leases an address of n to ep: its static address if it has
// one, else the lowest free one of the IP range (or subnet), skipping the
// network and broadcast addresses and the gateway. Released addresses are
// reused.
func (n *Network) allocate(ep *Endpoint) error {
	used := map[netip.Addr]bool{n.Gateway: true}
	for _, a := range n.AuxAddresses {
		used[a] = true
	}
	for _, o := range n.Endpoints {
		if o != ep && o.IP.IsValid() {
			used[o.IP] = true
		}
	}
	if ep.StaticIP.IsValid() {
		if !n.Subnet.Contains(ep.StaticIP) {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("no configured subnet or ip-range contain the IP address %s", ep.StaticIP))
		}
		if used[ep.StaticIP] {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Address already in use"))
		}
		ep.IP = ep.StaticIP
		return nil
	}
	r := n.Subnet
	if n.IPRange.IsValid() {
		r = n.IPRange
	}
	last := lastAddr(n.Subnet)
	for a := r.Masked().Addr(); r.Contains(a); a = a.Next() {
		if a == n.Subnet.Masked().Addr() || a == last || used[a] {
			continue
		}
		ep.IP = a
		return nil
	}
	return errdefs.ErrUnavailable.WithMessage(fmt.Sprintf("no available IPv4 addresses on this network's address pools: %s (%s)", n.Name, n.ID))
}

// lastAddr is p's broadcast address.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := 32 - p.Bits()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= uint32(uint64(1)<<host - 1)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// overlaps reports whether two prefixes share an address.
func overlaps(a, b netip.Prefix) bool {
	return a.Overlaps(b)
}

// sortedEndpoints returns n's endpoints in a stable order.
func (n *Network) sortedEndpoints() []*Endpoint {
	eps := make([]*Endpoint, 0, len(n.Endpoints))
	for _, ep := range n.Endpoints {
		eps = append(eps, ep)
	}
	slices.SortFunc(eps, func(a, b *Endpoint) int { return strings.Compare(a.ContainerID, b.ContainerID) })
	return eps
}
