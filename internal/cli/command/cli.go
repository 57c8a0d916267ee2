// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package command holds what every berth CLI command shares: the standard
// streams, the lazily created Engine API client, the configuration
// directory and the errors that carry an exit status.
package command

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/berth-project/berth/internal/cli/client"
	"github.com/moby/term"
)

// DefaultHost is the daemon address used when neither -H, BERTH_HOST nor
// DOCKER_HOST says otherwise.
const DefaultHost = "unix:///run/berth/berth.sock"

// Cli is the environment a command runs in.
type Cli struct {
	in  *InStream
	out *OutStream
	err io.Writer

	// Host is the daemon address from -H, if given.
	Host string
	// Getenv reads the environment; tests replace it.
	Getenv func(string) string

	client *client.Client
}

// NewCli returns a Cli on the given streams.
func NewCli(in io.ReadCloser, out, errw io.Writer) *Cli {
	return &Cli{in: NewInStream(in), out: NewOutStream(out), err: errw, Getenv: os.Getenv}
}

// In is the standard input.
func (c *Cli) In() *InStream { return c.in }

// Out is the standard output.
func (c *Cli) Out() *OutStream { return c.out }

// Err is the standard error.
func (c *Cli) Err() io.Writer { return c.err }

// DaemonHost is the daemon address in effect: -H, then BERTH_HOST, then
// DOCKER_HOST, then DefaultHost.
func (c *Cli) DaemonHost() string {
	if c.Host != "" {
		return c.Host
	}
	for _, k := range []string{"BERTH_HOST", "DOCKER_HOST"} {
		if v := c.Getenv(k); v != "" {
			return v
		}
	}
	return DefaultHost
}

// Client returns the Engine API client, creating it on first use. The API
// version is negotiated with the daemon unless DOCKER_API_VERSION pins it;
// the negotiation starts at once, in the background, so a command that
// asks for its client before parsing its arguments overlaps the two.
func (c *Cli) Client() (*client.Client, error) {
	if c.client != nil {
		return c.client, nil
	}
	opts := []client.Opt{client.WithHost(c.DaemonHost()), client.WithUserAgent("berth-cli")}
	if v := c.Getenv("DOCKER_API_VERSION"); v != "" {
		opts = append(opts, client.WithAPIVersion(v))
	} else {
		opts = append(opts, client.WithAPIVersionNegotiation())
	}
	cl, err := client.New(opts...)
	if err != nil {
		return nil, err
	}
	cl.Negotiate()
	c.client = cl
	return cl, nil
}

// Close releases the client's connections.
func (c *Cli) Close() {
	if c.client != nil {
		c.client.Close()
	}
}

// ConfigDir is the directory holding config.json: $DOCKER_CONFIG, else
// ~/.docker.
func (c *Cli) ConfigDir() string {
	if d := c.Getenv("DOCKER_CONFIG"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".docker")
}

// StatusError is an error that ends the program with StatusCode. When
// Status is empty nothing is printed.
type StatusError struct {
	Status     string
	StatusCode int
	Cause      error
}

func (e StatusError) Error() string {
	if e.Status == "" && e.Cause != nil {
		return e.Cause.Error()
	}
	return e.Status
}

// Unwrap returns the underlying error.
func (e StatusError) Unwrap() error { return e.Cause }

// InStream is the standard input, with its terminal state.
type InStream struct {
	io.ReadCloser
	fd    uintptr
	isTTY bool
	state *term.State
}

// NewInStream wraps r.
func NewInStream(r io.ReadCloser) *InStream {
	fd, tty := term.GetFdInfo(r)
	return &InStream{ReadCloser: r, fd: fd, isTTY: tty}
}

// IsTerminal reports whether the stream is a terminal.
func (s *InStream) IsTerminal() bool { return s.isTTY }

// FD is the file descriptor of the stream.
func (s *InStream) FD() uintptr { return s.fd }

// SetRawTerminal puts the terminal in raw mode; RestoreTerminal undoes it.
func (s *InStream) SetRawTerminal() error {
	if !s.isTTY {
		return nil
	}
	st, err := term.SetRawTerminal(s.fd)
	s.state = st
	return err
}

// RestoreTerminal restores the mode saved by SetRawTerminal.
func (s *InStream) RestoreTerminal() {
	if s.state != nil {
		term.RestoreTerminal(s.fd, s.state)
		s.state = nil
	}
}

// CheckTty fails like docker when a TTY is asked for but stdin is none.
func (s *InStream) CheckTty(attachStdin, ttyMode bool) error {
	if ttyMode && attachStdin && !s.isTTY {
		return fmt.Errorf("the input device is not a TTY")
	}
	return nil
}

// OutStream is the standard output, with its terminal state.
type OutStream struct {
	io.Writer
	fd    uintptr
	isTTY bool
	state *term.State
}

// NewOutStream wraps w.
func NewOutStream(w io.Writer) *OutStream {
	fd, tty := term.GetFdInfo(w)
	return &OutStream{Writer: w, fd: fd, isTTY: tty}
}

// IsTerminal reports whether the stream is a terminal.
func (s *OutStream) IsTerminal() bool { return s.isTTY }

// FD is the file descriptor of the stream.
func (s *OutStream) FD() uintptr { return s.fd }

// SetRawTerminal puts the output terminal in raw mode (docker does so for
// -t so that the container's output is not post-processed).
func (s *OutStream) SetRawTerminal() error {
	if !s.isTTY {
		return nil
	}
	st, err := term.SetRawTerminalOutput(s.fd)
	s.state = st
	return err
}

// RestoreTerminal restores the mode saved by SetRawTerminal.
func (s *OutStream) RestoreTerminal() {
	if s.state != nil {
		term.RestoreTerminal(s.fd, s.state)
		s.state = nil
	}
}

// Size returns the terminal's height and width, zero when not a terminal.
func (s *OutStream) Size() (height, width uint) {
	if !s.isTTY {
		return 0, 0
	}
	ws, err := term.GetWinsize(s.fd)
	if err != nil || ws == nil {
		return 0, 0
	}
	return uint(ws.Height), uint(ws.Width)
}

// Context is the context type commands pass around.
type Context = context.Context
