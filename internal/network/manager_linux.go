// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package network

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Docker's option names.
const (
	OptBridgeName    = "com.docker.network.bridge.name"
	OptMTU           = "com.docker.network.driver.mtu"
	OptDefaultBridge = "com.docker.network.bridge.default_bridge"
)

// Config configures a Manager.
type Config struct {
	// Dir holds the network files (<data-root>/network).
	Dir string
	// Bridge is the default bridge's name ("berth0"); BIP its gateway
	// address with the subnet's length ("10.7.0.1/24"), chosen free of
	// the host's routes when empty.
	Bridge string
	BIP    string
	// IPForward turns on net.ipv4.ip_forward; NAT makes the nftables
	// table (dockerd's --ip-forward and --iptables).
	IPForward bool
	NAT       bool
	Log       *slog.Logger
}

// Manager owns the networks, their bridges, leases, port rules and DNS
// servers. Its methods are safe for concurrent use.
type Manager struct {
	cfg      Config
	fw       *firewall
	redirect *redirector // nil where the host cannot (see redirect_linux.go)
	upstream []string

	mu   sync.Mutex
	nets map[string]*Network
	dns  map[string]*dnsServer
	held map[string][]int // container ID → sockets holding its host ports
}

// New loads the networks, makes the default bridge network when there is
// none and brings every bridge up.
func New(cfg Config) (*Manager, error) {
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, err
	}
	nets, err := loadNetworks(cfg.Dir)
	if err != nil {
		return nil, err
	}
	m := &Manager{cfg: cfg, nets: nets, dns: map[string]*dnsServer{}, held: map[string][]int{},
		fw: &firewall{name: "berth-" + cfg.Bridge}, upstream: hostResolvers()}
	if err := m.ensureDefault(); err != nil {
		return nil, err
	}
	for _, n := range m.nets {
		if err := ensureBridge(n.Bridge, n.Gateway, n.Subnet, n.MTU); err != nil {
			return nil, err
		}
	}
	if cfg.IPForward {
		if err := writeSysctl("net/ipv4/ip_forward", "1"); err != nil {
			return nil, fmt.Errorf("enable IP forwarding: %w", err)
		}
	}
	if cfg.NAT {
		if m.redirect, err = newRedirector(); err != nil {
			cfg.Log.Info("the host's connections to published ports go through NAT", "reason", err)
		}
	}
	return m, nil
}

// ensureDefault makes or updates the "bridge" network after the flags.
func (m *Manager) ensureDefault() error {
	var def *Network
	for _, n := range m.nets {
		if n.Default {
			def = n
		}
	}
	var gw netip.Addr
	var subnet netip.Prefix
	if m.cfg.BIP != "" {
		p, err := netip.ParsePrefix(m.cfg.BIP)
		if err != nil || !p.Addr().Is4() {
			return fmt.Errorf("invalid --bip %q: want an IPv4 address with a prefix length, e.g. 10.7.0.1/24", m.cfg.BIP)
		}
		gw, subnet = p.Addr(), p.Masked()
	}
	if def != nil && def.Bridge == m.cfg.Bridge && (!gw.IsValid() || def.Gateway == gw && def.Subnet == subnet) {
		return nil
	}
	if def != nil {
		for _, ep := range def.Endpoints {
			if ep.IP.IsValid() {
				return nil // in use: keep it as it is until its containers stop
			}
		}
		deleteBridge(def.Bridge)
	}
	if !gw.IsValid() {
		p, err := m.freeSubnet(def)
		if err != nil {
			return err
		}
		subnet, gw = p, p.Addr().Next()
	}
	if def == nil {
		def = &Network{ID: newID(), Name: "bridge", Created: time.Now().UTC(), Default: true, Endpoints: map[string]*Endpoint{}, Labels: map[string]string{}}
	}
	def.Bridge, def.Subnet, def.Gateway = m.cfg.Bridge, subnet, gw
	def.Options = map[string]string{OptDefaultBridge: "true", OptBridgeName: m.cfg.Bridge,
		"com.docker.network.bridge.enable_icc": "true", "com.docker.network.bridge.enable_ip_masquerade": "true",
		"com.docker.network.bridge.host_binding_ipv4": "0.0.0.0", OptMTU: "1500"}
	m.nets[def.ID] = def
	return def.save(m.cfg.Dir)
}

