// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package network

import (
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// dnsServer answers on a user-defined network's gateway address, port
// 53, UDP and TCP: names of the containers on that network (name, short
// ID, aliases) get their addresses, other names go to the host's
// resolvers.
type dnsServer struct {
	udp, tcp *dns.Server
	pc       net.PacketConn
	ln       net.Listener
}

// resolver answers a name asked by client on a network: ok false means
// "not ours".
type resolver func(client netip.Addr, name string) ([]netip.Addr, bool)

// forwarders names the resolvers a client's other queries go to: its
// --dns servers, or the host's.
type forwarders func(client netip.Addr) []string

func startDNS(addr netip.Addr, lookup resolver, upstream forwarders) (*dnsServer, error) {
	h := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) { serveDNS(w, q, lookup, upstream) })
	pc, err := net.ListenPacket("udp4", netip.AddrPortFrom(addr, 53).String())
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp4", netip.AddrPortFrom(addr, 53).String())
	if err != nil {
		pc.Close()
		return nil, err
	}
	s := &dnsServer{udp: &dns.Server{PacketConn: pc, Handler: h}, tcp: &dns.Server{Listener: ln, Handler: h}, pc: pc, ln: ln}
	go s.udp.ActivateAndServe()
	go s.tcp.ActivateAndServe()
	return s, nil
}

// stop closes the sockets, which ends the serving goroutines (a
// Shutdown right after the start could find the server not started yet
// and leave it running). It does not wait for handlers, which may be
// waiting for the Manager's lock that the caller holds.
func (s *dnsServer) stop() {
	s.pc.Close()
	s.ln.Close()
}

func serveDNS(w dns.ResponseWriter, q *dns.Msg, lookup resolver, upstream forwarders) {
	var client netip.Addr
	if ap, err := netip.ParseAddrPort(w.RemoteAddr().String()); err == nil {
		client = ap.Addr().Unmap()
	}
	if len(q.Question) == 1 {
		qq := q.Question[0]
		name := strings.ToLower(strings.TrimSuffix(qq.Name, "."))
		if addrs, ok := lookup(client, name); ok {
			r := new(dns.Msg)
			r.SetReply(q)
			r.Authoritative = true
			r.RecursionAvailable = true
			if qq.Qtype == dns.TypeA || qq.Qtype == dns.TypeANY {
				for _, a := range addrs {
					r.Answer = append(r.Answer, &dns.A{Hdr: dns.RR_Header{Name: qq.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 600}, A: a.AsSlice()})
				}
			}
			w.WriteMsg(r)
			return
		}
	}
	c := &dns.Client{Net: w.LocalAddr().Network(), Timeout: 3 * time.Second}
	if c.Net == "udp4" {
		c.Net = "udp"
	}
	for _, u := range upstream(client) {
		r, _, err := c.Exchange(q, u)
		if err == nil {
			w.WriteMsg(r)
			return
		}
	}
	r := new(dns.Msg)
	r.SetRcode(q, dns.RcodeServerFailure)
	w.WriteMsg(r)
}

// hostResolvers reads the host's nameservers from /etc/resolv.conf.
func hostResolvers() []string {
	b, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == "nameserver" {
			if a, err := netip.ParseAddr(f[1]); err == nil {
				out = append(out, netip.AddrPortFrom(a, 53).String())
			}
		}
	}
	return out
}
