// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package container

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/network"
)

// parsePorts turns -p specs ([ip:][hostPort:]containerPort[/proto], each
// port possibly a range) and --expose specs into exposed ports and port
// bindings.
func parsePorts(publish, expose []string) (network.PortSet, network.PortMap, error) {
	exposed := network.PortSet{}
	bindings := network.PortMap{}
	for _, spec := range publish {
		ip, hostPart, ctrPart, err := splitPortSpec(spec)
		if err != nil {
			return nil, nil, err
		}
		ctr, err := network.ParsePortRange(ctrPart)
		if err != nil {
			return nil, nil, fmt.Errorf("invalid containerPort: %s", strings.Split(ctrPart, "/")[0])
		}
		var hostStart, hostEnd uint16
		if hostPart != "" {
			hr, err := network.ParsePortRange(hostPart)
			if err != nil {
				return nil, nil, fmt.Errorf("invalid hostPort: %s", hostPart)
			}
			hostStart, hostEnd = hr.Start(), hr.End()
			ctrLen := ctr.End() - ctr.Start()
			if hostEnd-hostStart != ctrLen && hostStart != hostEnd {
				return nil, nil, fmt.Errorf("invalid ranges specified for container and host Ports: %s and %s", ctrPart, hostPart)
			}
		}
		i := uint16(0)
		for p := range ctr.All() {
			exposed[p] = struct{}{}
			b := network.PortBinding{HostIP: ip}
			if hostPart != "" {
				if hostStart != hostEnd {
					b.HostPort = strconv.Itoa(int(hostStart + i))
				} else if ctr.Start() == ctr.End() {
					b.HostPort = strconv.Itoa(int(hostStart))
				} else {
					b.HostPort = hostPart
				}
			}
			bindings[p] = append(bindings[p], b)
			i++
		}
	}
	for _, e := range expose {
		if strings.Contains(e, ":") {
			return nil, nil, fmt.Errorf("invalid port format for --expose: %s", e)
		}
		pr, err := network.ParsePortRange(e)
		if err != nil {
			return nil, nil, fmt.Errorf("invalid range format for --expose: %s, error: %w", e, err)
		}
		for p := range pr.All() {
			exposed[p] = struct{}{}
		}
	}
	if len(exposed) == 0 {
		exposed = nil
	}
	if len(bindings) == 0 {
		bindings = nil
	}
	return exposed, bindings, nil
}

// splitPortSpec splits [ip:][hostPort:]containerPort[/proto]; an IPv6
// address is written in brackets.
func splitPortSpec(spec string) (ip netip.Addr, host, ctr string, err error) {
	rest := spec
	var ipStr string
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]:")
		if end < 0 {
			return ip, "", "", fmt.Errorf("invalid IP address: %s", spec)
		}
		ipStr, rest = rest[1:end], rest[end+2:]
	}
	parts := strings.Split(rest, ":")
	switch {
	case ipStr != "" && len(parts) == 2:
		host, ctr = parts[0], parts[1]
	case ipStr != "" && len(parts) == 1:
		ctr = parts[0]
	case len(parts) == 1:
		ctr = parts[0]
	case len(parts) == 2:
		host, ctr = parts[0], parts[1]
	case len(parts) == 3:
		ipStr, host, ctr = parts[0], parts[1], parts[2]
	default:
		// An unbracketed IPv6 address: the last two fields are the ports.
		n := len(parts)
		ipStr, host, ctr = strings.Join(parts[:n-2], ":"), parts[n-2], parts[n-1]
	}
	if ipStr != "" {
		if ip, err = netip.ParseAddr(ipStr); err != nil {
			return ip, "", "", fmt.Errorf("invalid IP address: %s", ipStr)
		}
	}
	if ctr == "" {
		return ip, "", "", fmt.Errorf("no port specified: %s<empty>", spec)
	}
	return ip, host, ctr, nil
}
