// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// EndpointConfig is what a container asks of one network.
type EndpointConfig struct {
	StaticIP netip.Addr
	// MAC is the address asked for (--mac-address); without one it is
	// derived from the IPv4 address, as Docker does.
	MAC     net.HardwareAddr
	Aliases []string
	// Links are "name[:alias]" names only this container resolves.
	Links []string
	DNS   []netip.Addr
}

// AddEndpoint records that container cid (named name) is on network ref.
// Nothing is wired until the container starts.
func (m *Manager) AddEndpoint(ref, cid, name string, cfg EndpointConfig) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.find(ref)
	if err != nil {
		return err
	}
	return m.addEndpoint(n, cid, name, cfg)
}

func (m *Manager) addEndpoint(n *Network, cid, name string, cfg EndpointConfig) error {
	if n.Endpoints[cid] != nil {
		return errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("endpoint with name %s already exists in network %s", name, n.Name))
	}
	if n.Default && cfg.StaticIP.IsValid() {
		return errdefs.ErrInvalidArgument.WithMessage("user specified IP address is supported on user defined networks only")
	}
	if n.Default && len(cfg.Aliases) > 0 {
		return errdefs.ErrInvalidArgument.WithMessage("network-scoped alias is supported only for containers in user defined networks")
	}
	if cfg.StaticIP.IsValid() {
		if !cfg.StaticIP.Is4() || !n.Subnet.Contains(cfg.StaticIP) {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Invalid address %s: It does not belong to any of this network's subnets", cfg.StaticIP))
		}
		for _, o := range n.Endpoints {
			if o.StaticIP == cfg.StaticIP {
				return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Address already in use: %s", cfg.StaticIP))
			}
		}
	}
	n.Endpoints[cid] = &Endpoint{ID: newID(), ContainerID: cid, Name: name, StaticIP: cfg.StaticIP, Aliases: cfg.Aliases, Links: cfg.Links, DNS: cfg.DNS}
	if len(cfg.MAC) > 0 {
		n.Endpoints[cid].StaticMAC = cfg.MAC.String()
	}
	if err := n.saveEndpoint(m.cfg.Dir, cid); err != nil {
		delete(n.Endpoints, cid)
		return err
	}
	return nil
}

// RemoveEndpoints forgets container cid on every network (it is removed).
func (m *Manager) RemoveEndpoints(cid string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stop(cid, false)
	for _, n := range m.nets {
		if n.Endpoints[cid] != nil {
			delete(n.Endpoints, cid)
			n.saveEndpoint(m.cfg.Dir, cid)
		}
	}
}

// Rename changes the name container cid is known by.
func (m *Manager) Rename(cid, name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range m.nets {
		if ep := n.Endpoints[cid]; ep != nil {
			ep.Name = name
			n.saveEndpoint(m.cfg.Dir, cid)
		}
	}
}

// Attached is one network of a container, for inspect.
type Attached struct {
	Network  Network // without its endpoints
	Endpoint Endpoint
}

// Endpoints lists the networks container cid is on, by network name.
func (m *Manager) Endpoints(cid string) []Attached {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Attached
	for _, n := range m.sorted() {
		if ep := n.Endpoints[cid]; ep != nil {
			c := *n
			c.Endpoints = nil
			e := *ep
			e.Ports = slices.Clone(ep.Ports)
			out = append(out, Attached{Network: c, Endpoint: e})
		}
	}
	return out
}