// pools are the subnets tried for networks created without one,
// Docker's defaults: 172.17-31.0.0/16, then 192.168.0-240.0/20.
func pools() []netip.Prefix {
	var out []netip.Prefix
	for i := 17; i <= 31; i++ {
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{172, byte(i), 0, 0}), 16))
	}
	for i := 0; i < 256; i += 16 {
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 168, byte(i), 0}), 20))
	}
	return out
}

// freeSubnet picks the first pool that overlaps neither a host route nor
// another network (but skip).
func (m *Manager) freeSubnet(skip *Network) (netip.Prefix, error) {
	taken := hostRoutes()
	for _, n := range m.nets {
		if n != skip {
			taken = append(taken, n.Subnet)
		}
	}
	for _, p := range pools() {
		if !slices.ContainsFunc(taken, func(t netip.Prefix) bool { return overlaps(t, p) }) {
			return p, nil
		}
	}
	return netip.Prefix{}, errdefs.ErrUnavailable.WithMessage("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network")
}

func newID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Close stops the DNS servers, releases the held ports and detaches the
// redirect programs (the rules carry on without them). With
// teardown, it also removes every bridge and the nftables table (what a
// test daemon wants; dockerd keeps docker0 and its rules).
func (m *Manager) Close(teardown bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, s := range m.dns {
		s.stop()
		delete(m.dns, id)
	}
	for cid, fds := range m.held {
		for _, fd := range fds {
			unix.Close(fd)
		}
		delete(m.held, cid)
	}
	if m.redirect != nil {
		m.redirect.close()
		m.redirect = nil
	}
	if !teardown {
		return
	}
	for _, n := range m.nets {
		deleteBridge(n.Bridge)
	}
	if m.cfg.NAT {
		m.fw.remove()
	}
}

// List returns copies of the networks.
func (m *Manager) List() []Network {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Network, 0, len(m.nets))
	for _, n := range m.nets {
		out = append(out, copyNetwork(n))
	}
	slices.SortFunc(out, func(a, b Network) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func copyNetwork(n *Network) Network {
	c := *n
	c.Endpoints = map[string]*Endpoint{}
	for k, ep := range n.Endpoints {
		e := *ep
		e.Ports = slices.Clone(ep.Ports)
		e.Aliases = slices.Clone(ep.Aliases)
		c.Endpoints[k] = &e
	}
	return c
}

// Get finds a network by exact name, full ID or unique ID prefix.
func (m *Manager) Get(ref string) (Network, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.find(ref)
	if err != nil {
		return Network{}, err
	}
	return copyNetwork(n), nil
}

func (m *Manager) find(ref string) (*Network, error) {
	if ref == "default" {
		ref = "bridge"
	}
	for _, n := range m.nets {
		if n.Name == ref || n.ID == ref {
			return n, nil
		}
	}
	var found *Network
	for _, n := range m.nets {
		if ref != "" && strings.HasPrefix(n.ID, ref) {
			if found != nil {
				return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("network %s is ambiguous (%d matches found based on ID prefix)", ref, 2))
			}
			found = n
		}
	}
	if found == nil {
		return nil, errdefs.ErrNotFound.WithMessage(fmt.Sprintf("network %s not found", ref))
	}
	return found, nil
}

// CreateOptions is a network create request, Docker's fields.
type CreateOptions struct {
	Name    string
	Subnet  string
	Gateway string
	IPRange string
	// AuxAddresses are addresses to keep out of the IPAM (name → ip).
	AuxAddresses map[string]netip.Addr
	Internal     bool
	Options      map[string]string
	Labels       map[string]string
}

