// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package client is the berth CLI's client of the Docker Engine API: the
// endpoints the CLI uses, with the moby client's method and option names
// (github.com/moby/moby/client), over a unix socket or plain TCP.
//
// The CLI used the moby client itself, but every package a binary links
// is initialised at every start, and the CLI starts once per command: the
// moby client brings github.com/distribution/reference (about ten regular
// expressions compiled at start-up, ~1 ms) and OpenTelemetry. This client
// links the Engine API's wire types (github.com/moby/moby/api) and the
// standard library.
//
// Errors keep the moby client's texts ("Error response from daemon: …"),
// and their class (containerd/errdefs: not found, conflict, …) follows the
// HTTP status, so that the CLI reports them as docker does.
package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"net/url"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/berth-project/berth/internal/api/versions"
	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/common"
)

// MaxAPIVersion is the newest API version the client speaks; with
// negotiation it speaks the daemon's when that is older.
const MaxAPIVersion = "1.56"

// dummyHost is the Host header of requests over a unix socket.
const dummyHost = "api.moby.localhost"

// Client talks to one daemon. It is safe for concurrent use.
type Client struct {
	host      string // as given, such as unix:///run/berth/berth.sock
	proto     string // "unix" or "tcp"
	addr      string // the socket's path, or host:port
	userAgent string

	mu         sync.Mutex
	version    string // pinned, or negotiated
	negotiate  bool
	negotiated chan struct{} // closed once the version is negotiated; nil before, or after a failed ping
}

// Opt configures a Client.
type Opt func(*Client) error

// WithHost sets the daemon's address: unix:///path, tcp://host:port or
// http://host:port.
func WithHost(host string) Opt {
	return func(c *Client) error {
		proto, addr, ok := strings.Cut(host, "://")
		if !ok {
			return fmt.Errorf("unable to parse docker host `%s`", host)
		}
		switch proto {
		case "unix":
		case "tcp", "http":
			proto = "tcp"
		default:
			return fmt.Errorf("protocol not available: %s", proto)
		}
		if addr == "" {
			return fmt.Errorf("unable to parse docker host `%s`", host)
		}
		c.host, c.proto, c.addr = host, proto, addr
		return nil
	}
}

// WithUserAgent sets the User-Agent of every request.
func WithUserAgent(ua string) Opt {
	return func(c *Client) error { c.userAgent = ua; return nil }
}

// WithAPIVersion pins the API version.
func WithAPIVersion(v string) Opt {
	return func(c *Client) error {
		c.version = strings.TrimPrefix(v, "v")
		c.negotiate = false
		return nil
	}
}

// WithAPIVersionNegotiation makes the first request (or Negotiate) ask the
// daemon for its version (HEAD /_ping) and use the older of the daemon's
// and MaxAPIVersion.
func WithAPIVersionNegotiation() Opt {
	return func(c *Client) error { c.negotiate = c.version == ""; return nil }
}

// New returns a client.
func New(opts ...Opt) (*Client, error) {
	c := &Client{}
	if err := WithHost("unix:///var/run/docker.sock")(c); err != nil {
		return nil, err
	}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	if c.version == "" && !c.negotiate {
		c.version = MaxAPIVersion
	}
	return c, nil
}

func (c *Client) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, c.proto, c.addr)
}

// Close releases the client's resources; it keeps no idle connections.
func (c *Client) Close() error { return nil }

// DaemonHost is the daemon's address as given.
func (c *Client) DaemonHost() string { return c.host }

// ClientVersion is the API version in use (after negotiation, if any).
func (c *Client) ClientVersion() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.version
}

