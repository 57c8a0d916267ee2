// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/berth-project/berth/internal/cli/client"
	"github.com/berth-project/berth/internal/cli/command"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/term"
)

const defaultDetachKeys = "ctrl-p,ctrl-q"

// streamer copies between the terminal and a hijacked attach or exec
// connection, as docker's hijackedIOStreamer does.
type streamer struct {
	cli        *command.Cli
	in         io.ReadCloser // nil when stdin is not attached
	out, err   io.Writer     // nil when not attached
	resp       client.HijackedResponse
	tty        bool
	detachKeys string
}

// stream runs until the output ends, the user detaches (a term.EscapeError
// is returned) or ctx ends.
func (s *streamer) stream(ctx context.Context) error {
	restore, err := s.setupInput()
	if err != nil {
		return err
	}
	defer restore()

	outDone := make(chan error, 1)
	go func() {
		var err error
		if s.out != nil || s.err != nil {
			out, errw := orDiscard(s.out), orDiscard(s.err)
			if s.tty {
				_, err = io.Copy(out, s.resp.Reader)
				restore() // leave raw mode as soon as the output ends
			} else {
				_, err = stdcopy.StdCopy(out, errw, s.resp.Reader)
			}
		} else {
			_, err = io.Copy(io.Discard, s.resp.Reader)
		}
		outDone <- err
	}()

	inDone := make(chan error, 1)
	go func() {
		if s.in != nil {
			_, err := io.Copy(s.resp.Conn, s.in)
			restore()
			var esc term.EscapeError
			if errors.As(err, &esc) {
				inDone <- err
				return
			}
		}
		s.resp.CloseWrite()
		inDone <- nil
	}()

	select {
	case err := <-outDone:
		return err
	case err := <-inDone:
		if err != nil {
			return err
		}
		select {
		case err := <-outDone:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	case <-ctx.Done():
		return ctx.Err()
	}
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

func (s *streamer) setupInput() (func(), error) {
	if s.in == nil || !s.tty {
		return func() {}, nil
	}
	if err := s.cli.In().SetRawTerminal(); err != nil {
		return nil, fmt.Errorf("unable to set IO streams as raw terminal: %w", err)
	}
	if err := s.cli.Out().SetRawTerminal(); err != nil {
		return nil, fmt.Errorf("unable to set IO streams as raw terminal: %w", err)
	}
	var once sync.Once
	restore := func() {
		once.Do(func() {
			s.cli.Out().RestoreTerminal()
			s.cli.In().RestoreTerminal()
		})
	}
	keys := defaultDetachKeys
	if s.detachKeys != "" {
		keys = s.detachKeys
	}
	esc, err := term.ToBytes(keys)
	if err != nil {
		fmt.Fprintf(s.cli.Err(), "invalid detach escape keys, using default: %s\n", err)
		esc, _ = term.ToBytes(defaultDetachKeys)
	}
	s.in = struct {
		io.Reader
		io.Closer
	}{term.NewEscapeProxy(s.in, esc), s.in}
	return restore, nil
}

// resizeFunc resizes the TTY of a container or exec process.
type resizeFunc func(ctx context.Context, height, width uint) error

// monitorTTYSize sets the initial TTY size (retrying while the process
// starts) and follows SIGWINCH.
func monitorTTYSize(ctx context.Context, cli *command.Cli, resize resizeFunc) {
	apply := func() error {
		h, w := cli.Out().Size()
		if h == 0 && w == 0 {
			return nil
		}
		return resize(ctx, h, w)
	}
	if err := apply(); err != nil {
		go func() {
			for i := 0; i < 10; i++ {
				time.Sleep(time.Duration(i+1) * 10 * time.Millisecond)
				if apply() == nil {
					return
				}
			}
		}()
	}
	ch := make(chan os.Signal, 1)
	notifyWinch(ch)
	go func() {
		defer signal.Stop(ch)
		for {
			select {
			case <-ch:
				apply()
			case <-ctx.Done():
				return
			}
		}
	}()
}

func containerResizer(cl *client.Client, id string) resizeFunc {
	return func(ctx context.Context, h, w uint) error {
		_, err := cl.ContainerResize(ctx, id, client.ContainerResizeOptions{Height: h, Width: w})
		return err
	}
}

func execResizer(cl *client.Client, id string) resizeFunc {
	return func(ctx context.Context, h, w uint) error {
		_, err := cl.ExecResize(ctx, id, client.ExecResizeOptions{Height: h, Width: w})
		return err
	}
}