// Start wires container cid into the network namespace nsfd (h is a
// netlink handle in it): an address from each of its networks, the first
// (primary) one's gateway as default route, and its published ports on
// the primary network. ports with HostPort 0 get a free port. On failure
// nothing is left.
func (m *Manager) Start(cid, name string, dns []netip.Addr, nsfd int, h *netlink.Handle, primary string, ports []PortMapping) (retErr error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer func() {
		if retErr != nil {
			m.stop(cid, true)
		}
	}()
	p, err := m.find(primary)
	if err != nil {
		return err
	}
	nets := []*Network{p}
	for _, n := range m.sorted() {
		if n != p && n.Endpoints[cid] != nil {
			nets = append(nets, n)
		}
	}
	if p.Endpoints[cid] == nil {
		// the network was made after the container
		if err := m.addEndpoint(p, cid, name, EndpointConfig{DNS: dns}); err != nil {
			return err
		}
	}
	for i, n := range nets {
		ep := n.Endpoints[cid]
		if err := m.plug(n, ep, nsfd, h, fmt.Sprintf("eth%d", i), i == 0); err != nil {
			return err
		}
	}
	if len(ports) > 0 {
		ep := p.Endpoints[cid]
		if p.Internal {
			ports = nil // Docker publishes nothing from an internal network
		}
		for _, pm := range ports {
			fd, hp, err := hold(pm.Proto, pm.HostIP, pm.HostPort)
			for p := pm.HostPort; err != nil && errdefs.IsConflict(err) && p < pm.HostPortEnd; {
				p++
				fd, hp, err = hold(pm.Proto, pm.HostIP, p)
			}
			if err != nil {
				return err
			}
			pm.HostPortEnd = 0
			m.held[cid] = append(m.held[cid], fd)
			pm.HostPort = hp
			ep.Ports = append(ep.Ports, pm)
		}
		if m.cfg.NAT {
			if err := m.fw.addPorts(portRules(cid, ep)); err != nil {
				return err
			}
			m.redirectPorts(cid, portRules(cid, ep))
		}
		if err := p.saveEndpoint(m.cfg.Dir, cid); err != nil {
			return err
		}
	}
	return nil
}

func portRules(cid string, ep *Endpoint) []portRule {
	var out []portRule
	for _, pm := range ep.Ports {
		out = append(out, portRule{cid: cid, ip: ep.IP, PortMapping: pm})
	}
	return out
}

// plug leases an address of n to ep and wires it into the namespace.
func (m *Manager) plug(n *Network, ep *Endpoint, nsfd int, h *netlink.Handle, ifName string, primary bool) error {
	if err := n.allocate(ep); err != nil {
		return err
	}
	mac := macFor(ep.IP)
	if ep.StaticMAC != "" {
		if m, err := net.ParseMAC(ep.StaticMAC); err == nil {
			mac = m
		}
	}
	ep.HostVeth, ep.IfName, ep.MAC = vethName(), ifName, mac.String()
	if err := n.saveEndpoint(m.cfg.Dir, ep.ContainerID); err != nil {
		ep.IP, ep.HostVeth, ep.IfName = netip.Addr{}, "", ""
		return err
	}
	pl := plumb{bridge: n.Bridge, hostVeth: ep.HostVeth, ifName: ifName, addr: netip.PrefixFrom(ep.IP, n.Subnet.Bits()), mtu: n.MTU, mac: mac}
	if primary && !n.Internal {
		pl.gateway = n.Gateway
	}
	if err := wire(h, nsfd, pl); err != nil {
		ep.IP, ep.HostVeth, ep.IfName = netip.Addr{}, "", ""
		n.saveEndpoint(m.cfg.Dir, ep.ContainerID)
		return err
	}
	return nil
}

// Stop releases what container cid's run had: leases, veths, port rules
// and held ports. Its endpoints stay recorded for its next start.
func (m *Manager) Stop(cid string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stop(cid, false)
}

// stop releases cid's run; with now, the veths go before it returns (a
// failed start must leave nothing), else off the exit path.
func (m *Manager) stop(cid string, now bool) {
	hadPorts := false
	for _, n := range m.nets {
		ep := n.Endpoints[cid]
		if ep == nil || !ep.IP.IsValid() && ep.HostVeth == "" && len(ep.Ports) == 0 {
			continue
		}
		hadPorts = hadPorts || len(ep.Ports) > 0
		// The veth usually went with the container's namespace; one that
		// is left (a namespace another container shares) goes now.
		if now {
			unwire(ep.HostVeth)
		} else {
			go unwire(ep.HostVeth)
		}
		ep.IP, ep.HostVeth, ep.IfName, ep.MAC, ep.Ports = netip.Addr{}, "", "", "", nil
		n.saveEndpoint(m.cfg.Dir, cid)
	}
	for _, fd := range m.held[cid] {
		unix.Close(fd)
	}
	delete(m.held, cid)
	if hadPorts && m.cfg.NAT {
		m.unredirectPorts(cid)
		if err := m.fw.delPorts(cid); err != nil {
			m.cfg.Log.Warn("remove port rules", "id", cid, "err", err)
		}
	}
}

// redirectPorts has the host's connections to cid's ports skip NAT;
// where that fails they still go through it.
func (m *Manager) redirectPorts(cid string, rules []portRule) {
	if m.redirect == nil {
		return
	}
	if err := m.redirect.add(cid, rules); err != nil {
		m.cfg.Log.Warn("published ports", "id", cid, "err", err)
	}
}