// Negotiate starts the version negotiation in the background, when the
// client was asked to negotiate and has not yet: a caller that will send
// a request soon overlaps the round trip with its own work (parsing the
// command line, encoding the request). A ping that fails is tried again
// at the next request.
func (c *Client) Negotiate() {
	if !c.negotiate {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.negotiated != nil {
		return // under way, or done
	}
	done := make(chan struct{})
	c.negotiated = done
	go func() {
		defer close(done)
		resp, err := c.do(context.Background(), "HEAD", "/_ping", nil, nil)
		c.mu.Lock()
		defer c.mu.Unlock()
		c.version = MaxAPIVersion
		if err != nil {
			c.negotiated = nil
			return
		}
		resp.Body.Close()
		if v := resp.Header.Get("Api-Version"); v != "" && versions.Compare(v, MaxAPIVersion) < 0 {
			c.version = v
		}
	}()
}

// apiVersion is the version to use, negotiated first when asked to. A
// daemon that cannot be reached leaves MaxAPIVersion for this request,
// which then reports the connection error.
func (c *Client) apiVersion(ctx context.Context) string {
	if c.negotiate {
		c.Negotiate()
		c.mu.Lock()
		done := c.negotiated
		c.mu.Unlock()
		if done != nil {
			select {
			case <-done:
			case <-ctx.Done():
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version == "" {
		return MaxAPIVersion
	}
	return c.version
}

// apiPath is p under the API version in use, with query.
func (c *Client) apiPath(ctx context.Context, p string, query url.Values) string {
	if v := c.apiVersion(ctx); v != "" {
		p = path.Join("/v"+v, p)
	}
	return (&url.URL{Path: p, RawQuery: query.Encode()}).String()
}

// newRequest makes a request for the daemon; p is already versioned.
func (c *Client) newRequest(ctx context.Context, method, p string, body io.Reader, header textproto.MIMEHeader) *request {
	h := make(textproto.MIMEHeader, len(header)+1)
	for k, v := range header {
		h[k] = v
	}
	h.Set("User-Agent", c.userAgent)
	host := c.addr
	if c.proto == "unix" {
		host = dummyHost
	}
	return &request{ctx: ctx, method: method, path: p, host: host, header: h, body: body}
}

// do sends a request to p (a path with its query) and returns the
// response, or the daemon's error for a status of 400 or more.
func (c *Client) do(ctx context.Context, method, p string, body io.Reader, header textproto.MIMEHeader) (*response, error) {
	resp, err := c.roundTrip(c.newRequest(ctx, method, p, body, header))
	if err != nil {
		return nil, c.connectError(err)
	}
	if err := responseError(resp); err != nil {
		resp.Body.Close()
		return nil, err
	}
	return resp, nil
}

// send is do for the API path p (unversioned) and query.
func (c *Client) send(ctx context.Context, method, p string, query url.Values, body io.Reader, header textproto.MIMEHeader) (*response, error) {
	return c.do(ctx, method, c.apiPath(ctx, p, query), body, header)
}

// jsonBody encodes v as a request body with its header.
func jsonBody(v any) (io.Reader, textproto.MIMEHeader, error) {
	if v == nil {
		return nil, nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, nil, err
	}
	return bytes.NewReader(b), textproto.MIMEHeader{"Content-Type": {"application/json"}}, nil
}

// call sends a request with v (if not nil) as its JSON body and decodes
// the JSON response into out (if not nil).
func (c *Client) call(ctx context.Context, method, p string, query url.Values, v, out any) error {
	body, header, err := jsonBody(v)
	if err != nil {
		return err
	}
	resp, err := c.send(ctx, method, p, query, body, header)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// callRaw is call that also returns the response body as read.
func (c *Client) callRaw(ctx context.Context, method, p string, query url.Values, out any) (json.RawMessage, error) {
	resp, err := c.send(ctx, method, p, query, nil, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return raw, json.Unmarshal(raw, out)
}

// stream sends a request and returns the response body for the caller to
// read and close.
func (c *Client) stream(ctx context.Context, method, p string, query url.Values, body io.Reader, header textproto.MIMEHeader) (io.ReadCloser, error) {
	resp, err := c.send(ctx, method, p, query, body, header)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// connectionFailed is a request that did not reach the daemon.
type connectionFailed struct{ error }

func (e connectionFailed) Unwrap() error { return e.error }

// IsErrConnectionFailed reports whether err is a request that did not
// reach the daemon.
func IsErrConnectionFailed(err error) bool {
	return errors.As(err, &connectionFailed{})
}

// connectError words a failed request as the moby client does.
func (c *Client) connectError(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if errors.Is(err, os.ErrPermission) {
		return connectionFailed{fmt.Errorf("permission denied while trying to connect to the docker API at %v", c.host)}
	}
	if errors.Is(err, os.ErrNotExist) {
		return connectionFailed{fmt.Errorf("failed to connect to the docker API at %v; check if the path is correct and if the daemon is running: %w", c.host, errors.Unwrap(err))}
	}
	var nerr net.Error
	if errors.As(err, &nerr) && (nerr.Timeout() || strings.Contains(nerr.Error(), "connection refused") || strings.Contains(nerr.Error(), "dial unix")) {
		return connectionFailed{fmt.Errorf("Cannot connect to the Docker daemon at %s. Is the docker daemon running?", c.host)}
	}
	return connectionFailed{fmt.Errorf("error during connect: %w", err)}
}

// apiError is the daemon's error: its message, classed by the status.
type apiError struct {
	err   error
	class error
}

func (e *apiError) Error() string   { return e.err.Error() }
func (e *apiError) Unwrap() []error { return []error{e.err, e.class} }

// responseError is the error of a response with a status of 400 or more:
// "Error response from daemon: " and the message of its JSON body.
func responseError(resp *response) error {
	if resp.StatusCode < 400 {
		return nil
	}
	status := resp.Status
	var body []byte
	if resp.Request.method != "HEAD" {
		body, _ = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	}
	var err error
	switch {
	case len(body) == 0:
		err = fmt.Errorf("request returned %s for API route and version %s, check if the server supports the requested API version", status, resp.Request.url())
	case resp.Header.Get("Content-Type") == "application/json":
		var e common.ErrorResponse
		if jerr := json.Unmarshal(body, &e); jerr != nil {
			err = fmt.Errorf("error reading JSON: %w", jerr)
		} else if e.Message == "" {
			err = fmt.Errorf("Error response from daemon: API returned a %d (%s) but provided no error-message", resp.StatusCode, statusText(resp))
		} else {
			err = fmt.Errorf("Error response from daemon: %s", strings.TrimSpace(e.Message))
		}
	default:
		err = fmt.Errorf("Error response from daemon: %s", strings.TrimSpace(string(body)))
	}
	return &apiError{err: err, class: statusClass(resp.StatusCode)}
}

// statusText is the text of resp's status line ("Not Found").
func statusText(resp *response) string {
	_, text, _ := strings.Cut(resp.Status, " ")
	return text
}

// statusClass is the error class of an HTTP status, as containerd's
// errhttp.ToNative has it.
func statusClass(code int) error {
	switch code {
	case 400:
		return errdefs.ErrInvalidArgument
	case 401:
		return errdefs.ErrUnauthenticated
	case 403:
		return errdefs.ErrPermissionDenied
	case 404:
		return errdefs.ErrNotFound
	case 409:
		return errdefs.ErrConflict
	case 412:
		return errdefs.ErrFailedPrecondition
	case 429:
		return errdefs.ErrResourceExhausted
	case 500:
		return errdefs.ErrInternal
	case 501:
		return errdefs.ErrNotImplemented
	case 503:
		return errdefs.ErrUnavailable
	}
	return errdefs.ErrUnknown
}

// HijackedResponse is a connection taken over from HTTP (attach, exec
// start): the stream, and Reader, which holds what was read with the
// response's header.
type HijackedResponse struct {
	Conn      net.Conn
	Reader    *bufio.Reader
	mediaType string
}

// Close closes the connection.
func (h *HijackedResponse) Close() {
	if h.Conn != nil {
		h.Conn.Close()
	}
}

// CloseWrite ends the input of the stream (the daemon reads end of file).
func (h *HijackedResponse) CloseWrite() error {
	if cw, ok := h.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// MediaType is the stream's content type, when the daemon said it.
func (h *HijackedResponse) MediaType() (string, bool) {
	return h.mediaType, h.mediaType != ""
}

// hijack sends a request asking to upgrade its connection to a raw stream
// and returns the stream. The connection is dialled for it alone.
func (c *Client) hijack(ctx context.Context, p string, query url.Values, v any) (HijackedResponse, error) {
	body, header, err := jsonBody(v)
	if err != nil {
		return HijackedResponse{}, err
	}
	req := c.newRequest(ctx, "POST", c.apiPath(ctx, p, query), body, header)
	req.header.Set("Connection", "Upgrade")
	req.header.Set("Upgrade", "tcp")
	ex, stage, err := c.exchange(req, false)
	switch {
	case err == nil:
	case err == ctx.Err():
		return HijackedResponse{}, err
	case stage == readFailed:
		return HijackedResponse{}, fmt.Errorf("error during connect: %w", err)
	default:
		return HijackedResponse{}, c.connectError(err)
	}
	conn, resp := ex.conn, ex.resp
	fail := func(err error) (HijackedResponse, error) {
		conn.Close()
		if !ex.stop() {
			return HijackedResponse{}, ctx.Err()
		}
		return HijackedResponse{}, err
	}
	if resp.StatusCode != 101 {
		err := responseError(resp)
		if err == nil {
			err = fmt.Errorf("unable to upgrade to tcp, received %d", resp.StatusCode)
		}
		return fail(err)
	}
	if !ex.stop() {
		return fail(ctx.Err())
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetKeepAlive(true)
		tc.SetKeepAlivePeriod(30 * time.Second)
	}
	return HijackedResponse{Conn: conn, Reader: ex.br, mediaType: resp.Header.Get("Content-Type")}, nil
}

// Filters are the "filters" query parameter of list, prune and event
// requests: each term's set of values.
type Filters map[string]map[string]bool

// Add adds values to term.
func (f Filters) Add(term string, values ...string) Filters {
	if f[term] == nil {
		f[term] = map[string]bool{}
	}
	for _, v := range values {
		f[term][v] = true
	}
	return f
}

// Clone returns a copy of f.
func (f Filters) Clone() Filters {
	out := make(Filters, len(f))
	for term, values := range f {
		out[term] = make(map[string]bool, len(values))
		for v := range values {
			out[term][v] = true
		}
	}
	return out
}

// set puts f in q, when it has any term.
func (f Filters) set(q url.Values) {
	if len(f) > 0 {
		b, _ := json.Marshal(map[string]map[string]bool(f))
		q.Set("filters", string(b))
	}
}

// prune posts to a prune endpoint with q (may be nil) and filters, and
// decodes its report.
func prune[R any](ctx context.Context, c *Client, path string, q url.Values, f Filters) (R, error) {
	if q == nil {
		q = url.Values{}
	}
	f.set(q)
	var r R
	err := c.call(ctx, "POST", path, q, nil, &r)
	return r, err
}

// query builds url.Values from key, value pairs, leaving out empty values.
func query(kv ...string) url.Values {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	return q
}

// flag is "1" for true and "" (left out) for false.
func flag(b bool) string {
	if b {
		return "1"
	}
	return ""
}
