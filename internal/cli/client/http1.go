// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package client

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
)

// The client speaks HTTP/1.1 itself, over one connection per request: a
// request is written, and its response read, on the caller's goroutine.
// net/http would do it too, but linking it costs every start of the CLI
// about half a millisecond (its package initialisation brings crypto/tls
// and x509, which a client of a unix socket never uses), and its
// Transport hands every request between three goroutines. What the Engine
// API needs is small: a request with a body of known length (JSON) or a
// stream (a build context, an image to load), sent chunked; a response
// with a length, chunked or ending with the connection; and the upgrade
// of attach and exec (hijack).

// request is one request to the daemon.
type request struct {
	ctx    context.Context
	method string
	path   string // with its query
	host   string // the Host header
	header textproto.MIMEHeader
	body   io.Reader
}

// url is the request's URL, for messages.
func (r *request) url() string { return "http://" + r.host + r.path }

// response is the daemon's answer.
type response struct {
	StatusCode int
	Status     string // "404 Not Found"
	Header     textproto.MIMEHeader
	Body       io.ReadCloser
	Request    *request
}

// write sends req on w: the request line, the header, and the body with
// its length, or chunked when its length is unknown.
func (req *request) write(w io.Writer, close bool) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "%s %s HTTP/1.1\r\nHost: %s\r\n", req.method, req.path, req.host)
	for k, vs := range req.header {
		for _, v := range vs {
			if strings.ContainsAny(k, "\r\n:") || strings.ContainsAny(v, "\r\n") {
				return fmt.Errorf("invalid header %q: %q", k, v)
			}
			fmt.Fprintf(bw, "%s: %s\r\n", k, v)
		}
	}
	if close {
		bw.WriteString("Connection: close\r\n")
	}
	n, known := bodyLength(req.body)
	switch {
	case req.body == nil:
		if req.method == "POST" || req.method == "PUT" {
			bw.WriteString("Content-Length: 0\r\n")
		}
		bw.WriteString("\r\n")
	case known:
		fmt.Fprintf(bw, "Content-Length: %d\r\n\r\n", n)
		if _, err := io.Copy(bw, req.body); err != nil {
			return err
		}
	default:
		bw.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		cw := &chunkedWriter{w: bw}
		if _, err := io.Copy(cw, req.body); err != nil {
			return err
		}
		bw.WriteString("0\r\n\r\n")
	}
	if c, ok := req.body.(io.Closer); ok {
		c.Close()
	}
	return bw.Flush()
}

// bodyLength is the length of a body held in memory.
func bodyLength(body io.Reader) (int64, bool) {
	switch b := body.(type) {
	case *bytes.Reader:
		return int64(b.Len()), true
	case *bytes.Buffer:
		return int64(b.Len()), true
	case *strings.Reader:
		return int64(b.Len()), true
	}
	return 0, false
}

// chunkedWriter writes each Write as one chunk.
type chunkedWriter struct{ w *bufio.Writer }

func (c *chunkedWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	fmt.Fprintf(c.w, "%x\r\n", len(p))
	c.w.Write(p)
	if _, err := c.w.WriteString("\r\n"); err != nil {
		return 0, err
	}
	return len(p), nil
}

// readResponse reads a response's status line and header from br, and
// frames its body: none for HEAD and for 1xx, 204 and 304; by
// Content-Length; chunked; or up to the end of the connection.
func readResponse(br *bufio.Reader, req *request) (*response, error) {
	tp := textproto.NewReader(br)
	line, err := tp.ReadLine()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	proto, status, ok := strings.Cut(line, " ")
	if !ok || !strings.HasPrefix(proto, "HTTP/1.") {
		return nil, fmt.Errorf("malformed HTTP response %q", line)
	}
	codeText, _, _ := strings.Cut(status, " ")
	code, err := strconv.Atoi(codeText)
	if err != nil || code < 100 || code > 999 {
		return nil, fmt.Errorf("malformed HTTP status code %q", codeText)
	}
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	resp := &response{StatusCode: code, Status: status, Header: h, Request: req, Body: io.NopCloser(strings.NewReader(""))}
	switch {
	case req.method == "HEAD", code < 200, code == 204, code == 304:
	case strings.EqualFold(h.Get("Transfer-Encoding"), "chunked"):
		resp.Body = io.NopCloser(&chunkedReader{r: br})
	case h.Get("Content-Length") != "":
		n, err := strconv.ParseInt(strings.TrimSpace(h.Get("Content-Length")), 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("bad Content-Length %q", h.Get("Content-Length"))
		}
		resp.Body = io.NopCloser(&exactReader{r: io.LimitReader(br, n), left: n})
	default:
		resp.Body = io.NopCloser(br)
	}
	return resp, nil
}

