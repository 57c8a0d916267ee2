// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package httputils

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
)

// Hijack takes over the connection of r for a raw stream (attach, exec
// start) and answers the request: "101 UPGRADED" when the client asked to
// upgrade to tcp, as the docker CLI does, else "200 OK". The content type
// is Docker's: raw-stream for a TTY, multiplexed-stream otherwise. The
// caller closes the connection.
func Hijack(w http.ResponseWriter, r *http.Request, multiplexed bool) (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("connection cannot be hijacked")
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	ct := "application/vnd.docker.raw-stream"
	if multiplexed {
		ct = "application/vnd.docker.multiplexed-stream"
	}
	if r.Header.Get("Upgrade") != "" {
		fmt.Fprintf(conn, "HTTP/1.1 101 UPGRADED\r\nContent-Type: %s\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n", ct)
	} else {
		fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n\r\n", ct)
	}
	return conn, rw, nil
}

// Stream ids of Docker's multiplexed stream.
const (
	Stdin  = 0
	Stdout = 1
	Stderr = 2
	System = 3
)

// FrameWriter writes each Write as one frame of Docker's multiplexed
// stream: a header [stream, 0, 0, 0, size (big-endian uint32)], then the
// data.
type FrameWriter struct {
	W      io.Writer
	Stream byte
}

func (f *FrameWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	buf := make([]byte, 8+len(p))
	buf[0] = f.Stream
	n := uint32(len(p))
	buf[4], buf[5], buf[6], buf[7] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	copy(buf[8:], p)
	if _, err := f.W.Write(buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

// FlushWriter flushes after every write, for streamed JSON responses.
type FlushWriter struct {
	W io.Writer
	F http.Flusher
}

func (f FlushWriter) Write(p []byte) (int, error) {
	n, err := f.W.Write(p)
	if f.F != nil {
		f.F.Flush()
	}
	return n, err
}

// NewFlushWriter returns a writer on w that flushes after each write.
func NewFlushWriter(w http.ResponseWriter) FlushWriter {
	f, _ := w.(http.Flusher)
	return FlushWriter{W: w, F: f}
}
