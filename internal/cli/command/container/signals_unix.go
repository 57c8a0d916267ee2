// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

//go:build !windows

package container

import (
	"context"
	"os"
	"os/signal"
	"strings"

	"github.com/berth-project/berth/internal/cli/client"
	"golang.org/x/sys/unix"
)

func notifyWinch(ch chan<- os.Signal) { signal.Notify(ch, unix.SIGWINCH) }

// forwardSignals sends every signal the CLI receives to the container,
// except those the Go runtime or the terminal use (--sig-proxy).
func forwardSignals(ctx context.Context, cl *client.Client, id string) func() {
	ch := make(chan os.Signal, 128)
	go func() {
		// The runtime hands each signal it starts or stops catching to
		// a thread of its own, one at a time: for all of them that is
		// a millisecond or two, spent here while the requests that
		// follow are on their way, and at the end not at all (Stop runs
		// in the background; the forwarding ends with ctx).
		signal.Notify(ch)
		for {
			select {
			case <-ctx.Done():
				return
			case s := <-ch:
				sig, ok := s.(unix.Signal)
				if !ok || sig == unix.SIGCHLD || sig == unix.SIGPIPE || sig == unix.SIGURG || sig == unix.SIGWINCH {
					continue
				}
				name := strings.TrimPrefix(unix.SignalName(sig), "SIG")
				if name == "" {
					continue
				}
				cl.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: name})
			}
		}
	}()
	return func() { go signal.Stop(ch) }
}
