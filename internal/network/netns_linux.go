// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package network

import (
	"fmt"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// NewNetNS makes a network namespace with its loopback up and returns a
// file descriptor for it, which the caller closes once a process holds
// the namespace (the runtime joins it through /proc/<pid>/fd/<fd>), and a
// netlink handle inside it. Nothing is mounted: the namespace lives as
// long as the descriptor or a process in it, so a crash leaves nothing.
//
// unshare(2) moves only the calling thread into the new namespace, so the
// work happens on a goroutine locked to its thread that never unlocks:
// when it returns the Go runtime ends that thread instead of reusing a
// thread in the wrong namespace.
func NewNetNS() (int, *netlink.Handle, error) {
	type result struct {
		fd  int
		h   *netlink.Handle
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ch <- result{err: fmt.Errorf("new network namespace: %w", err)}
			return
		}
		fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			ch <- result{err: err}
			return
		}
		// a netlink socket belongs to the namespace it was made in
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			unix.Close(fd)
			ch <- result{err: err}
			return
		}
		if err := h.LinkSetUp(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: 1, Name: "lo"}}); err != nil {
			h.Close()
			unix.Close(fd)
			ch <- result{err: fmt.Errorf("loopback up: %w", err)}
			return
		}
		ch <- result{fd: fd, h: h}
	}()
	r := <-ch
	return r.fd, r.h, r.err
}

// HandleAt returns a netlink handle inside the network namespace of the
// process pid.
func HandleAt(pid int) (*netlink.Handle, int, error) {
	fd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/net", pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, -1, err
	}
	h, err := netlink.NewHandleAt(netns.NsHandle(fd))
	if err != nil {
		unix.Close(fd)
		return nil, -1, err
	}
	return h, fd, nil
}