func (m *Manager) unredirectPorts(cid string) {
	if m.redirect != nil {
		m.redirect.del(cid)
	}
}

// Connect attaches container cid to network ref; when it runs (pid > 0)
// the new interface is wired into its namespace at once.
func (m *Manager) Connect(ref, cid, name string, cfg EndpointConfig, pid int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.find(ref)
	if err != nil {
		return err
	}
	if err := m.addEndpoint(n, cid, name, cfg); err != nil {
		return err
	}
	if pid <= 0 {
		return nil
	}
	h, fd, err := HandleAt(pid)
	if err != nil {
		delete(n.Endpoints, cid)
		n.saveEndpoint(m.cfg.Dir, cid)
		return err
	}
	defer unix.Close(fd)
	defer h.Close()
	used := map[string]bool{}
	for _, o := range m.nets {
		if ep := o.Endpoints[cid]; ep != nil && ep.IfName != "" {
			used[ep.IfName] = true
		}
	}
	ifName := "eth0"
	for i := 0; used[ifName]; i++ {
		ifName = fmt.Sprintf("eth%d", i)
	}
	if err := m.plug(n, n.Endpoints[cid], fd, h, ifName, false); err != nil {
		delete(n.Endpoints, cid)
		n.saveEndpoint(m.cfg.Dir, cid)
		return err
	}
	return nil
}

// Disconnect detaches container cid from network ref, unwiring it if it
// runs.
func (m *Manager) Disconnect(ref, cid string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.find(ref)
	if err != nil {
		return err
	}
	ep := n.Endpoints[cid]
	if ep == nil {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("container %s is not connected to network %s", cid, n.Name))
	}
	if len(ep.Ports) > 0 {
		for _, fd := range m.held[cid] {
			unix.Close(fd)
		}
		delete(m.held, cid)
		if m.cfg.NAT {
			m.unredirectPorts(cid)
			m.fw.delPorts(cid)
		}
	}
	unwire(ep.HostVeth)
	delete(n.Endpoints, cid)
	return n.saveEndpoint(m.cfg.Dir, cid)
}

// Restore reconciles the networks with the containers that survived a
// daemon restart (live: container ID → pid): their leases, port holds
// and rules are kept; those of containers that are gone are released,
// host veths on berth bridges that belong to no live endpoint are
// removed, and the nftables table is rebuilt in one transaction.
func (m *Manager) Restore(live map[string]int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var rules []portRule
	keep := map[string]bool{}
	for _, n := range m.nets {
		var changed []string
		for cid, ep := range n.Endpoints {
			if _, ok := live[cid]; !ok {
				if ep.IP.IsValid() || ep.HostVeth != "" || len(ep.Ports) > 0 {
					ep.IP, ep.HostVeth, ep.IfName, ep.MAC, ep.Ports = netip.Addr{}, "", "", "", nil
					changed = append(changed, cid)
				}
				continue
			}
			keep[ep.HostVeth] = true
			for _, pm := range ep.Ports {
				fd, _, err := hold(pm.Proto, pm.HostIP, pm.HostPort)
				if err != nil {
					m.cfg.Log.Warn("hold published port again", "id", cid, "port", pm.HostPort, "err", err)
					continue
				}
				m.held[cid] = append(m.held[cid], fd)
			}
			rules = append(rules, portRules(cid, ep)...)
			if m.cfg.NAT {
				m.redirectPorts(cid, portRules(cid, ep))
			}
		}
		for _, cid := range changed {
			n.saveEndpoint(m.cfg.Dir, cid)
		}
	}
	var errs []error
	for _, n := range m.nets {
		br, err := netlink.LinkByName(n.Bridge)
		if err != nil {
			continue
		}
		links, _ := netlink.LinkList()
		for _, l := range links {
			if l.Attrs().MasterIndex == br.Attrs().Index && strings.HasPrefix(l.Attrs().Name, "veth") && !keep[l.Attrs().Name] {
				m.cfg.Log.Info("removing a stale veth", "link", l.Attrs().Name, "bridge", n.Bridge)
				errs = append(errs, netlink.LinkDel(l))
			}
		}
		if err := m.startDNS(n); err != nil {
			errs = append(errs, err)
		}
	}
	if m.cfg.NAT {
		errs = append(errs, m.fw.rebuild(m.sorted(), rules))
	}
	return errors.Join(errs...)
}
