// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/internal/api/httputils"
	ctr "github.com/berth-project/berth/internal/container"
	bnet "github.com/berth-project/berth/internal/network"
)

// Besides the bridge networks (package network), the daemon has Docker's
// two predefined networks that need no setup: "host" (the host's
// namespace) and "none" (a namespace with loopback only).
var predefinedNetworks = []struct{ name, driver string }{{"host", "host"}, {"none", "null"}}

func networkID(name string) string {
	sum := sha256.Sum256([]byte("berth network " + name))
	return hex.EncodeToString(sum[:])
}

// networkSummaries lists every network; with containers, the inspect
// form with its endpoints.
func (d *Daemon) networkSummaries() []network.Inspect {
	var out []network.Inspect
	for _, n := range d.net.List() {
		out = append(out, d.bridgeInspect(n))
	}
	for _, n := range predefinedNetworks {
		out = append(out, network.Inspect{Network: network.Network{
			Name:       n.name,
			ID:         networkID(n.name),
			Created:    d.started.UTC(),
			Scope:      "local",
			Driver:     n.driver,
			EnableIPv4: true,
			IPAM:       network.IPAM{Driver: "default", Config: []network.IPAMConfig{}},
			Options:    map[string]string{},
			Labels:     map[string]string{},
		}, Containers: map[string]network.EndpointResource{}})
	}
	return out
}

func (d *Daemon) bridgeInspect(n bnet.Network) network.Inspect {
	cfg := network.IPAMConfig{Subnet: n.Subnet, Gateway: n.Gateway, AuxAddress: n.AuxAddresses}
	if n.IPRange.IsValid() {
		cfg.IPRange = n.IPRange
	}
	in := network.Inspect{Network: network.Network{
		Name:       n.Name,
		ID:         n.ID,
		Created:    n.Created,
		Scope:      "local",
		Driver:     "bridge",
		EnableIPv4: true,
		IPAM:       network.IPAM{Driver: "default", Options: map[string]string{}, Config: []network.IPAMConfig{cfg}},
		Internal:   n.Internal,
		Options:    n.Options,
		Labels:     n.Labels,
	}, Containers: map[string]network.EndpointResource{}}
	for cid, ep := range n.Endpoints {
		if !ep.IP.IsValid() {
			continue // Docker lists the containers that run
		}
		r := network.EndpointResource{Name: ep.Name, EndpointID: ep.ID}
		r.IPv4Address = netipPrefix(ep.IP, n.Subnet.Bits())
		if mac, err := net.ParseMAC(ep.MAC); err == nil {
			r.MacAddress = network.HardwareAddr(mac)
		}
		in.Containers[cid] = r
	}
	return in
}

// NetworkList lists the networks.
func (d *Daemon) NetworkList(ctx context.Context, f httputils.Filters) ([]network.Summary, error) {
	for _, v := range f["type"] {
		if v != "custom" && v != "builtin" {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter: 'type'='%s'", v))
		}
	}
	out := []network.Summary{}
	for _, in := range d.networkSummaries() {
		n := in.Network
		if !f.Match("driver", n.Driver) || !f.Match("scope", n.Scope) || !f.MatchLabels("label", n.Labels) {
			continue
		}
		if f.Has("name") && !matchRegexp(f["name"], n.Name) || f.Has("id") && !matchRegexp(f["id"], n.ID) {
			continue
		}
		typ := "custom"
		if n.Name == "bridge" || n.Name == "host" || n.Name == "none" {
			typ = "builtin"
		}
		if f.Has("type") && !f.Match("type", typ) {
			continue
		}
		if f.Has("dangling") {
			dangling := typ == "custom" && len(in.Containers) == 0
			if !f.Match("dangling", fmt.Sprint(dangling)) && !(dangling && f.Match("dangling", "1")) {
				continue
			}
		}
		out = append(out, network.Summary{Network: n})
	}
	return out, nil
}

