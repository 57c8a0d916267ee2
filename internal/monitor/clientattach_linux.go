// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package monitor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Streams are an attach client's ends. A nil field is not attached. A
// terminal process's output all goes to Stdout.
type Streams struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Attach copies the process's output (from now on; there is no replay)
// to s.Stdout and s.Stderr and s.Stdin to its stdin, on a connection of
// its own. It returns nil when the output has ended (the process exited),
// ctx.Err() when ctx is done, or an error if the monitor dropped the
// stream (a client that does not keep up is disconnected). When s.Stdin
// ends, the monitor is told (see Config.StdinOnce). A read from s.Stdin
// in progress when Attach returns is left to finish on its own.
func (c *Client) Attach(ctx context.Context, id string, s Streams) error {
	wait, err := c.AttachStart(ctx, id, s)
	if err != nil {
		return err
	}
	return wait()
}

// AttachStart is Attach in two steps: it returns once the monitor has
// attached the streams (output from then on reaches them), and wait
// returns what Attach would. A process not launched yet can be attached
// to: to miss none of an exec process's output, attach first, or right
// after its launch (the intermediate process waits for the runtime
// before it starts anything).
func (c *Client) AttachStart(ctx context.Context, id string, s Streams) (wait func() error, err error) {
	conn, err := dial(c.dir)
	if err != nil {
		return nil, fmt.Errorf("attach %s: %w", id, err)
	}
	req, err := json.Marshal(request{Seq: 1, Op: "attach", ID: id, Stdin: s.Stdin != nil, Stdout: s.Stdout != nil, Stderr: s.Stderr != nil})
	if err == nil {
		_, err = conn.Write(append([]byte{msgRequest}, req...))
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("attach %s: %w", id, err)
	}
	attached := make(chan error, 1)
	result := make(chan error, 1)
	go func() {
		buf := make([]byte, maxMsg)
		replied := false
		end := func(err error) {
			if !replied {
				attached <- err
			} else {
				result <- err
			}
		}
		for {
			n, err := conn.Read(buf)
			if err != nil || n == 0 {
				end(fmt.Errorf("attach %s: stream dropped by the monitor", id))
				return
			}
			var w io.Writer
			switch buf[0] {
			case msgReply:
				var r reply
				if err := json.Unmarshal(buf[1:n], &r); err != nil {
					end(err)
					return
				}
				if err := r.err(); err != nil {
					end(err)
					return
				}
				replied = true
				attached <- nil
				if s.Stdin != nil {
					go sendStdin(conn, s.Stdin)
				}
			case msgStdout:
				w = s.Stdout
			case msgStderr:
				w = s.Stderr
			case msgEnd:
				end(nil)
				return
			}
			if w != nil && replied {
				if _, err := w.Write(buf[1:n]); err != nil {
					end(fmt.Errorf("attach %s: %w", id, err))
					return
				}
			}
		}
	}()
	select {
	case err := <-attached:
		if err != nil {
			conn.Close()
			return nil, err
		}
	case <-ctx.Done():
		conn.Close()
		return nil, ctx.Err()
	}
	return func() error {
		defer conn.Close()
		select {
		case err := <-result:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}, nil
}

// sendStdin copies r to the stream, then marks its end.
func sendStdin(conn interface{ Write([]byte) (int, error) }, r io.Reader) {
	buf := make([]byte, maxData+1)
	buf[0] = msgStdin
	for {
		n, err := r.Read(buf[1:])
		if n > 0 {
			if _, werr := conn.Write(buf[:1+n]); werr != nil {
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				conn.Write([]byte{msgCloseStdin})
			}
			return
		}
	}
}
