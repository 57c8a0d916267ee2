// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package network

import (
	"fmt"
	"net/netip"
	"strconv"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// hold reserves a host port with a socket bound (not listening) to it, as
// Docker does: no other program can take the port while a container
// publishes it, and a port another program holds fails with Docker's
// "port is already allocated". Traffic never reaches the socket: DNAT
// sends it to the container first. Port 0 asks the kernel for a free
// ephemeral one; the bound port is returned.
func hold(proto string, ip netip.Addr, port uint16) (int, uint16, error) {
	typ := unix.SOCK_STREAM
	if proto == "udp" {
		typ = unix.SOCK_DGRAM
	}
	fd, err := unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, 0, err
	}
	if !ip.IsValid() {
		ip = netip.IPv4Unspecified()
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: int(port), Addr: ip.As4()}); err != nil {
		unix.Close(fd)
		if err == unix.EADDRINUSE {
			return -1, 0, errdefs.ErrConflict.WithMessage(fmt.Sprintf("Bind for %s failed: port is already allocated", netip.AddrPortFrom(ip, port)))
		}
		if err == unix.EADDRNOTAVAIL {
			return -1, 0, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("listen %s %s: bind: cannot assign requested address", proto, net4(ip, port)))
		}
		return -1, 0, fmt.Errorf("bind %s/%s: %w", net4(ip, port), proto, err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return -1, 0, err
	}
	return fd, uint16(sa.(*unix.SockaddrInet4).Port), nil
}

func net4(ip netip.Addr, port uint16) string {
	return ip.String() + ":" + strconv.Itoa(int(port))
}
