// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package client

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
)

// serve serves h on a unix socket for the test and returns a client of it.
func serve(t *testing.T, h http.Handler) *Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", sock)
	assert.NilError(t, err)
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	c, err := New(WithHost("unix://"+sock), WithAPIVersion("1.51"))
	assert.NilError(t, err)
	return c
}

// TestHTTP1 sends requests to net/http's server: bodies of known length
// and streamed ones (chunked), and answers framed by length, chunked,
// with no body (HEAD, 204) and up to the close.
func TestHTTP1(t *testing.T) {
	c := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Method", r.Method)
		w.Header().Set("X-Chunked", strings.Join(r.TransferEncoding, ","))
		w.Header().Set("X-Agent", r.UserAgent())
		switch r.URL.Path {
		case "/len":
			w.Header().Set("Content-Length", "5")
			w.Write([]byte("hello"))
		case "/stream":
			for _, part := range []string{"a", "bc", "def"} {
				w.Write([]byte(part))
				w.(http.Flusher).Flush()
			}
			w.Write(body)
		case "/none":
			w.WriteHeader(http.StatusNoContent)
		case "/error":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusConflict)
			w.Write([]byte(`{"message":"it is in use"}`))
		}
	}))
	ctx := context.Background()
	read := func(method, path string, body io.Reader) (*response, string) {
		t.Helper()
		resp, err := c.do(ctx, method, path, body, nil)
		assert.NilError(t, err)
		b, err := io.ReadAll(resp.Body)
		assert.NilError(t, err)
		assert.NilError(t, resp.Body.Close())
		return resp, string(b)
	}
	resp, body := read("GET", "/len", nil)
	assert.Equal(t, body, "hello")
	assert.Equal(t, resp.StatusCode, 200)
	assert.Equal(t, resp.Header.Get("X-Method"), "GET")

	big := strings.Repeat("x", 100_000)
	resp, body = read("POST", "/stream", io.MultiReader(strings.NewReader(big), strings.NewReader("!")))
	assert.Equal(t, body, "abcdef"+big+"!")
	assert.Equal(t, resp.Header.Get("X-Chunked"), "chunked", "a stream is sent chunked")
	resp, body = read("POST", "/stream", bytes.NewReader([]byte("known")))
	assert.Equal(t, body, "abcdefknown")
	assert.Equal(t, resp.Header.Get("X-Chunked"), "", "a body in memory has its length")

	resp, body = read("HEAD", "/len", nil)
	assert.Equal(t, body, "")
	assert.Equal(t, resp.Header.Get("X-Method"), "HEAD")
	resp, body = read("DELETE", "/none", nil)
	assert.Equal(t, resp.StatusCode, 204)
	assert.Equal(t, body, "")

	_, err := c.do(ctx, "POST", "/error", nil, nil)
	assert.Error(t, err, "Error response from daemon: it is in use")
	var ae *apiError
	assert.Assert(t, errors.As(err, &ae))
}

// TestReadResponse feeds readResponse answers net/http's server would not
// send: chunk extensions and a trailer, a body cut short, one that ends
// with the connection, and garbage.
func TestReadResponse(t *testing.T) {
	get := &request{method: "GET", path: "/", host: "h"}
	for _, tc := range []struct {
		name, raw, body, err string
	}{
		{name: "chunked with extensions and trailer",
			raw:  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n",
			body: "abcde"},
		{name: "to the close", raw: "HTTP/1.1 200 OK\r\n\r\nuntil the end", body: "until the end"},
		{name: "length cut short", raw: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", err: "unexpected EOF"},
		{name: "chunk cut short", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", err: "unexpected EOF"},
		{name: "bad chunk size", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", err: "malformed chunk size"},
		{name: "no CRLF after chunk", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY\r\n0\r\n\r\n", err: "malformed chunked encoding"},
		{name: "not HTTP", raw: "SSH-2.0-OpenSSH\r\n\r\n", err: "malformed HTTP response"},
		{name: "bad status", raw: "HTTP/1.1 abc OK\r\n\r\n", err: "malformed HTTP status code"},
		{name: "nothing", raw: "", err: "unexpected EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := readResponse(bufio.NewReader(strings.NewReader(tc.raw)), get)
			var body []byte
			if err == nil {
				body, err = io.ReadAll(resp.Body)
			}
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				return
			}
			assert.NilError(t, err)
			assert.Equal(t, string(body), tc.body)
		})
	}
}

// TestRequestHeaderInjection refuses a header value with a line break.
func TestRequestHeaderInjection(t *testing.T) {
	req := &request{method: "GET", path: "/", host: "h", header: map[string][]string{"X-Registry-Auth": {"a\r\nX-Evil: 1"}}}
	assert.ErrorContains(t, req.write(io.Discard, true), "invalid header")
}
