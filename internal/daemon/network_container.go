// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package daemon

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	ctr "github.com/berth-project/berth/internal/container"
	bnet "github.com/berth-project/berth/internal/network"
)

// openNetworks loads the networks and brings their bridges up.
func (d *Daemon) openNetworks() error {
	m, err := bnet.New(bnet.Config{
		Dir:       filepath.Join(d.cfg.DataRoot, "network"),
		Bridge:    d.cfg.Bridge,
		BIP:       d.cfg.BIP,
		IPForward: d.cfg.IPForward,
		NAT:       d.cfg.IPTables,
		Log:       d.log.With("component", "network"),
	})
	if err != nil {
		return fmt.Errorf("networks: %w", err)
	}
	d.net = m
	return nil
}

// closeNetworks stops the DNS servers. Bridges and rules stay, as
// dockerd leaves docker0: the containers that keep running need them.
func (d *Daemon) closeNetworks() {
	if d.net != nil {
		d.net.Close(false)
	}
}

// restoreNetworks keeps the network state of the containers that still
// run and drops what the others left, after a restart or a crash.
func (d *Daemon) restoreNetworks() {
	live := map[string]int{}
	for _, c := range d.store.List() {
		c.Mu.Lock()
		if c.IsRunning() && c.State.Pid > 0 {
			live[c.ID] = c.State.Pid
		}
		c.Mu.Unlock()
	}
	if err := d.net.Restore(live); err != nil {
		d.log.Warn("restore networks", "err", err)
	}
}

// primaryNetwork is the network a container with its own network
// namespace is on first: "bridge" for the default mode.
func primaryNetwork(hc *containertypes.HostConfig) (string, bool) {
	m := hc.NetworkMode
	switch {
	case m == "" || m == "default" || m == "bridge":
		return "bridge", true
	case m.IsNone() || m.IsHost() || m.IsContainer():
		return "", false
	}
	return string(m), true
}

// checkNetworkMode validates the network mode and the endpoint settings
// before anything is made.
// checkModeConflicts refuses what a UTS or network mode shared with the
// host or another container makes meaningless, with Docker's texts.
func checkModeConflicts(cfg *containertypes.Config, hc *containertypes.HostConfig) error {
	bad := func(what string) error {
		return errdefs.ErrInvalidArgument.WithMessage("conflicting options: " + what)
	}
	if hc.UTSMode.IsHost() && cfg.Hostname != "" {
		return bad("hostname and the UTS mode")
	}
	if !hc.NetworkMode.IsContainer() {
		return nil
	}
	switch {
	case cfg.Hostname != "":
		return bad("hostname and the network mode")
	case len(hc.Links) > 0:
		return bad("container type network can't be used with links. This would result in undefined behavior")
	case len(hc.DNS) > 0:
		return bad("dns and the network mode")
	case len(hc.ExtraHosts) > 0:
		return bad("custom host-to-IP mapping and the network mode")
	case len(hc.PortBindings) > 0 || hc.PublishAllPorts:
		return bad("port publishing and the container type network mode")
	case len(cfg.ExposedPorts) > 0:
		return bad("port exposing and the container type network mode")
	}
	return nil
}

// shareNetworkFiles makes a container that shares another's network
// (--network container:<id>) use that one's hostname, /etc/hosts and
// /etc/resolv.conf, as Docker does at each start. The caller holds c.Mu.
func (d *Daemon) shareNetworkFiles(c *ctr.Container) error {
	if !c.HostConfig.NetworkMode.IsContainer() {
		return nil
	}
	t, err := d.store.Get(c.HostConfig.NetworkMode.ConnectedContainer())
	if err != nil {
		return err
	}
	if t == c {
		return errdefs.ErrInvalidArgument.WithMessage("cannot join own network")
	}
	t.Mu.Lock()
	defer t.Mu.Unlock()
	c.HostnamePath, c.HostsPath, c.ResolvConfPath = t.HostnamePath, t.HostsPath, t.ResolvConfPath
	c.Config.Hostname, c.Config.Domainname = t.Config.Hostname, t.Config.Domainname
	return nil
}

