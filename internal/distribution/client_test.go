// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package distribution

import (
	"net/http"
	"testing"

	"github.com/containerd/errdefs"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

func TestPlainHTTPAllowed(t *testing.T) {
	c := &Client{Insecure: []string{"registry.lan:5000", "plain.example", "10.1.0.0/16"}}
	for host, want := range map[string]bool{
		"localhost":          true,
		"localhost:5000":     true,
		"127.0.0.1:5000":     true,
		"127.8.9.10":         true,
		"[::1]:5000":         true,
		"::1":                true,
		"registry.lan:5000":  true,
		"registry.lan:5001":  false,
		"registry.lan":       false,
		"plain.example:443":  true,
		"10.1.2.3:5000":      true,
		"10.2.0.1:5000":      false,
		"192.168.1.10:5000":  false, // private, but Docker wants it listed
		"docker.io":          false,
		"index.docker.io":    false,
		"localhost.evil.com": false,
		"127.0.0.1.nip.io":   false,
	} {
		assert.Check(t, is.Equal(c.plainHTTPAllowed(host), want), host)
	}
	assert.Check(t, !(&Client{}).plainHTTPAllowed("10.1.2.3:5000"))
}

// The transport refuses plain HTTP to a registry that may not use it
// before any connection is made (no traffic leaves this machine).
func TestPolicyTransportRefusesPlainHTTP(t *testing.T) {
	c := &Client{}
	req, err := http.NewRequest(http.MethodGet, "http://192.168.1.10:5000/v2/", nil)
	assert.NilError(t, err)
	_, err = policyTransport{c}.RoundTrip(req)
	assert.Check(t, errdefs.IsUnavailable(err), "%v", err)
	assert.Check(t, is.ErrorContains(err, "refusing plain HTTP to registry 192.168.1.10:5000"))
}
