// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package jsonlog

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// watcher signals changes in a log's directory (writes, creation and
// renames of files), so that a follower wakes when the log grows or
// rotates instead of polling. See inotify(7).
type watcher struct {
	f      *os.File
	events chan struct{}
}

func newWatcher(dir string) (*watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	const mask = unix.IN_MODIFY | unix.IN_CREATE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_DELETE | unix.IN_CLOSE_WRITE
	if _, err := unix.InotifyAddWatch(fd, dir, mask); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("watch %s: %w", dir, err)
	}
	// A non-blocking fd is read through the runtime's poller, so Close
	// ends the goroutine's Read.
	w := &watcher{f: os.NewFile(uintptr(fd), "inotify"), events: make(chan struct{}, 1)}
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, err := w.f.Read(buf); err != nil {
				return
			}
			select {
			case w.events <- struct{}{}:
			default:
			}
		}
	}()
	return w, nil
}

func (w *watcher) close() { w.f.Close() }