func (d *Daemon) checkNetworkMode(hc *containertypes.HostConfig, nc *network.NetworkingConfig) error {
	m := string(hc.NetworkMode)
	if m == "" {
		hc.NetworkMode = "bridge"
	}
	primary, own := primaryNetwork(hc)
	if nc != nil {
		for _, es := range nc.EndpointsConfig {
			if es == nil || len(es.MacAddress) == 0 {
				continue
			}
			if hc.NetworkMode.IsHost() || hc.NetworkMode.IsContainer() {
				return errdefs.ErrInvalidArgument.WithMessage("conflicting options: mac-address and the network mode")
			}
			if len(es.MacAddress) != 6 || es.MacAddress[0]&1 != 0 {
				return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid MAC address %s: a container's address is a 6-byte unicast one", es.MacAddress))
			}
		}
	}
	if !own {
		if nc != nil {
			for name := range nc.EndpointsConfig {
				if name != m {
					return errdefs.ErrInvalidArgument.WithMessage("conflicting options: network mode " + m + " cannot be combined with other networks")
				}
			}
		}
		if hc.NetworkMode.IsHost() || hc.NetworkMode.IsNone() {
			hc.PortBindings, hc.PublishAllPorts = nil, false
		}
		return nil
	}
	// An unknown network is an error of start, as Docker has it: a 404
	// from create would make the docker CLI try to pull the image.
	_ = primary
	_, err := portMappings(hc, nil)
	return err
}

// recordEndpoints records the container on its networks (create).
func (d *Daemon) recordEndpoints(c *ctr.Container, nc *network.NetworkingConfig) error {
	primary, own := primaryNetwork(c.HostConfig)
	if !own {
		return nil
	}
	cfgs := map[string]*network.EndpointSettings{}
	if nc != nil {
		cfgs = nc.EndpointsConfig
	}
	names := []string{primary}
	for name := range cfgs {
		if n, _ := d.net.Get(name); n.Name != "" && !slices.ContainsFunc(names, func(x string) bool { p, _ := d.net.Get(x); return p.ID == n.ID }) {
			names = append(names, name)
		}
	}
	if _, err := d.net.Get(primary); err != nil {
		names = names[1:] // found at start, or made by then
	}
	for _, name := range names {
		ec := bnet.EndpointConfig{DNS: c.HostConfig.DNS}
		es := cfgs[name]
		if es == nil && name == "bridge" {
			es = cfgs["default"]
		}
		if es != nil {
			if es.IPAMConfig != nil && es.IPAMConfig.IPv4Address.IsValid() {
				ec.StaticIP = es.IPAMConfig.IPv4Address
			}
			ec.Aliases, ec.Links = es.Aliases, es.Links
			ec.MAC = net.HardwareAddr(es.MacAddress)
		}
		if err := d.net.AddEndpoint(name, c.ID, c.ShortName(), ec); err != nil {
			d.net.RemoveEndpoints(c.ID)
			return err
		}
	}
	return nil
}

