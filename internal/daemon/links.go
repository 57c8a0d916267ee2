// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package daemon

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	ctr "github.com/berth-project/berth/internal/container"
)

// Legacy container links (--link name[:alias]), as Docker keeps them on
// the default bridge: the linking container's /etc/hosts names the
// linked one (alias, hostname, name) and its process gets variables that
// describe it (ALIAS_PORT_80_TCP_ADDR and the like). On a user-defined
// network the docker CLI sends links as the endpoint's Links instead,
// and they are names only that container's DNS queries resolve.
//
// HostConfig.Links holds them as Docker's inspect shows them,
// "/<linked name>:/<container name>/<alias>", from create on.

// parseLink splits "name[:alias]" (or the inspect form) into the linked
// container's name and the alias.
func parseLink(s string) (name, alias string, err error) {
	name, alias, _ = strings.Cut(s, ":")
	name = strings.TrimPrefix(name, "/")
	if alias == "" {
		alias = name
	}
	alias = path.Base(alias)
	if name == "" || alias == "" || alias == "." || alias == "/" {
		return "", "", errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid link %q: want name[:alias]", s))
	}
	return name, alias, nil
}

// checkLinks validates the links of a container being created (named
// name) and returns them in inspect's form, and by ID. On a user-defined
// network links are names only (the endpoint's), not checked, as in
// Docker.
func (d *Daemon) checkLinks(hc *containertypes.HostConfig, name string) ([]string, []ctr.Link, error) {
	if len(hc.Links) == 0 {
		return nil, nil, nil
	}
	switch {
	case hc.NetworkMode.IsHost():
		return nil, nil, errHostNetworkAndLinks
	case hc.NetworkMode.IsContainer():
		return nil, nil, errdefs.ErrInvalidArgument.WithMessage("conflicting options: container type network can't be used with links. This would result in undefined behavior")
	}
	if primary, own := primaryNetwork(hc); own && primary != "bridge" {
		return hc.Links, nil, nil
	}
	out := make([]string, 0, len(hc.Links))
	var ids []ctr.Link
	for _, l := range hc.Links {
		child, alias, err := parseLink(l)
		if err != nil {
			return nil, nil, err
		}
		c, err := d.store.Get(child)
		if err != nil {
			if errdefs.IsNotFound(err) {
				// not a 404: the docker CLI would take it for a missing
				// image and try to pull it
				err = errdefs.ErrInvalidArgument.WithMessage(err.Error())
			}
			return nil, nil, fmt.Errorf("could not get container for %s: %w", child, err)
		}
		c.Mu.Lock()
		host := c.HostConfig.NetworkMode.IsHost()
		cname := c.Name
		c.Mu.Unlock()
		if host {
			return nil, nil, errHostNetworkAndLinks
		}
		out = append(out, cname+":"+path.Join("/", name, alias))
		ids = append(ids, ctr.Link{ID: c.ID, Alias: alias})
	}
	return out, ids, nil
}

var errHostNetworkAndLinks = errdefs.ErrInvalidArgument.WithMessage("conflicting options: host type networking can't be used with links. This would result in undefined behavior")

// linked is a container c links to, as it runs on the default bridge.
type linked struct {
	alias    string
	name     string // inspect's "/<container>/<alias>"
	ip       string
	hostname string
	cname    string // its name without "/"
	env      []string
	ports    []network.Port
}

// linkedContainers finds c's linked containers for its start; each must
// run. Only the default bridge has links of this kind. The caller holds
// c.Mu.
func (d *Daemon) linkedContainers(c *ctr.Container) ([]linked, error) {
	if len(c.Links) == 0 {
		return nil, nil
	}
	if primary, own := primaryNetwork(c.HostConfig); !own || primary != "bridge" {
		return nil, nil
	}
	var out []linked
	for _, l := range c.Links {
		if l.ID == c.ID {
			continue
		}
		child, err := d.store.Get(l.ID)
		if errdefs.IsNotFound(err) {
			continue // removed since: the link went with it, as in Docker
		}
		if err != nil {
			return nil, err
		}
		lk := linked{alias: l.Alias, name: path.Join("/", c.ShortName(), l.Alias)}
		// c.Mu is held: never wait for the linked container's lock (it
		// may be starting too, and link back to c)
		if !tryLock(&child.Mu, time.Second) {
			return nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("Cannot link to %s: it is busy (starting or stopping)", child.Name))
		}
		running := child.IsRunning()
		lk.cname, lk.hostname = child.ShortName(), child.Config.Hostname
		lk.env = slices.Clone(child.Config.Env)
		for p := range child.Config.ExposedPorts {
			lk.ports = append(lk.ports, p)
		}
		child.Mu.Unlock()
		if !running {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Cannot link to a non running container: /%s AS %s", lk.cname, lk.name))
		}
		for _, a := range d.net.Endpoints(child.ID) {
			if a.Network.Default && a.Endpoint.IP.IsValid() {
				lk.ip = a.Endpoint.IP.String()
			}
		}
		if lk.ip == "" {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Cannot link to /%s, as it is not on the default bridge network", lk.cname))
		}
		out = append(out, lk)
	}
	return out, nil
}

// tryLock locks mu within d, or gives up.
func tryLock(mu *sync.Mutex, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !mu.TryLock() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

// hostsLine is the /etc/hosts line for a linked container: its alias,
// its hostname and its name (when the alias is not the name).
func (l linked) hostsLine() string {
	names := l.alias + " " + l.hostname
	if l.alias != l.cname {
		names += " " + l.cname
	}
	return l.ip + "\t" + names + "\n"
}

// environment is what Docker tells the linking process about a linked
// container: its lowest exposed port (TCP first), each exposed port, its
// name and its environment (but HOME and PATH).
func (l linked) environment() []string {
	alias := strings.ToUpper(strings.ReplaceAll(l.alias, "-", "_"))
	ports := slices.Clone(l.ports)
	slices.SortFunc(ports, func(a, b network.Port) int {
		if c := cmp.Compare(a.Num(), b.Num()); c != 0 {
			return c
		}
		return cmp.Compare(protoRank(a), protoRank(b))
	})
	var env []string
	if len(ports) > 0 {
		p := ports[0]
		env = append(env, fmt.Sprintf("%s_PORT=%s://%s:%d", alias, p.Proto(), l.ip, p.Num()))
	}
	for _, p := range ports {
		pre := fmt.Sprintf("%s_PORT_%d_%s", alias, p.Num(), strings.ToUpper(string(p.Proto())))
		env = append(env,
			fmt.Sprintf("%s=%s://%s:%d", pre, p.Proto(), l.ip, p.Num()),
			fmt.Sprintf("%s_ADDR=%s", pre, l.ip),
			fmt.Sprintf("%s_PORT=%d", pre, p.Num()),
			fmt.Sprintf("%s_PROTO=%s", pre, p.Proto()))
	}
	env = append(env, fmt.Sprintf("%s_NAME=%s", alias, l.name))
	for _, v := range l.env {
		k, val, ok := strings.Cut(v, "=")
		if !ok || k == "HOME" || k == "PATH" {
			continue
		}
		env = append(env, fmt.Sprintf("%s_ENV_%s=%s", alias, k, val))
	}
	return env
}

// linkEnv is the environment of all of links, in order.
func linkEnv(links []linked) []string {
	var env []string
	for _, l := range links {
		env = append(env, l.environment()...)
	}
	return env
}

// protoRank puts TCP before the other protocols of the same port.
func protoRank(p network.Port) int {
	if p.Proto() == "tcp" {
		return 0
	}
	return 1
}
