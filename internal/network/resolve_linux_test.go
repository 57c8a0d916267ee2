// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package network

import (
	"net/netip"
	"testing"

	"gotest.tools/v3/assert"
)

// TestResolve: a container gets the names of all its networks and its
// links (each on its own network), nothing of networks it is not on; the
// host (a gateway) gets the asked network's names, other addresses inside
// a berth subnet none.
func TestResolve(t *testing.T) {
	a := netip.MustParseAddr
	n1 := &Network{ID: "n1", Name: "n1", Subnet: netip.MustParsePrefix("10.1.1.0/24"), Gateway: a("10.1.1.1"), Endpoints: map[string]*Endpoint{
		"A": {ContainerID: "A", Name: "a", IP: a("10.1.1.2")},
		"C": {ContainerID: "C", Name: "c", IP: a("10.1.1.3")},
	}}
	n2 := &Network{ID: "n2", Name: "n2", Subnet: netip.MustParsePrefix("10.1.2.0/24"), Gateway: a("10.1.2.1"), Endpoints: map[string]*Endpoint{
		"B": {ContainerID: "B", Name: "b", IP: a("10.1.2.2")},
		"C": {ContainerID: "C", Name: "c", IP: a("10.1.2.3"), Links: []string{"b:bee"}},
	}}
	m := &Manager{nets: map[string]*Network{"n1": n1, "n2": n2}}
	for _, tc := range []struct {
		server, client, name string
		want                 string
	}{
		{"n1", "10.1.1.2", "a", "10.1.1.2"},
		{"n1", "10.1.1.2", "b", ""},           // A is not on n2
		{"n2", "10.1.1.2", "b", ""},           // nor through n2's server
		{"n1", "10.1.1.3", "b", "10.1.2.2"},   // C is on both
		{"n1", "10.1.1.3", "bee", "10.1.2.2"}, // its link, on n2
		{"n1", "10.1.1.2", "bee", ""},         // not A's link
		{"n2", "10.1.2.1", "b", "10.1.2.2"},   // the host
		{"n2", "10.1.2.200", "b", ""},         // an address no endpoint has
		{"n2", "127.0.0.1", "b", "10.1.2.2"},
	} {
		out, ok := m.resolve(tc.server, a(tc.client), tc.name)
		got := ""
		if ok && len(out) > 0 {
			got = out[0].String()
		}
		assert.Equal(t, got, tc.want, "%s asks %s for %s", tc.client, tc.server, tc.name)
	}
}