// exactReader is a body of a known length: one that ends sooner is an
// error, not a short body.
type exactReader struct {
	r    io.Reader
	left int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF && e.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// chunkedReader decodes a chunked body (RFC 9112, section 7.1); chunk
// extensions and trailers are read and dropped.
type chunkedReader struct {
	r    *bufio.Reader
	left int64 // of the current chunk
	done bool
	err  error
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	for c.left == 0 {
		if c.err != nil {
			return 0, c.err
		}
		if c.done {
			return 0, io.EOF
		}
		if c.err = c.nextChunk(); c.err != nil {
			return 0, c.err
		}
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left == 0 && err == nil {
		err = c.crlf()
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		c.err = err
	}
	return n, err
}

// nextChunk reads a chunk's size line; the last chunk (size 0) is
// followed by the trailer, up to an empty line.
func (c *chunkedReader) nextChunk() error {
	line, err := c.line()
	if err != nil {
		return err
	}
	size, _, _ := strings.Cut(line, ";")
	n, err := strconv.ParseInt(strings.TrimSpace(size), 16, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("malformed chunk size %q", line)
	}
	if n == 0 {
		for {
			l, err := c.line()
			if err != nil {
				return err
			}
			if l == "" {
				break
			}
		}
		c.done = true
		return nil
	}
	c.left = n
	return nil
}

func (c *chunkedReader) line() (string, error) {
	l, err := c.r.ReadSlice('\n')
	if err == io.EOF {
		return "", io.ErrUnexpectedEOF
	}
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(l), "\r\n"), nil
}

func (c *chunkedReader) crlf() error {
	l, err := c.line()
	if err != nil {
		return err
	}
	if l != "" {
		return errors.New("malformed chunked encoding: no CRLF after a chunk")
	}
	return nil
}

// exchanged is a request sent and its response's header read, on a
// connection of the request's own.
type exchanged struct {
	conn net.Conn
	br   *bufio.Reader // the rest of the response
	resp *response
	stop func() bool // ends the closing of conn with the request's context
}

// exchange stage, for the error of an exchange that failed.
const (
	dialFailed = iota + 1
	sendFailed
	readFailed
)

// exchange dials the daemon, sends req (with Connection: close when
// close) and reads the response's header. Until stop is called, the
// connection closes when req's context ends, which ends a write or read
// in progress. A failed exchange says where it failed, with the context's
// error when the context ended it; it leaves nothing open.
func (c *Client) exchange(req *request, close bool) (*exchanged, int, error) {
	ctx := req.ctx
	conn, err := c.dial(ctx, "", "")
	if err != nil {
		if cl, ok := req.body.(io.Closer); ok {
			cl.Close()
		}
		return nil, dialFailed, err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	fail := func(stage int, err error) (*exchanged, int, error) {
		conn.Close()
		if !stop() && ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, stage, err
	}
	br := bufio.NewReader(conn)
	if werr := req.write(conn, close); werr != nil {
		// The daemon may have answered (an error) before it read the
		// whole body.
		resp, err := readResponse(br, req)
		if err != nil {
			return fail(sendFailed, werr)
		}
		return &exchanged{conn: conn, br: br, resp: resp, stop: stop}, 0, nil
	}
	resp, err := readResponse(br, req)
	if err != nil {
		return fail(readFailed, err)
	}
	return &exchanged{conn: conn, br: br, resp: resp, stop: stop}, 0, nil
}

// roundTrip sends req on a connection of its own and returns the
// response, whose body closes the connection.
func (c *Client) roundTrip(req *request) (*response, error) {
	ex, _, err := c.exchange(req, true)
	if err != nil {
		if ctxErr := req.ctx.Err(); err == ctxErr {
			return nil, err
		}
		return nil, &url.Error{Op: methodName(req.method), URL: req.url(), Err: err}
	}
	ex.resp.Body = &connBody{Reader: ex.resp.Body, conn: ex.conn, stop: ex.stop}
	return ex.resp, nil
}

// methodName is the method as net/http's errors name it ("Post").
func methodName(m string) string {
	if m == "" {
		return ""
	}
	return m[:1] + strings.ToLower(m[1:])
}

// connBody closes the response's connection with the body.
type connBody struct {
	io.Reader
	conn net.Conn
	stop func() bool
}

func (b *connBody) Close() error {
	b.stop()
	return b.conn.Close()
}