// portMappings turns -p and -P into the ports to publish. With an
// image's exposed ports in exposed, -P publishes them too.
func portMappings(hc *containertypes.HostConfig, cfg *containertypes.Config) ([]bnet.PortMapping, error) {
	var out []bnet.PortMapping
	add := func(p network.Port, b network.PortBinding) error {
		pm := bnet.PortMapping{Proto: string(p.Proto()), ContainerPort: p.Num(), HostIP: b.HostIP}
		if pm.Proto == "" {
			pm.Proto = "tcp"
		}
		if pm.Proto != "tcp" && pm.Proto != "udp" {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid proto %q: berth publishes tcp and udp ports", pm.Proto))
		}
		if b.HostIP.IsValid() && !b.HostIP.Is4() {
			return nil // no IPv6 yet: Docker skips families it cannot serve
		}
		if b.HostPort != "" {
			lo, hi, isRange := strings.Cut(b.HostPort, "-")
			start, err := strconv.ParseUint(lo, 10, 16)
			if err != nil {
				return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid port specification: %q", b.HostPort))
			}
			pm.HostPort = uint16(start)
			if isRange {
				end, err := strconv.ParseUint(hi, 10, 16)
				if err != nil || end < start {
					return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid port specification: %q", b.HostPort))
				}
				pm.HostPortEnd = uint16(end)
			}
		}
		out = append(out, pm)
		return nil
	}
	keys := make([]network.Port, 0, len(hc.PortBindings))
	for p := range hc.PortBindings {
		keys = append(keys, p)
	}
	slices.SortFunc(keys, func(a, b network.Port) int { return strings.Compare(a.String(), b.String()) })
	for _, p := range keys {
		bs := hc.PortBindings[p]
		if len(bs) == 0 {
			bs = []network.PortBinding{{}}
		}
		for _, b := range bs {
			if err := add(p, b); err != nil {
				return nil, err
			}
		}
	}
	if hc.PublishAllPorts && cfg != nil {
		exposed := make([]network.Port, 0, len(cfg.ExposedPorts))
		for p := range cfg.ExposedPorts {
			if _, ok := hc.PortBindings[p]; !ok {
				exposed = append(exposed, p)
			}
		}
		slices.SortFunc(exposed, func(a, b network.Port) int { return strings.Compare(a.String(), b.String()) })
		for _, p := range exposed {
			if err := add(p, network.PortBinding{}); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// publishNetworkEvents tells the event stream which networks c joins
// (connect, when it starts) or leaves (disconnect, when its run is
// cleaned up), as Docker does for every start and stop: its networks,
// or host or none. The caller holds c.Mu.
func (d *Daemon) publishNetworkEvents(c *ctr.Container, action events.Action) {
	m := c.HostConfig.NetworkMode
	switch {
	case m.IsContainer():
	case m.IsHost():
		d.events.Publish("network", action, networkID("host"), map[string]string{"container": c.ID, "name": "host", "type": "host"})
	case m.IsNone():
		d.events.Publish("network", action, networkID("none"), map[string]string{"container": c.ID, "name": "none", "type": "null"})
	default:
		for _, a := range d.net.Endpoints(c.ID) {
			d.events.Publish("network", action, a.Network.ID, map[string]string{"container": c.ID, "name": a.Network.Name, "type": "bridge"})
		}
	}
}

// netSetup is a container's network namespace while its start wires it.
type netSetup struct {
	fd   int
	h    *netlink.Handle
	path string
	done chan error
}

// setupNetwork starts wiring c's network while the runtime makes the
// container: it makes the namespace at once (its path goes in the spec)
// and plugs the veths and ports in on another goroutine; wait collects
// the result before the container's process runs. nil for the modes
// without a namespace of the daemon's making (host, container:, none).
func (d *Daemon) setupNetwork(c *ctr.Container, links []linked) (*netSetup, error) {
	primary, own := primaryNetwork(c.HostConfig)
	if !own {
		// host and container:<id> use a namespace that exists; none gets
		// a new one from the runtime, which brings its loopback up (as
		// Docker's none has it).
		return nil, nil
	}
	ports, err := portMappings(c.HostConfig, c.Config)
	if err != nil {
		return nil, err
	}
	s, err := newNetSetup()
	if err != nil {
		return nil, err
	}
	go func() {
		err := d.net.Start(c.ID, c.ShortName(), c.HostConfig.DNS, s.fd, s.h, primary, ports)
		if err == nil {
			err = d.writeHosts(c, links)
		}
		s.done <- err
	}()
	return s, nil
}

// newNetSetup makes a network namespace, reachable by the runtime through
// the daemon's descriptor of it.
func newNetSetup() (*netSetup, error) {
	fd, h, err := bnet.NewNetNS()
	if err != nil {
		return nil, err
	}
	return &netSetup{fd: fd, h: h, path: fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), fd), done: make(chan error, 1)}, nil
}

// wait returns the wiring's result.
func (s *netSetup) wait() error {
	if s == nil {
		return nil
	}
	err := <-s.done
	s.done <- err
	return err
}

// close waits for the wiring and lets go of the namespace (the
// container's process holds it now, if it runs).
func (s *netSetup) close() {
	if s == nil {
		return
	}
	s.wait()
	s.h.Close()
	unix.Close(s.fd)
}

func (s *netSetup) nsPath() string {
	if s == nil {
		return ""
	}
	return s.path
}

// hostsHeader is the start of every container's /etc/hosts.
const hostsHeader = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"

// writeHosts writes c's /etc/hosts: the standard names (the host's file
// with --network host), --add-host entries and, on a network, its address
// with its hostname. It rewrites
// the file in place: a running container has it bind-mounted.
func (d *Daemon) writeHosts(c *ctr.Container, links []linked) error {
	hosts := hostsHeader
	if c.HostConfig.NetworkMode.IsHost() {
		// the host's own names, as Docker copies them
		if b, err := os.ReadFile("/etc/hosts"); err == nil {
			hosts = string(b)
			if hosts != "" && !strings.HasSuffix(hosts, "\n") {
				hosts += "\n"
			}
		}
	}
	for _, h := range c.HostConfig.ExtraHosts {
		name, ip, ok := strings.Cut(h, ":")
		if !ok {
			name, ip, ok = strings.Cut(h, "=")
		}
		if !ok {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid argument %q for \"--add-host\" flag", h))
		}
		hosts += ip + "\t" + name + "\n"
	}
	for _, l := range links {
		hosts += l.hostsLine()
	}
	if eps := d.net.Endpoints(c.ID); len(eps) > 0 {
		primary, _ := primaryNetwork(c.HostConfig)
		for _, a := range eps {
			if a.Endpoint.IP.IsValid() && (a.Network.Name == primary || a.Network.ID == primary || a.Endpoint.IfName == "eth0") {
				names := c.Config.Hostname
				if c.Config.Domainname != "" {
					names = c.Config.Hostname + "." + c.Config.Domainname + " " + c.Config.Hostname
				}
				hosts += a.Endpoint.IP.String() + "\t" + names + "\n"
				break
			}
		}
	}
	return os.WriteFile(c.HostsPath, []byte(hosts), 0o644)
}

