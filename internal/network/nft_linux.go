// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package network

import (
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// firewall is berth's nftables table (see the package doc). Every change
// is one netlink transaction: the kernel applies all of it or none.
type firewall struct {
	name string
}

// portRule is one DNAT rule: traffic to hostIP (any local address when
// invalid):hostPort goes to ip:containerPort.
type portRule struct {
	cid string
	ip  netip.Addr
	PortMapping
}

func (f *firewall) table() *nftables.Table {
	return &nftables.Table{Family: nftables.TableFamilyIPv4, Name: f.name}
}

func conn() (*nftables.Conn, error) {
	c, err := nftables.New()
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	return c, nil
}

// rebuild replaces the whole table with one made from nets and ports, in
// one transaction: traffic never sees a half-made table.
func (f *firewall) rebuild(nets []*Network, ports []portRule) error {
	c, err := conn()
	if err != nil {
		return err
	}
	defer c.CloseLasting()
	t := f.table()
	// adding an existing table is no error, deleting a missing one is:
	// add, delete and add again makes a fresh table either way
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)
	accept := nftables.ChainPolicyAccept
	pre := c.AddChain(&nftables.Chain{Name: "prerouting", Table: t, Type: nftables.ChainTypeNAT, Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest})
	out := c.AddChain(&nftables.Chain{Name: "output", Table: t, Type: nftables.ChainTypeNAT, Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityNATDest})
	c.AddChain(&nftables.Chain{Name: "ports", Table: t})
	c.AddChain(&nftables.Chain{Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT, Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
	c.AddChain(&nftables.Chain{Name: "forward", Table: t, Type: nftables.ChainTypeFilter, Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	for _, ch := range []*nftables.Chain{pre, out} {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: concat(fibLocal(), jump("ports"))})
	}
	f.addNetworkRules(c, nets)
	for _, p := range ports {
		c.AddRule(f.dnatRule(p))
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables table %s: %w", f.name, err)
	}
	return nil
}

// syncNetworks replaces the rules that depend on the set of networks.
func (f *firewall) syncNetworks(nets []*Network) error {
	c, err := conn()
	if err != nil {
		return err
	}
	defer c.CloseLasting()
	t := f.table()
	c.FlushChain(&nftables.Chain{Name: "postrouting", Table: t})
	c.FlushChain(&nftables.Chain{Name: "forward", Table: t})
	f.addNetworkRules(c, nets)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables table %s: %w", f.name, err)
	}
	return nil
}

func (f *firewall) addNetworkRules(c *nftables.Conn, nets []*Network) {
	t := f.table()
	post := &nftables.Chain{Name: "postrouting", Table: t}
	fwd := &nftables.Chain{Name: "forward", Table: t}
	loopback := netip.MustParsePrefix("127.0.0.0/8")
	for _, n := range nets {
		// host to 127.0.0.1:port: the container must be able to answer
		c.AddRule(&nftables.Rule{Table: t, Chain: post, Exprs: concat(ifname(expr.MetaKeyOIFNAME, n.Bridge, true), saddrIn(loopback), masq())})
		// hairpin: a container reaching a published port whose
		// container is on the same bridge
		c.AddRule(&nftables.Rule{Table: t, Chain: post, Exprs: concat(ifname(expr.MetaKeyOIFNAME, n.Bridge, true), saddrIn(n.Subnet), ctDNAT(true), masq())})
		if n.Internal {
			c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: concat(ifname(expr.MetaKeyIIFNAME, n.Bridge, true), ifname(expr.MetaKeyOIFNAME, n.Bridge, false), drop())})
			c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: concat(ifname(expr.MetaKeyOIFNAME, n.Bridge, true), ifname(expr.MetaKeyIIFNAME, n.Bridge, false), drop())})
			continue
		}
		// outbound
		c.AddRule(&nftables.Rule{Table: t, Chain: post, Exprs: concat(saddrIn(n.Subnet), ifname(expr.MetaKeyOIFNAME, n.Bridge, false), masq())})
		// isolation: nothing from one berth network to another unless it
		// was sent to a published port
		for _, o := range nets {
			if o != n {
				c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: concat(ifname(expr.MetaKeyIIFNAME, n.Bridge, true), ifname(expr.MetaKeyOIFNAME, o.Bridge, true), ctDNAT(false), drop())})
			}
		}
	}
}

// addPorts adds the DNAT rules of one container.
func (f *firewall) addPorts(rules []portRule) error {
	if len(rules) == 0 {
		return nil
	}
	c, err := conn()
	if err != nil {
		return err
	}
	defer c.CloseLasting()
	for _, r := range rules {
		c.AddRule(f.dnatRule(r))
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("publish ports: %w", err)
	}
	return nil
}

// delPorts removes the DNAT rules of container cid.
func (f *firewall) delPorts(cid string) error {
	c, err := conn()
	if err != nil {
		return err
	}
	defer c.CloseLasting()
	t := f.table()
	rules, err := c.GetRules(t, &nftables.Chain{Name: "ports", Table: t})
	if err != nil {
		return err
	}
	n := 0
	for _, r := range rules {
		if string(r.UserData) == cid {
			c.DelRule(r)
			n++
		}
	}
	if n == 0 {
		return nil
	}
	return c.Flush()
}

// remove deletes the table; a missing one is no error.
func (f *firewall) remove() error {
	c, err := conn()
	if err != nil {
		return err
	}
	defer c.CloseLasting()
	t := f.table()
	c.AddTable(t)
	c.DelTable(t)
	return c.Flush()
}

func (f *firewall) dnatRule(p portRule) *nftables.Rule {
	t := f.table()
	var ex []expr.Any
	if p.HostIP.IsValid() && !p.HostIP.IsUnspecified() {
		ex = append(ex, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.HostIP.AsSlice()})
	}
	proto := byte(unix.IPPROTO_TCP)
	if p.Proto == "udp" {
		proto = unix.IPPROTO_UDP
	}
	ip := p.ip.As4()
	ex = append(ex,
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(p.HostPort)},
		&expr.Immediate{Register: 1, Data: ip[:]},
		&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(p.ContainerPort)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
	)
	return &nftables.Rule{Table: t, Chain: &nftables.Chain{Name: "ports", Table: t}, Exprs: ex, UserData: []byte(p.cid)}
}

func concat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// fibLocal matches packets to an address of the host.
func fibLocal() []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
	}
}

func jump(chain string) []expr.Any {
	return []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: chain}}
}

func masq() []expr.Any { return []expr.Any{&expr.Masq{}} }
func drop() []expr.Any { return []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}} }

// ifname matches (or with eq false, does not match) an interface name.
func ifname(key expr.MetaKey, name string, eq bool) []expr.Any {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	op := expr.CmpOpEq
	if !eq {
		op = expr.CmpOpNeq
	}
	return []expr.Any{&expr.Meta{Key: key, Register: 1}, &expr.Cmp{Op: op, Register: 1, Data: b}}
}

// saddrIn matches a source address within p.
func saddrIn(p netip.Prefix) []expr.Any {
	m := make([]byte, 4)
	for i := 0; i < p.Bits(); i++ {
		m[i/8] |= 0x80 >> (i % 8)
	}
	net := p.Masked().Addr().As4()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: m, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: net[:]},
	}
}

// ctDNAT matches connections that were (or with set false, were not)
// destination-NATed.
func ctDNAT(set bool) []expr.Any {
	op := expr.CmpOpNeq
	if !set {
		op = expr.CmpOpEq
	}
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATUS},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binaryutil.NativeEndian.PutUint32(0x20), Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: op, Register: 1, Data: []byte{0, 0, 0, 0}},
	}
}
