// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Listen opens the listener for one -H address: "unix:///path" (made
// root-only, or root and the "berth" group when that group exists) or
// "tcp://host:port", which needs tlsConfig: berth never serves the API
// in clear text over a network.
func Listen(addr string, tlsConfig *tls.Config) (net.Listener, error) {
	proto, rest, ok := strings.Cut(addr, "://")
	if !ok {
		proto, rest = "unix", addr
		if strings.Contains(addr, ":") && !strings.HasPrefix(addr, "/") {
			proto = "tcp"
		}
	}
	switch proto {
	case "unix":
		return listenUnix(rest)
	case "tcp":
		if tlsConfig == nil {
			return nil, fmt.Errorf("refusing to listen on %s without TLS: give --tlsverify with --tlscacert, --tlscert and --tlskey", addr)
		}
		ln, err := net.Listen("tcp", rest)
		if err != nil {
			return nil, err
		}
		return tls.NewListener(ln, tlsConfig), nil
	}
	return nil, fmt.Errorf("invalid host %q: unsupported protocol %q", addr, proto)
}

func listenUnix(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	// A socket left by a daemon that died is removed; one that answers
	// belongs to a running daemon.
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return nil, fmt.Errorf("another daemon is listening on %s", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, err
	}
	if g, err := user.LookupGroup("berth"); err == nil {
		if gid, err := strconv.Atoi(g.Gid); err == nil {
			os.Chown(path, 0, gid)
			os.Chmod(path, 0o660)
		}
	}
	return ln, nil
}
