// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/berth-project/berth/internal/testutil"
)

// api sends a raw request to the shared daemon and returns the status and
// the error message of the body (or the body).
func api(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return net.Dial("unix", shared.Sock)
	}}}
	req, err := http.NewRequest(method, "http://berth"+path, strings.NewReader(body))
	assert.NilError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	assert.NilError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct{ Message string }
	if json.Unmarshal(b, &e) == nil && e.Message != "" {
		return resp.StatusCode, e.Message
	}
	return resp.StatusCode, string(b)
}

func TestAPIBadInput(t *testing.T) {
	testutil.RequiresRoot(t)
	before := ok(t, "ps", "-aq")
	for _, tc := range []struct {
		method, path, body string
		code               int
		msg                string
	}{
		{"GET", "/containers/nosuch/json", "", 404, "No such container: nosuch"},
		{"GET", "/images/nosuch/json", "", 404, "No such image: nosuch"},
		{"DELETE", "/containers/nosuch", "", 404, "No such container: nosuch"},
		{"POST", "/containers/create", "{bad json", 400, "invalid"},
		{"POST", "/containers/create", `{"Image":"busybox","Cmd":["true"],"HostConfig":{"CpuQuota":-5}}`, 400, "CPU cfs quota can not be less than 1ms"},
		{"POST", "/containers/create", `{"Image":"busybox","Cmd":["true"],"HostConfig":{"Memory":1000}}`, 400, "Minimum memory limit allowed is 6MB"},
		{"POST", "/containers/create", `{"Image":"busybox","Cmd":["true"],"HostConfig":{"RestartPolicy":{"Name":"bogus"}}}`, 400, "invalid restart policy"},
		{"POST", "/containers/create", `{"Image":"busybox","Cmd":["true"],"HostConfig":{"AutoRemove":true,"RestartPolicy":{"Name":"always"}}}`, 400, "can't create 'AutoRemove' container with restart policy"},
		{"POST", "/containers/create?name=bad%20name", `{"Image":"busybox","Cmd":["true"]}`, 400, "Invalid container name"},
		{"POST", "/containers/create", `{"Image":"nosuchimage","Cmd":["true"]}`, 404, "No such image: nosuchimage"},
		{"POST", "/containers/create", strings.Repeat(" ", 17<<20) + "{}", 400, "too large"},
		{"GET", "/v1.12/version", "", 400, "client version 1.12 is too old"},
		{"GET", "/v9.99/version", "", 400, "client version 9.99 is too new"},
		{"GET", "/containers/json?filters=notjson", "", 400, "invalid filter"},
		{"GET", "/containers/json?filters=%7B%22bogus%22%3A%5B%22x%22%5D%7D", "", 400, "invalid filter 'bogus'"},
		{"POST", "/containers/nosuch/wait?condition=sometime", "", 400, "invalid condition"},
		{"GET", "/nosuch/route", "", 404, "page not found"},
	} {
		code, msg := api(t, tc.method, tc.path, tc.body)
		assert.Equal(t, code, tc.code, "%s %s: %s", tc.method, tc.path, msg)
		assert.Check(t, is.Contains(msg, tc.msg), "%s %s", tc.method, tc.path)
	}
	assert.Equal(t, ok(t, "ps", "-aq"), before, "a bad request left a container behind")
}

func TestPing(t *testing.T) {
	testutil.RequiresRoot(t)
	code, body := api(t, "GET", "/_ping", "")
	assert.Equal(t, code, 200)
	assert.Equal(t, body, "OK")
	code, _ = api(t, "HEAD", "/_ping", "")
	assert.Equal(t, code, 200)
}