// NetworkInspect finds a network by name, ID or ID prefix.
func (d *Daemon) NetworkInspect(ctx context.Context, ref string) (network.Inspect, error) {
	all := d.networkSummaries()
	for _, n := range all {
		if n.Name == ref || n.ID == ref {
			return n, nil
		}
	}
	var found []network.Inspect
	for _, n := range all {
		if ref != "" && strings.HasPrefix(n.ID, ref) {
			found = append(found, n)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return network.Inspect{}, errdefs.ErrNotFound.WithMessage(fmt.Sprintf("network %s not found", ref))
	}
	return network.Inspect{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("network %s is ambiguous (%d matches found based on ID prefix)", ref, len(found)))
}

// NetworkCreate makes a bridge network.
func (d *Daemon) NetworkCreate(ctx context.Context, req *network.CreateRequest) (network.CreateResponse, error) {
	if req.Name == "" {
		return network.CreateResponse{}, errdefs.ErrInvalidArgument.WithMessage("invalid name: name is empty")
	}
	switch req.Name {
	case "bridge", "host", "none", "default":
		// moby's text, trailing space included
		return network.CreateResponse{}, errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("operation is not permitted on predefined %s network ", req.Name))
	}
	switch req.Driver {
	case "host", "null":
		return network.CreateResponse{}, errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("only one instance of %q network is allowed", req.Driver))
	case "", "bridge":
	case "macvlan", "ipvlan", "overlay":
		return network.CreateResponse{}, errdefs.ErrNotImplemented.WithMessage(fmt.Sprintf("the %s network driver is not implemented in berth yet", req.Driver))
	default:
		return network.CreateResponse{}, errdefs.ErrNotFound.WithMessage(fmt.Sprintf("plugin %q not found", req.Driver))
	}
	if req.EnableIPv6 != nil && *req.EnableIPv6 {
		return network.CreateResponse{}, errdefs.ErrNotImplemented.WithMessage("IPv6 networks are not supported by berth yet")
	}
	o := bnet.CreateOptions{Name: req.Name, Internal: req.Internal, Options: req.Options, Labels: req.Labels}
	if req.IPAM != nil {
		if req.IPAM.Driver != "" && req.IPAM.Driver != "default" {
			return network.CreateResponse{}, errdefs.ErrNotFound.WithMessage(fmt.Sprintf("plugin %q not found", req.IPAM.Driver))
		}
		switch len(req.IPAM.Config) {
		case 0:
		case 1:
			c := req.IPAM.Config[0]
			if c.Subnet.IsValid() {
				o.Subnet = c.Subnet.String()
			}
			if c.Gateway.IsValid() {
				o.Gateway = c.Gateway.String()
			}
			if c.IPRange.IsValid() {
				o.IPRange = c.IPRange.String()
			}
			o.AuxAddresses = c.AuxAddress
		default:
			return network.CreateResponse{}, errdefs.ErrNotImplemented.WithMessage("berth networks have one IPv4 subnet")
		}
	}
	n, err := d.net.Create(o)
	if err != nil {
		return network.CreateResponse{}, err
	}
	d.events.Publish("network", "create", n.ID, map[string]string{"name": n.Name, "type": "bridge"})
	return network.CreateResponse{ID: n.ID}, nil
}

// NetworkRemove removes a user-defined network no running container is on.
func (d *Daemon) NetworkRemove(ctx context.Context, ref string) error {
	for _, p := range predefinedNetworks {
		if ref == p.name || ref == networkID(p.name) {
			return errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("%s is a pre-defined network and cannot be removed", p.name))
		}
	}
	n, err := d.net.Get(ref)
	if err != nil {
		return err
	}
	if err := d.net.Remove(n.ID); err != nil {
		return err
	}
	d.events.Publish("network", "destroy", n.ID, map[string]string{"name": n.Name, "type": "bridge"})
	return nil
}

// NetworkPrune removes the user-defined networks no container is on.
func (d *Daemon) NetworkPrune(ctx context.Context, f httputils.Filters) (network.PruneReport, error) {
	rep := network.PruneReport{NetworksDeleted: []string{}}
	var until time.Time
	if f.Has("until") {
		t, err := parseUntil(f["until"][0])
		if err != nil {
			return rep, err
		}
		until = t
	}
	for _, n := range d.net.List() {
		if n.Default || n.InUse() || !f.MatchLabels("label", n.Labels) || f.Has("label!") && f.MatchLabels("label!", n.Labels) {
			continue
		}
		if !until.IsZero() && !n.Created.Before(until) {
			continue
		}
		if err := d.net.Remove(n.ID); err == nil {
			rep.NetworksDeleted = append(rep.NetworksDeleted, n.Name)
			d.events.Publish("network", "destroy", n.ID, map[string]string{"name": n.Name, "type": "bridge"})
		}
	}
	return rep, nil
}

