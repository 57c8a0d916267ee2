// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package network gives containers their networks: Linux bridges with a
// veth pair per container endpoint, an address manager (IPAM) that
// persists its leases, published ports and outbound masquerade done by
// kernel NAT in berth's own nftables table, and a DNS server per
// user-defined network that answers with the names of the containers on
// it and forwards other names to the host's resolvers.
//
// # On disk
//
// Under <data-root>/network/ every network has one file <id>.json: the
// Network type of this package as JSON, its endpoints included (each
// endpoint's address while its container runs is the IPAM lease, so
// leases and networks can never disagree). Files are written by temp
// file and rename. Version 1 of the format; later versions add fields.
//
// # In the kernel
//
// One nftables table per daemon, family ip, named "berth-<default
// bridge>" (so daemons side by side never share one), with the chains
//
//	prerouting, output  nat hooks: fib daddr type local jump ports
//	ports               one dnat rule per published port (user data: the
//	                    container ID), bound to a host address or not
//	postrouting         masquerade: outbound from each non-internal subnet,
//	                    127.0.0.0/8 sources (host to 127.0.0.1:port) and
//	                    DNATed traffic that hairpins back into its bridge
//	forward             isolation: no traffic between two berth bridges
//	                    unless DNATed, none in or out of internal ones
//
// The table is rebuilt in one transaction when the daemon starts, from
// the networks and the endpoints of the containers still running; rules
// of anyone else (Docker's iptables chains included) are never touched.
//
// The host's own TCP connections to a published port skip NAT: two
// cgroup socket-address programs, attached to the cgroup v2 root by BPF
// links that go with the daemon's process, connect them to the container
// directly and report the published address as their peer (see
// redirect_linux.go). The rules above still cover all traffic without
// them.
package network
