// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package network

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ensureBridge makes the bridge name with the gateway address on the
// subnet, up, or adopts one that exists (a daemon restart).
// route_localnet lets packets from 127.0.0.1 that were DNATed to a
// container leave through it (they are masqueraded on the way).
func ensureBridge(name string, gw netip.Addr, subnet netip.Prefix, mtu int) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if !errors.As(err, &nf) {
			return err
		}
		la := netlink.NewLinkAttrs()
		la.Name = name
		if mtu > 0 {
			la.MTU = mtu
		}
		br := &netlink.Bridge{LinkAttrs: la}
		if err := netlink.LinkAdd(br); err != nil {
			return fmt.Errorf("create bridge %s: %w", name, err)
		}
		if link, err = netlink.LinkByName(name); err != nil {
			return err
		}
	} else if _, ok := link.(*netlink.Bridge); !ok {
		return fmt.Errorf("%s exists and is not a bridge", name)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: gw.AsSlice(), Mask: net.CIDRMask(subnet.Bits(), 32)}}
	if err := netlink.AddrReplace(link, addr); err != nil {
		return fmt.Errorf("address of bridge %s: %w", name, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return err
	}
	return writeSysctl("net/ipv4/conf/"+name+"/route_localnet", "1")
}

// deleteBridge removes the bridge; a missing one is no error.
func deleteBridge(name string) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return nil
	}
	return netlink.LinkDel(link)
}

func writeSysctl(key, val string) error {
	return os.WriteFile("/proc/sys/"+key, []byte(val), 0o644)
}

// vethName is a new host-side veth name, "veth" and 7 hex digits as
// Docker's.
func vethName() string {
	b := make([]byte, 4)
	rand.Read(b)
	return "veth" + hex.EncodeToString(b)[:7]
}

// plumb is what wiring one endpoint into a namespace needs.
type plumb struct {
	bridge   string
	hostVeth string
	ifName   string
	addr     netip.Prefix
	gateway  netip.Addr // invalid: no default route
	mtu      int
	mac      net.HardwareAddr
}

// wire makes the veth pair with its container side in the namespace nsfd
// (h is a handle inside it), plugs the host side into the bridge and
// configures the container side: address, up, default route.
func wire(h *netlink.Handle, nsfd int, p plumb) error {
	br, err := netlink.LinkByName(p.bridge)
	if err != nil {
		return fmt.Errorf("bridge %s: %w", p.bridge, err)
	}
	la := netlink.NewLinkAttrs()
	la.Name = p.hostVeth
	la.MasterIndex = br.Attrs().Index
	la.Flags = net.FlagUp
	if p.mtu > 0 {
		la.MTU = p.mtu
	}
	veth := &netlink.Veth{LinkAttrs: la, PeerName: p.ifName, PeerNamespace: netlink.NsFd(nsfd), PeerHardwareAddr: p.mac}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("create veth %s: %w", p.hostVeth, err)
	}
	fail := func(err error) error {
		if l, e := netlink.LinkByName(p.hostVeth); e == nil {
			netlink.LinkDel(l)
		}
		return err
	}
	peer, err := h.LinkByName(p.ifName)
	if err != nil {
		return fail(err)
	}
	if err := h.AddrAdd(peer, &netlink.Addr{IPNet: &net.IPNet{IP: p.addr.Addr().AsSlice(), Mask: net.CIDRMask(p.addr.Bits(), 32)}}); err != nil {
		return fail(fmt.Errorf("address %s: %w", p.addr, err))
	}
	if err := h.LinkSetUp(peer); err != nil {
		return fail(err)
	}
	if p.gateway.IsValid() {
		r := &netlink.Route{LinkIndex: peer.Attrs().Index, Gw: p.gateway.AsSlice(), Family: unix.AF_INET}
		if err := h.RouteAdd(r); err != nil {
			return fail(fmt.Errorf("default route via %s: %w", p.gateway, err))
		}
	}
	return nil
}

// unwire removes a host-side veth (its peer goes with it); a missing one
// is no error.
func unwire(hostVeth string) {
	if hostVeth == "" {
		return
	}
	if l, err := netlink.LinkByName(hostVeth); err == nil {
		netlink.LinkDel(l)
	}
}

// macFor derives the container's MAC address from its IPv4 address as
// Docker does (02:42 and the four address bytes).
func macFor(a netip.Addr) net.HardwareAddr {
	b := a.As4()
	return net.HardwareAddr{0x02, 0x42, b[0], b[1], b[2], b[3]}
}

// hostRoutes lists the IPv4 destinations routed on the host, to keep new
// subnets from colliding with them.
func hostRoutes() []netip.Prefix {
	routes, err := netlink.RouteList(nil, unix.AF_INET)
	if err != nil {
		return nil
	}
	var out []netip.Prefix
	for _, r := range routes {
		if r.Dst == nil {
			continue // the default route collides with nothing
		}
		ones, _ := r.Dst.Mask.Size()
		if a, ok := netip.AddrFromSlice(r.Dst.IP.To4()); ok && ones > 0 {
			out = append(out, netip.PrefixFrom(a, ones).Masked())
		}
	}
	return out
}
