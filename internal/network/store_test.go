// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package network

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
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

// TestEndpointFiles keeps each endpoint in a file of its own: adding
// containers leaves the network's file as it was, and loading joins them
// again. A network file of an older berth, endpoints inside, is split on
// load (its endpoints count, not files left from before a downgrade); a
// crash's temporary files and a removed network's endpoints are dropped.
func TestEndpointFiles(t *testing.T) {
	dir := t.TempDir()
	n := &Network{ID: "net1", Name: "n", Subnet: netip.MustParsePrefix("10.9.0.0/24"), Gateway: netip.MustParseAddr("10.9.0.1"), Endpoints: map[string]*Endpoint{}}
	assert.NilError(t, n.save(dir))
	before, err := os.ReadFile(n.path(dir))
	assert.NilError(t, err)
	for i := range 50 {
		cid := fmt.Sprintf("c%02d", i)
		n.Endpoints[cid] = &Endpoint{ID: "e" + cid, ContainerID: cid, Name: cid}
		assert.NilError(t, n.allocate(n.Endpoints[cid]))
		assert.NilError(t, n.saveEndpoint(dir, cid))
	}
	delete(n.Endpoints, "c07")
	assert.NilError(t, n.saveEndpoint(dir, "c07"))
	after, err := os.ReadFile(n.path(dir))
	assert.NilError(t, err)
	assert.Check(t, is.Equal(string(after), string(before)))
	assert.NilError(t, os.WriteFile(filepath.Join(n.endpointsDir(dir), "c99.json.tmp"), []byte("{"), 0o600))

	nets, err := loadNetworks(dir)
	assert.NilError(t, err)
	assert.Check(t, is.Len(nets["net1"].Endpoints, 49))
	got, want := nets["net1"].Endpoints["c12"], n.Endpoints["c12"]
	assert.Check(t, is.Equal(got.Name, want.Name))
	assert.Check(t, got.IP == want.IP && got.IP.IsValid(), "%v, want %v", got.IP, want.IP)
	_, err = os.Stat(filepath.Join(n.endpointsDir(dir), "c99.json.tmp"))
	assert.Check(t, os.IsNotExist(err))

	// an older berth's file: endpoints inside
	old := &Network{ID: "net2", Name: "old", Subnet: netip.MustParsePrefix("10.8.0.0/24"), Gateway: netip.MustParseAddr("10.8.0.1"),
		Endpoints: map[string]*Endpoint{"a": {ID: "ea", ContainerID: "a", Name: "first"}, "b": {ID: "eb", ContainerID: "b", Name: "b"}}}
	b, err := json.Marshal(old)
	assert.NilError(t, err)
	assert.NilError(t, os.WriteFile(old.path(dir), b, 0o600))
	// files left from before a downgrade: the older berth's count
	stale := &Network{ID: "net2", Endpoints: map[string]*Endpoint{"a": {ID: "ea", ContainerID: "a", Name: "stale"}, "z": {ID: "ez", ContainerID: "z"}}}
	assert.NilError(t, stale.saveEndpoint(dir, "a"))
	assert.NilError(t, stale.saveEndpoint(dir, "z"))
	// and a removed network's endpoints that a crash left
	orphan := &Network{ID: "net3", Endpoints: map[string]*Endpoint{"q": {ID: "eq", ContainerID: "q"}}}
	assert.NilError(t, orphan.saveEndpoint(dir, "q"))
	nets, err = loadNetworks(dir)
	assert.NilError(t, err)
	assert.Check(t, is.Len(nets["net2"].Endpoints, 2))
	assert.Check(t, is.Equal(nets["net2"].Endpoints["a"].Name, "first"))
	assert.Check(t, nets["net2"].Endpoints["z"] == nil)
	_, err = os.Stat(orphan.endpointsDir(dir))
	assert.Check(t, os.IsNotExist(err))
	b, err = os.ReadFile(old.path(dir))
	assert.NilError(t, err)
	assert.Check(t, !strings.Contains(string(b), "Endpoints"), "%s", b)
	nets, err = loadNetworks(dir)
	assert.NilError(t, err)
	assert.Check(t, is.Len(nets["net2"].Endpoints, 2))

	assert.NilError(t, nets["net2"].removeFiles(dir))
	_, err = os.Stat(old.endpointsDir(dir))
	assert.Check(t, os.IsNotExist(err))
}
