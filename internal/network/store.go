// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/berth-project/berth/internal/fsutil"
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
	// Endpoints are the containers attached, by container ID. Each is
	// stored in a file of its own (saveEndpoint); files of older berths
	// hold them in the network's file, which loadNetworks moves out.
	Endpoints map[string]*Endpoint `json:",omitempty"`
	// EndpointFiles marks a network file written by a berth that keeps
	// the endpoints in files of their own. An older berth (after a
	// downgrade) rewrites the file without it, and its endpoints are then
	// the ones that count.
	EndpointFiles bool `json:",omitempty"`
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

// endpointsDir holds a file per endpoint of n: a container's create,
// start, stop and removal rewrite its own file, not the network's, which
// would grow with every container on the network.
func (n *Network) endpointsDir(dir string) string { return filepath.Join(dir, n.ID+".endpoints") }

// save writes n, without its endpoints, atomically.
func (n *Network) save(dir string) error {
	c := *n
	c.Endpoints, c.EndpointFiles = nil, true
	return writeJSON(n.path(dir), &c)
}

// saveEndpoint writes container cid's endpoint on n atomically, or
// removes its file when it has none.
func (n *Network) saveEndpoint(dir, cid string) error {
	p := filepath.Join(n.endpointsDir(dir), cid+".json")
	ep := n.Endpoints[cid]
	if ep == nil {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	if err := os.MkdirAll(n.endpointsDir(dir), 0o700); err != nil {
		return err
	}
	temps, err := tempDirs(dir)
	if err != nil {
		return err
	}
	tmpDir, err := temps.For(cid)
	if err != nil {
		return err
	}
	return writeJSONVia(p, filepath.Join(tmpDir, n.ID+"-"+cid), ep)
}

// endpointTemps holds, per network directory, where endpoint files are
// written before they are renamed into place: each container's create,
// start and stop rewrite its endpoint file, and a temporary file made in
// the endpoints directory would take all those inodes from one block
// group (fsutil.TempDirs).
var endpointTemps sync.Map // network directory → *fsutil.TempDirs

// tempDirs returns dir's temporary directories (dir/.tmp), made the first
// time this process asks; what a crash left there goes then.
func tempDirs(dir string) (*fsutil.TempDirs, error) {
	if t, ok := endpointTemps.Load(dir); ok {
		return t.(*fsutil.TempDirs), nil
	}
	t, err := fsutil.NewTempDirs(filepath.Join(dir, ".tmp"))
	if err != nil {
		return nil, err
	}
	actual, _ := endpointTemps.LoadOrStore(dir, t)
	return actual.(*fsutil.TempDirs), nil
}

// removeFiles removes n's endpoints' files, then n's (a crash in between
// leaves a network without endpoints, not endpoints without a network).
func (n *Network) removeFiles(dir string) error {
	if err := os.RemoveAll(n.endpointsDir(dir)); err != nil {
		return err
	}
	return os.Remove(n.path(dir))
}

// writeJSON writes v to path by temporary file and rename.
func writeJSON(path string, v any) error {
	return writeJSONVia(path, path+".tmp", v)
}

// writeJSONVia writes v to the temporary file tmp, on path's file system,
// and renames it to path.
func writeJSONVia(path, tmp string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
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
		if id, ok := strings.CutSuffix(name, ".endpoints"); ok && e.IsDir() {
			if _, err := os.Stat(filepath.Join(dir, id+".json")); errors.Is(err, os.ErrNotExist) {
				os.RemoveAll(filepath.Join(dir, name)) // its network's removal was cut short
			}
			continue
		}
		if e.IsDir() || !strings.HasSuffix(name, ".json") {
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
		if err := n.loadEndpoints(dir); err != nil {
			return nil, err
		}
		out[n.ID] = &n
	}
	return out, nil
}

// loadEndpoints reads n's endpoint files. A network file of an older
// berth (EndpointFiles unset) holds the endpoints that count: they are
// written to files of their own, replacing any left from before a
// downgrade, and the network's file is written again without them.
func (n *Network) loadEndpoints(dir string) error {
	if !n.EndpointFiles {
		embedded := n.Endpoints
		n.Endpoints = map[string]*Endpoint{}
		if err := os.RemoveAll(n.endpointsDir(dir)); err != nil {
			return err
		}
		for cid, ep := range embedded {
			n.Endpoints[cid] = ep
			if err := n.saveEndpoint(dir, cid); err != nil {
				return err
			}
		}
		return n.save(dir)
	}
	n.Endpoints = map[string]*Endpoint{}
	entries, err := os.ReadDir(n.endpointsDir(dir))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, e := range entries {
		p := filepath.Join(n.endpointsDir(dir), e.Name())
		cid, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			os.Remove(p) // a write a crash cut short
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var ep Endpoint
		if err := json.Unmarshal(b, &ep); err != nil {
			return fmt.Errorf("endpoint file %s: %w", p, err)
		}
		n.Endpoints[cid] = &ep
	}
	return nil
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