// Create makes a bridge network. Nothing is left behind on failure.
func (m *Manager) Create(o CreateOptions) (Network, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range m.nets {
		if n.Name == o.Name {
			return Network{}, errdefs.ErrConflict.WithMessage(fmt.Sprintf("network with name %s already exists", o.Name))
		}
	}
	n := &Network{ID: newID(), Name: o.Name, Created: time.Now().UTC(), Internal: o.Internal,
		Options: o.Options, Labels: o.Labels, Endpoints: map[string]*Endpoint{}}
	if n.Options == nil {
		n.Options = map[string]string{}
	}
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	if o.Subnet != "" {
		p, err := netip.ParsePrefix(o.Subnet)
		if err != nil || !p.Addr().Is4() {
			if err == nil {
				return Network{}, errdefs.ErrNotImplemented.WithMessage("IPv6 networks are not supported by berth yet")
			}
			return Network{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid CIDR address: %s", o.Subnet))
		}
		if p.Bits() > 30 {
			return Network{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("subnet %s is too small: it has no room for containers", p))
		}
		n.Subnet = p.Masked()
		for _, other := range m.nets {
			if overlaps(other.Subnet, n.Subnet) {
				return Network{}, errdefs.ErrPermissionDenied.WithMessage("Pool overlaps with other one on this address space")
			}
		}
	} else {
		if o.Gateway != "" || o.IPRange != "" {
			return Network{}, errdefs.ErrInvalidArgument.WithMessage("invalid network config: a gateway or ip-range needs a subnet")
		}
		p, err := m.freeSubnet(nil)
		if err != nil {
			return Network{}, err
		}
		n.Subnet = p
	}
	if o.IPRange != "" {
		r, err := netip.ParsePrefix(o.IPRange)
		if err != nil || !r.Addr().Is4() {
			return Network{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid CIDR address: %s", o.IPRange))
		}
		if !n.Subnet.Contains(r.Addr()) || r.Bits() < n.Subnet.Bits() {
			return Network{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid network config: ip-range %s is not within subnet %s", r, n.Subnet))
		}
		n.IPRange = r.Masked()
	}
	n.Gateway = n.Subnet.Addr().Next()
	if o.Gateway != "" {
		g, err := netip.ParseAddr(o.Gateway)
		if err != nil || !g.Is4() {
			return Network{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid gateway address %s", o.Gateway))
		}
		if !n.Subnet.Contains(g) || g == n.Subnet.Addr() || g == lastAddr(n.Subnet) {
			return Network{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("failed to allocate gateway (%s): no configured subnet or ip-range contain the IP address %s", g, g))
		}
		n.Gateway = g
	}
	for name, a := range o.AuxAddresses {
		if !n.Subnet.Contains(a) {
			return Network{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("no matching subnet for aux-address %s", a))
		}
		if n.AuxAddresses == nil {
			n.AuxAddresses = map[string]netip.Addr{}
		}
		n.AuxAddresses[name] = a
	}
	n.Bridge = n.Options[OptBridgeName]
	if n.Bridge == "" {
		n.Bridge = "br-" + n.ID[:12]
	}
	if len(n.Bridge) > 15 {
		return Network{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("bridge name %q is longer than 15 characters", n.Bridge))
	}
	for _, other := range m.nets {
		if other.Bridge == n.Bridge {
			return Network{}, errdefs.ErrConflict.WithMessage(fmt.Sprintf("bridge name %s is in use by network %s", n.Bridge, other.Name))
		}
	}
	if _, err := netlink.LinkByName(n.Bridge); err == nil {
		return Network{}, errdefs.ErrConflict.WithMessage(fmt.Sprintf("a link named %s exists on the host", n.Bridge))
	}
	if s := n.Options[OptMTU]; s != "" {
		mtu, err := strconv.Atoi(s)
		if err != nil || mtu < 68 || mtu > 65535 {
			return Network{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid MTU number: %s", s))
		}
		n.MTU = mtu
	}
	if err := ensureBridge(n.Bridge, n.Gateway, n.Subnet, n.MTU); err != nil {
		deleteBridge(n.Bridge)
		return Network{}, err
	}
	fail := func(err error) (Network, error) {
		delete(m.nets, n.ID)
		deleteBridge(n.Bridge)
		n.removeFiles(m.cfg.Dir)
		if s := m.dns[n.ID]; s != nil {
			s.stop()
			delete(m.dns, n.ID)
		}
		if m.cfg.NAT {
			m.fw.syncNetworks(m.sorted())
		}
		return Network{}, err
	}
	m.nets[n.ID] = n
	if err := n.save(m.cfg.Dir); err != nil {
		return fail(err)
	}
	if m.cfg.NAT {
		if err := m.fw.syncNetworks(m.sorted()); err != nil {
			return fail(err)
		}
	}
	if err := m.startDNS(n); err != nil {
		return fail(err)
	}
	return copyNetwork(n), nil
}

func (m *Manager) sorted() []*Network {
	out := make([]*Network, 0, len(m.nets))
	for _, n := range m.nets {
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b *Network) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (m *Manager) startDNS(n *Network) error {
	if n.Default || m.dns[n.ID] != nil {
		return nil
	}
	id := n.ID
	s, err := startDNS(n.Gateway, func(client netip.Addr, name string) ([]netip.Addr, bool) { return m.resolve(id, client, name) },
		func(client netip.Addr) []string { return m.forwarders(id, client) })
	if err != nil {
		return fmt.Errorf("DNS server of network %s: %w", n.Name, err)
	}
	m.dns[n.ID] = s
	return nil
}

// resolve answers name for the container at address client, asked of
// network id's server: the names, short IDs and aliases of the running
// containers on any of the networks that container is on (this one
// first), as Docker's embedded DNS does, and the names of its links on
// this network (each on its own endpoint's network). A container on
// other networks only gets nothing here from this network's names; the
// host (a gateway address) gets this network's, and any other address
// inside a berth subnet nothing.
func (m *Manager) resolve(id string, client netip.Addr, name string) ([]netip.Addr, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.nets[id]
	if n == nil {
		return nil, false
	}
	var self *Endpoint
	nets := []*Network{n}
	if client.IsValid() {
	find:
		for _, o := range m.nets {
			for _, ep := range o.Endpoints {
				if ep.IP == client {
					self = ep
					break find
				}
			}
		}
	}
	if self == nil && client.IsValid() {
		// no container's address: the host's own (a gateway) gets this
		// network's names; anything else inside a berth subnet (a
		// container with an address of its own making) gets none
		for _, o := range m.nets {
			if o.Subnet.Contains(client) && client != o.Gateway {
				return nil, false
			}
		}
	}
	if self != nil {
		nets = nil
		for _, o := range append([]*Network{n}, m.sorted()...) {
			if ep := o.Endpoints[self.ContainerID]; ep != nil && ep.IP.IsValid() && !o.Default && !slices.Contains(nets, o) {
				nets = append(nets, o)
			}
		}
		// a link is a name on its own endpoint's network
		for _, o := range nets {
			for _, l := range o.Endpoints[self.ContainerID].Links {
				target, alias, _ := strings.Cut(l, ":")
				if alias == "" {
					alias = target
				}
				if strings.EqualFold(alias, name) {
					if out := o.lookup(strings.TrimPrefix(target, "/")); len(out) > 0 {
						return out, true
					}
				}
			}
		}
	}
	for _, o := range nets {
		if out := o.lookup(name); len(out) > 0 {
			return out, true
		}
	}
	return nil, false
}

// lookup finds the running containers on n called name (by name, alias,
// short or full ID).
func (n *Network) lookup(name string) []netip.Addr {
	var out []netip.Addr
	for _, ep := range n.sortedEndpoints() {
		if !ep.IP.IsValid() {
			continue
		}
		match := strings.EqualFold(ep.Name, name) || len(name) == 12 && strings.HasPrefix(ep.ContainerID, name) || strings.EqualFold(ep.ContainerID, name)
		for _, a := range ep.Aliases {
			match = match || strings.EqualFold(a, name)
		}
		if match {
			out = append(out, ep.IP)
		}
	}
	return out
}

// forwarders are the resolvers for the other queries of the container
// at client on network id: its --dns servers, else the host's.
func (m *Manager) forwarders(id string, client netip.Addr) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n := m.nets[id]; n != nil {
		for _, ep := range n.Endpoints {
			if ep.IP == client && len(ep.DNS) > 0 {
				out := make([]string, 0, len(ep.DNS))
				for _, a := range ep.DNS {
					out = append(out, netip.AddrPortFrom(a, 53).String())
				}
				return out
			}
		}
	}
	return m.upstream
}

// Remove removes a network that no running container uses.
func (m *Manager) Remove(ref string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.find(ref)
	if err != nil {
		return err
	}
	if n.Default {
		return errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("%s is a pre-defined network and cannot be removed", n.Name))
	}
	for _, ep := range n.Endpoints {
		if ep.IP.IsValid() {
			return errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("error while removing network: network %s id %s has active endpoints", n.Name, n.ID))
		}
	}
	if s := m.dns[n.ID]; s != nil {
		s.stop()
		delete(m.dns, n.ID)
	}
	delete(m.nets, n.ID)
	var errs []error
	if m.cfg.NAT {
		errs = append(errs, m.fw.syncNetworks(m.sorted()))
	}
	errs = append(errs, deleteBridge(n.Bridge), n.removeFiles(m.cfg.Dir))
	return errors.Join(errs...)
}

// InUse reports whether any container (running or not) is attached.
func (n *Network) InUse() bool { return len(n.Endpoints) > 0 }