// dnsNetwork is the user-defined network whose DNS server the container
// asks: its primary network, else the first other one it is on. Each
// server answers for all of the container's networks.
func (d *Daemon) dnsNetwork(c *ctr.Container) (bnet.Network, bool) {
	primary, own := primaryNetwork(c.HostConfig)
	if !own {
		return bnet.Network{}, false
	}
	eps := d.net.Endpoints(c.ID)
	for _, a := range eps {
		if !a.Network.Default && (a.Network.Name == primary || a.Network.ID == primary) {
			return a.Network, true
		}
	}
	for _, a := range eps {
		if !a.Network.Default {
			return a.Network, true
		}
	}
	return bnet.Network{}, false
}

// writeHostFiles writes the container's hostname, hosts and resolv.conf
// (create). On a user-defined network the nameserver is the network's
// DNS server at its gateway; elsewhere the host's resolvers minus
// loopback ones (which the container cannot reach), as Docker does.
// --dns, --dns-search and --dns-option replace the host's.
func (d *Daemon) writeHostFiles(c *ctr.Container) error {
	hostname := c.Config.Hostname
	if hostname == "" {
		hostname = c.ID[:12]
		if c.HostConfig.NetworkMode.IsHost() {
			hostname, _ = os.Hostname()
		}
		c.Config.Hostname = hostname
	}
	if err := os.WriteFile(c.HostnamePath, []byte(hostname+"\n"), 0o644); err != nil {
		return err
	}
	if err := d.writeHosts(c, nil); err != nil {
		return err
	}
	return d.writeResolvConf(c)
}

