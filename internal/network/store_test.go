// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package network

import (
	"net/netip"
	"testing"

	"gotest.tools/v3/assert"
)

func TestAllocate(t *testing.T) {
	n := &Network{Name: "n", Subnet: netip.MustParsePrefix("10.9.0.0/29"), Gateway: netip.MustParseAddr("10.9.0.1"), Endpoints: map[string]*Endpoint{}}
	add := func(id string, static string) (*Endpoint, error) {
		ep := &Endpoint{ContainerID: id}
		if static != "" {
			ep.StaticIP = netip.MustParseAddr(static)
		}
		n.Endpoints[id] = ep
		return ep, n.allocate(ep)
	}
	a, err := add("a", "")
	assert.NilError(t, err)
	assert.Equal(t, a.IP.String(), "10.9.0.2") // not the network address, not the gateway
	s, err := add("s", "10.9.0.4")
	assert.NilError(t, err)
	assert.Equal(t, s.IP.String(), "10.9.0.4")
	b, err := add("b", "")
	assert.NilError(t, err)
	assert.Equal(t, b.IP.String(), "10.9.0.3")
	c, err := add("c", "")
	assert.NilError(t, err)
	assert.Equal(t, c.IP.String(), "10.9.0.5")
	d, err := add("d", "")
	assert.NilError(t, err)
	assert.Equal(t, d.IP.String(), "10.9.0.6")
	_, err = add("e", "")
	assert.ErrorContains(t, err, "no available IPv4 addresses") // .7 is the broadcast address

	// a released address is reused
	b.IP = netip.Addr{}
	delete(n.Endpoints, "e")
	f, err := add("f", "")
	assert.NilError(t, err)
	assert.Equal(t, f.IP.String(), "10.9.0.3")

	_, err = add("g", "10.9.0.3")
	assert.ErrorContains(t, err, "Address already in use")
	_, err = add("h", "10.9.1.3")
	assert.ErrorContains(t, err, "no configured subnet or ip-range contain the IP address 10.9.1.3")
}

func TestAllocateIPRange(t *testing.T) {
	n := &Network{Subnet: netip.MustParsePrefix("10.9.0.0/24"), Gateway: netip.MustParseAddr("10.9.0.1"),
		IPRange: netip.MustParsePrefix("10.9.0.128/25"), Endpoints: map[string]*Endpoint{}}
	ep := &Endpoint{ContainerID: "a"}
	n.Endpoints["a"] = ep
	assert.NilError(t, n.allocate(ep))
	assert.Equal(t, ep.IP.String(), "10.9.0.128")
}

func TestLastAddr(t *testing.T) {
	for p, want := range map[string]string{"10.0.0.0/8": "10.255.255.255", "192.168.1.64/26": "192.168.1.127", "172.17.0.0/16": "172.17.255.255"} {
		assert.Equal(t, lastAddr(netip.MustParsePrefix(p)).String(), want, p)
	}
}