// NetworkConnect attaches a container to a network, at once if it runs.
func (d *Daemon) NetworkConnect(ctx context.Context, ref string, req *network.ConnectRequest) error {
	c, err := d.store.Get(req.Container)
	if err != nil {
		return err
	}
	switch ref {
	case "host":
		return errdefs.ErrInvalidArgument.WithMessage("container cannot be disconnected from host network or connected to host network")
	case "none":
		return errdefs.ErrInvalidArgument.WithMessage("container cannot be connected to multiple networks with one of the networks in private (none) mode")
	}
	n, err := d.net.Get(ref)
	if err != nil {
		return err
	}
	c.Mu.Lock()
	defer c.Mu.Unlock()
	if _, own := primaryNetwork(c.HostConfig); !own {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("container sharing network namespace with another container or host cannot be connected to any other network"))
	}
	ec := bnet.EndpointConfig{}
	if es := req.EndpointConfig; es != nil {
		if es.IPAMConfig != nil && es.IPAMConfig.IPv4Address.IsValid() {
			ec.StaticIP = es.IPAMConfig.IPv4Address
		}
		ec.Aliases, ec.Links = es.Aliases, es.Links
		ec.MAC = net.HardwareAddr(es.MacAddress)
	}
	pid := 0
	if c.IsRunning() {
		pid = c.State.Pid
	}
	if err := d.net.Connect(n.ID, c.ID, c.ShortName(), ec, pid); err != nil {
		return err
	}
	if err := d.writeResolvConf(c); err != nil {
		d.log.Warn("update resolv.conf", "id", c.ID, "err", err)
	}
	d.events.Publish("network", "connect", n.ID, map[string]string{"name": n.Name, "type": "bridge", "container": c.ID})
	return nil
}

// NetworkDisconnect detaches a container from a network.
func (d *Daemon) NetworkDisconnect(ctx context.Context, ref string, req *network.DisconnectRequest) error {
	n, err := d.net.Get(ref)
	if err != nil {
		return err
	}
	c, err := d.store.Get(req.Container)
	if err != nil {
		return err
	}
	c.Mu.Lock()
	defer c.Mu.Unlock()
	if err := d.net.Disconnect(n.ID, c.ID); err != nil {
		return err
	}
	if err := d.writeResolvConf(c); err != nil {
		d.log.Warn("update resolv.conf", "id", c.ID, "err", err)
	}
	d.events.Publish("network", "disconnect", n.ID, map[string]string{"name": n.Name, "type": "bridge", "container": c.ID})
	return nil
}

// containerNetworks is the NetworkSettings of c for inspect and ps.
func (d *Daemon) containerNetworks(c *ctr.Container) (map[string]*network.EndpointSettings, network.PortMap) {
	nets := map[string]*network.EndpointSettings{}
	var ports network.PortMap
	switch m := c.HostConfig.NetworkMode; {
	case m.IsHost():
		nets["host"] = &network.EndpointSettings{NetworkID: networkID("host")}
		return nets, network.PortMap{}
	case m.IsNone():
		nets["none"] = &network.EndpointSettings{NetworkID: networkID("none")}
		return nets, network.PortMap{}
	case m.IsContainer():
		return nets, network.PortMap{}
	}
	ports = network.PortMap{}
	for p := range c.Config.ExposedPorts {
		ports[p] = nil
	}
	for p := range c.HostConfig.PortBindings {
		ports[p] = nil
	}
	for _, a := range d.net.Endpoints(c.ID) {
		ep, n := a.Endpoint, a.Network
		es := &network.EndpointSettings{NetworkID: n.ID, Aliases: ep.Aliases, DNSNames: nil}
		if ep.StaticIP.IsValid() {
			es.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: ep.StaticIP}
		}
		if !n.Default {
			es.DNSNames = append([]string{ep.Name}, ep.Aliases...)
			es.DNSNames = append(es.DNSNames, c.ID[:12])
		}
		if ep.IP.IsValid() {
			es.EndpointID = ep.ID
			es.IPAddress = ep.IP
			es.IPPrefixLen = n.Subnet.Bits()
			if ep.IfName == "eth0" && !n.Internal {
				es.Gateway = n.Gateway
			}
			if mac, err := net.ParseMAC(ep.MAC); err == nil {
				es.MacAddress = network.HardwareAddr(mac)
			}
		}
		for _, pm := range ep.Ports {
			p, ok := network.PortFrom(pm.ContainerPort, network.IPProtocol(pm.Proto))
			if !ok {
				continue
			}
			b := network.PortBinding{HostIP: pm.HostIP, HostPort: fmt.Sprint(pm.HostPort)}
			if !b.HostIP.IsValid() {
				b.HostIP = netipUnspecified
			}
			ports[p] = append(ports[p], b)
		}
		nets[n.Name] = es
	}
	return nets, ports
}

var netipUnspecified = netip.IPv4Unspecified()

func netipPrefix(a netip.Addr, bits int) netip.Prefix { return netip.PrefixFrom(a, bits) }