// writeResolvConf writes the container's resolv.conf (see writeHostFiles),
// also after network connect and disconnect: in place, so a running
// container sees it through its bind mount. The caller holds c.Mu.
func (d *Daemon) writeResolvConf(c *ctr.Container) error {
	hostNet := c.HostConfig.NetworkMode.IsHost()
	if hostNet && len(c.HostConfig.DNS) == 0 && len(c.HostConfig.DNSSearch) == 0 && len(c.HostConfig.DNSOptions) == 0 {
		// the host's own file, loopback resolvers included
		b, _ := os.ReadFile("/etc/resolv.conf")
		return os.WriteFile(c.ResolvConfPath, b, 0o644)
	}
	var servers, search, options, other []string
	if b, err := os.ReadFile("/etc/resolv.conf"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Fields(l)
			switch {
			case len(f) >= 2 && f[0] == "nameserver":
				// (the host's loopback is the container's with --network host)
				if a, err := netip.ParseAddr(f[1]); err == nil && (hostNet || !a.IsLoopback()) {
					servers = append(servers, f[1])
				}
			case len(f) >= 2 && (f[0] == "search" || f[0] == "domain"):
				search = f[1:]
			case len(f) >= 2 && f[0] == "options":
				options = append(options, f[1:]...)
			case len(f) > 0 && !strings.HasPrefix(f[0], "#"):
				other = append(other, l)
			}
		}
	}
	if n, ok := d.dnsNetwork(c); ok {
		// the network's DNS server forwards to the host's resolvers or
		// to the container's --dns ones
		servers = []string{n.Gateway.String()}
	}
	if len(c.HostConfig.DNS) > 0 {
		if primary, own := primaryNetwork(c.HostConfig); !own || primary == "bridge" {
			servers = nil
			for _, s := range c.HostConfig.DNS {
				servers = append(servers, s.String())
			}
		}
	}
	if len(c.HostConfig.DNSSearch) > 0 {
		search = c.HostConfig.DNSSearch
		if len(search) == 1 && search[0] == "." {
			search = nil
		}
	}
	if len(c.HostConfig.DNSOptions) > 0 {
		options = c.HostConfig.DNSOptions
	}
	var out strings.Builder
	for _, l := range other {
		out.WriteString(l + "\n")
	}
	if len(search) > 0 {
		out.WriteString("search " + strings.Join(search, " ") + "\n")
	}
	for _, s := range servers {
		out.WriteString("nameserver " + s + "\n")
	}
	if len(options) > 0 {
		out.WriteString("options " + strings.Join(options, " ") + "\n")
	}
	return os.WriteFile(c.ResolvConfPath, []byte(out.String()), 0o644)
}

// networkSettings is the NetworkSettings section of c's inspect.
func (d *Daemon) networkSettings(c *ctr.Container) *containertypes.NetworkSettings {
	nets, ports := d.containerNetworks(c)
	s := &containertypes.NetworkSettings{Networks: nets, Ports: ports}
	if c.IsRunning() && c.State.Pid > 0 {
		s.SandboxKey = fmt.Sprintf("/proc/%d/ns/net", c.State.Pid)
		s.SandboxID = c.ID
	}
	return s
}

// portSummaries is the Ports column of ps.
func portSummaries(ports network.PortMap) []containertypes.PortSummary {
	out := []containertypes.PortSummary{}
	for p, bs := range ports {
		if len(bs) == 0 {
			out = append(out, containertypes.PortSummary{PrivatePort: p.Num(), Type: string(p.Proto())})
		}
		for _, b := range bs {
			hp, _ := strconv.Atoi(b.HostPort)
			out = append(out, containertypes.PortSummary{IP: b.HostIP, PrivatePort: p.Num(), PublicPort: uint16(hp), Type: string(p.Proto())})
		}
	}
	slices.SortFunc(out, func(a, b containertypes.PortSummary) int {
		if a.PrivatePort != b.PrivatePort {
			return int(a.PrivatePort) - int(b.PrivatePort)
		}
		return strings.Compare(a.Type, b.Type)
	})
	return out
}

// psNetworkFilter reports whether c matches ps's network, publish and
// expose filters.
func (d *Daemon) psNetworkFilter(c *ctr.Container, nets map[string]*network.EndpointSettings, ports network.PortMap, network_, publish, expose []string) bool {
	if len(network_) > 0 {
		ok := false
		for _, v := range network_ {
			for name, es := range nets {
				if v == name || es.NetworkID != "" && strings.HasPrefix(es.NetworkID, v) {
					ok = true
				}
			}
			if v == string(c.HostConfig.NetworkMode) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	match := func(vals []string, published bool) bool {
		for _, v := range vals {
			if !strings.Contains(v, "/") {
				v += "/tcp"
			}
			for p, bs := range ports {
				if published {
					for _, b := range bs {
						if b.HostPort+"/"+string(p.Proto()) == v {
							return true
						}
					}
				} else if p.String() == v {
					return true
				}
			}
		}
		return false
	}
	if len(publish) > 0 && !match(publish, true) || len(expose) > 0 && !match(expose, false) {
		return false
	}
	return true
}
