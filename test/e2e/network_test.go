// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package e2e

import (
	"bufio"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/google/nftables"
	"github.com/miekg/dns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/berth-project/berth/internal/testutil"
)

// Traffic in these tests goes only to 127.0.0.1 and to addresses on the
// bridges the test daemons made. busybox httpd serves the container's
// /etc, so GET /hostname answers with the serving container's hostname.

// newNetwork creates a user-defined network on a free subnet of d.
func newNetwork(t *testing.T, d *testutil.Daemon, name string, extra ...string) netip.Prefix {
	t.Helper()
	sub := testutil.FreeSubnet()
	okOn(t, d, append([]string{"network", "create", "--subnet", sub.String()}, append(extra, name)...)...)
	t.Cleanup(func() { dockerIn(t, d, nil, "network", "rm", name) })
	return sub
}

// httpGet fetches url from the host, retrying refused connections for a
// moment (the server in the container may still be starting).
func httpGet(t *testing.T, url string) string {
	t.Helper()
	return httpGetWithin(t, url, 3*time.Second)
}

// httpGetWithin is httpGet retrying for at most d.
func httpGetWithin(t *testing.T, url string, d time.Duration) string {
	t.Helper()
	c := http.Client{Timeout: 3 * time.Second}
	deadline := time.Now().Add(d)
	for {
		resp, err := c.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return strings.TrimSpace(string(b))
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fetchIn runs wget in a new container on network net and returns what
// it printed and its exit code.
func fetchIn(t *testing.T, d *testutil.Daemon, network, url string) (string, int) {
	t.Helper()
	r := dockerIn(t, d, nil, "run", "--rm", "--network", network, "busybox", "sh", "-c", "wget -qO- "+url)
	return strings.TrimSpace(r.Stdout), r.Code
}

// canConnect reports whether a container on network reaches addr:port
// over TCP within two seconds.
func canConnect(t *testing.T, d *testutil.Daemon, network, addr string, port int) bool {
	t.Helper()
	r := dockerIn(t, d, nil, "run", "--rm", "--network", network, "busybox", "sh", "-c", fmt.Sprintf("echo | nc -w 2 %s %d", addr, port))
	return r.Code == 0
}

func gateway(d *testutil.Daemon) string { return d.Subnet.Addr().Next().String() }

func ipOf(t *testing.T, d *testutil.Daemon, ctr, network string) string {
	t.Helper()
	return okOn(t, d, "inspect", "-f", fmt.Sprintf("{{(index .NetworkSettings.Networks %q).IPAddress}}", network), ctr)
}

func TestNetworkUserDefinedDNSAndIsolation(t *testing.T) {
	testutil.RequiresRoot(t)
	d := shared
	n1 := newNetwork(t, d, "tn-front")
	n2 := newNetwork(t, d, "tn-back")
	rmOnCleanup(t, "tn-web", "tn-other")
	id := okOn(t, d, "run", "-d", "--name", "tn-web", "--hostname", "webhost", "--network", "tn-front", "--network-alias", "www", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
	okOn(t, d, "run", "-d", "--name", "tn-other", "--network", "tn-back", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
	webIP := ipOf(t, d, "tn-web", "tn-front")
	assert.Assert(t, n1.Contains(netip.MustParseAddr(webIP)), webIP)
	assert.Assert(t, n2.Contains(netip.MustParseAddr(ipOf(t, d, "tn-other", "tn-back"))))

	// by name, alias and short ID through the network's DNS server
	for _, name := range []string{"tn-web", "www", id[:12]} {
		out, code := fetchIn(t, d, "tn-front", "http://"+name+"/hostname")
		assert.Equal(t, code, 0, name)
		assert.Equal(t, out, "webhost", name)
	}
	resolv := okOn(t, d, "run", "--rm", "--network", "tn-front", "busybox", "cat", "/etc/resolv.conf")
	assert.Assert(t, is.Contains(resolv, "nameserver "+n1.Addr().Next().String()))
	// the other network neither resolves nor reaches it
	_, code := fetchIn(t, d, "tn-back", "http://tn-web/hostname")
	assert.Assert(t, code != 0)
	assert.Assert(t, !canConnect(t, d, "tn-back", webIP, 80), "tn-back reached tn-front")
	assert.Assert(t, canConnect(t, d, "tn-front", webIP, 80))

	// network inspect lists the running container
	var nets []struct {
		Containers map[string]struct{ Name, IPv4Address string }
		IPAM       struct {
			Config []struct{ Subnet, Gateway string }
		}
	}
	assert.NilError(t, json.Unmarshal([]byte(okOn(t, d, "network", "inspect", "tn-front")), &nets))
	assert.Equal(t, nets[0].Containers[id].Name, "tn-web")
	assert.Equal(t, nets[0].Containers[id].IPv4Address, webIP+"/24")
	assert.Equal(t, nets[0].IPAM.Config[0].Subnet, n1.String())
	ls := okOn(t, d, "network", "ls", "--filter", "name=tn-", "--format", "{{.Name}} {{.Driver}}")
	assert.Equal(t, ls, "tn-back bridge\ntn-front bridge")

	// prune removes the networks no container is on, and only those
	newNetwork(t, d, "tn-unused")
	okOn(t, d, "rm", "-f", "tn-other")
	// until takes a duration, as Docker's (system prune passes it on)
	assert.Equal(t, okOn(t, d, "network", "prune", "-f", "--filter", "until=1h"), "")
	pruned := okOn(t, d, "network", "prune", "-f")
	assert.Assert(t, is.Contains(pruned, "tn-unused"))
	assert.Assert(t, is.Contains(pruned, "tn-back"))
	assert.Assert(t, !strings.Contains(pruned, "tn-front"), pruned)
	assert.Equal(t, okOn(t, d, "network", "ls", "--filter", "name=tn-", "--format", "{{.Name}}"), "tn-front")
}

func TestNetworkOptions(t *testing.T) {
	testutil.RequiresRoot(t)
	d := shared
	br := "tnbr" + d.Bridge[2:]
	newNetwork(t, d, "tn-opts", "-o", "com.docker.network.bridge.name="+br, "-o", "com.docker.network.driver.mtu=1400", "--label", "team=net")
	l, err := netlink.LinkByName(br)
	assert.NilError(t, err)
	assert.Equal(t, l.Attrs().MTU, 1400)
	link := okOn(t, d, "run", "--rm", "--network", "tn-opts", "busybox", "ip", "-o", "link", "show", "eth0")
	assert.Assert(t, is.Contains(link, "mtu 1400"), link)
	assert.Equal(t, okOn(t, d, "network", "ls", "--filter", "label=team=net", "--format", "{{.Name}}"), "tn-opts")
	okOn(t, d, "network", "rm", "tn-opts")
	_, err = netlink.LinkByName(br)
	assert.Assert(t, err != nil, "bridge %s is still there", br)
}

// TestNetworkDNSForward: names the network does not know go to the
// container's --dns server (here one the test runs on a loopback
// address), through the network's DNS server.
func TestNetworkDNSForward(t *testing.T) {
	testutil.RequiresRoot(t)
	d := shared
	newNetwork(t, d, "tn-fwd")
	b := make([]byte, 2)
	rand.Read(b)
	addr := fmt.Sprintf("127.53.%d.%d", b[0], b[1]|1)
	pc, err := net.ListenPacket("udp", addr+":53")
	assert.NilError(t, err)
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		r := new(dns.Msg)
		r.SetReply(q)
		if q.Question[0].Name == "outside.example." && q.Question[0].Qtype == dns.TypeA {
			r.Answer = append(r.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(10, 9, 8, 7)})
		}
		w.WriteMsg(r)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { pc.Close() })
	out := okOn(t, d, "run", "--rm", "--network", "tn-fwd", "--dns", addr, "busybox", "nslookup", "-type=a", "outside.example")
	assert.Assert(t, is.Contains(out, "10.9.8.7"), out)
}

func TestNetworkInternal(t *testing.T) {
	testutil.RequiresRoot(t)
	d := shared
	newNetwork(t, d, "tn-internal", "--internal")
	rmOnCleanup(t, "tn-in-web", "tn-out-web")
	okOn(t, d, "run", "-d", "--name", "tn-in-web", "--network", "tn-internal", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
	okOn(t, d, "run", "-d", "--name", "tn-out-web", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
	// no default route, and nothing outside the network is reachable:
	// not a container on the default bridge, not the default bridge's
	// gateway
	routes := okOn(t, d, "run", "--rm", "--network", "tn-internal", "busybox", "ip", "route")
	assert.Assert(t, !strings.Contains(routes, "default"), routes)
	assert.Assert(t, !canConnect(t, d, "tn-internal", ipOf(t, d, "tn-out-web", "bridge"), 80))
	// inside the network, names work
	out, code := fetchIn(t, d, "tn-internal", "http://tn-in-web/hostname")
	assert.Equal(t, code, 0)
	assert.Assert(t, out != "")
	assert.Equal(t, okOn(t, d, "network", "inspect", "-f", "{{.Internal}}", "tn-internal"), "true")
}

func TestNetworkPublishedPorts(t *testing.T) {
	testutil.RequiresRoot(t)
	d := shared
	newNetwork(t, d, "tn-pub")
	rmOnCleanup(t, "tn-pweb", "tn-prand")
	port := freeTCPPort(t)
	okOn(t, d, "run", "-d", "--name", "tn-pweb", "--hostname", "pweb", "-p", fmt.Sprintf("%d:80", port), "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
	// answers right away (the rules are in place before the container's
	// process starts; the retries only give httpd time to listen), on
	// 127.0.0.1 and on the bridge's address
	assert.Equal(t, httpGetWithin(t, fmt.Sprintf("http://127.0.0.1:%d/hostname", port), 300*time.Millisecond), "pweb")
	assert.Equal(t, httpGet(t, fmt.Sprintf("http://%s:%d/hostname", gateway(d), port)), "pweb")
	// hairpin: a container on the same bridge through the host port, and
	// one on another network through it
	out, code := fetchIn(t, d, "bridge", fmt.Sprintf("http://%s:%d/hostname", gateway(d), port))
	assert.Equal(t, code, 0)
	assert.Equal(t, out, "pweb")
	out, code = fetchIn(t, d, "tn-pub", fmt.Sprintf("http://%s:%d/hostname", gateway(d), port))
	assert.Equal(t, code, 0)
	assert.Equal(t, out, "pweb")

	assert.Equal(t, okOn(t, d, "port", "tn-pweb"), fmt.Sprintf("80/tcp -> 0.0.0.0:%d", port))
	assert.Equal(t, okOn(t, d, "inspect", "-f", `{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}`, "tn-pweb"), fmt.Sprint(port))
	assert.Equal(t, okOn(t, d, "ps", "--filter", "name=tn-pweb", "--format", "{{.Ports}}"), fmt.Sprintf("0.0.0.0:%d->80/tcp", port))

	// a random port bound to 127.0.0.1 only, and -P with an exposed port
	okOn(t, d, "run", "-d", "--name", "tn-prand", "-p", "127.0.0.1::80", "--expose", "8080", "-P", "--hostname", "prand", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
	hp := okOn(t, d, "port", "tn-prand", "80")
	assert.Assert(t, strings.HasPrefix(hp, "127.0.0.1:"), hp)
	assert.Equal(t, httpGet(t, "http://"+hp+"/hostname"), "prand")
	assert.Assert(t, okOn(t, d, "port", "tn-prand", "8080") != "")
}

// TestNetworkHostConnections checks the way the host's own TCP
// connections reach published ports (internal/network/redirect_linux.go):
// they connect to the container directly, from the bridge's address,
// while getpeername still says 127.0.0.1:port; what the programs leave
// alone still goes through the nftables rules.
func TestNetworkHostConnections(t *testing.T) {
	testutil.RequiresRoot(t)
	d := shared
	rmOnCleanup(t, "tn-hweb")
	all, lo := freeTCPPort(t), freeTCPPort(t)
	okOn(t, d, "run", "-d", "--name", "tn-hweb", "--hostname", "hweb", "-p", fmt.Sprintf("%d:80", all),
		"-p", fmt.Sprintf("127.0.0.1:%d:80", lo), "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
	httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/hostname", lo)) // httpd listens

	// a binding to 127.0.0.1, and one to all addresses reached on any
	// loopback address: a plain connection to the container
	for _, addr := range []string{fmt.Sprintf("127.0.0.1:%d", lo), fmt.Sprintf("127.0.0.1:%d", all), fmt.Sprintf("127.0.0.2:%d", all)} {
		c, err := net.Dial("tcp4", addr)
		assert.NilError(t, err)
		assert.Equal(t, c.LocalAddr().(*net.TCPAddr).IP.String(), gateway(d), addr)
		assert.Equal(t, c.RemoteAddr().String(), addr, "getpeername")
		assert.Equal(t, getOver(t, c), "hweb", addr)
	}
	// 0.0.0.0 is 127.0.0.1, to getpeername too
	c0, err := net.Dial("tcp4", fmt.Sprintf("0.0.0.0:%d", all))
	assert.NilError(t, err)
	assert.Equal(t, c0.RemoteAddr().String(), fmt.Sprintf("127.0.0.1:%d", all))
	assert.Equal(t, getOver(t, c0), "hweb")
	// a redirected socket, disconnected and connected to the container's
	// address itself, reports that address
	ip := ipOf(t, d, "tn-hweb", "bridge")
	assert.Equal(t, reconnectedPeer(t, fmt.Sprintf("127.0.0.1:%d", lo), ip+":80"), ip+":80")
	// a socket bound to 127.0.0.1 first keeps its address: masqueraded
	dl := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}}
	c, err := dl.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", lo))
	assert.NilError(t, err)
	assert.Equal(t, c.LocalAddr().(*net.TCPAddr).IP.String(), "127.0.0.1")
	assert.Equal(t, getOver(t, c), "hweb")
	// an IPv6 socket to the IPv4-mapped address: DNAT, as before
	c = dialMapped(t, lo)
	assert.Equal(t, c.LocalAddr().(*net.TCPAddr).IP.String(), "127.0.0.1")
	assert.Equal(t, getOver(t, c), "hweb")
	// a container's 127.0.0.1 is its own, with or without the rules
	r := dockerIn(t, d, nil, "run", "--rm", "busybox", "wget", "-qO-", fmt.Sprintf("http://127.0.0.1:%d/hostname", all))
	assert.Assert(t, r.Code != 0, "a container reached the host's published port on its own loopback: %s", r.Stdout)
	// a host-network container is the host
	assert.Equal(t, okOn(t, d, "run", "--rm", "--network", "host", "busybox", "wget", "-qO-", fmt.Sprintf("http://127.0.0.1:%d/hostname", all)), "hweb")

	// once the container is gone, so is the redirect: refused, not sent
	// to an address the next container may get
	okOn(t, d, "rm", "-f", "tn-hweb")
	for _, p := range []int{lo, all} {
		_, err := net.DialTimeout("tcp4", fmt.Sprintf("127.0.0.1:%d", p), 2*time.Second)
		assert.ErrorIs(t, err, syscall.ECONNREFUSED)
	}
}

// getOver sends GET /hostname on c and returns the body.
func getOver(t *testing.T, c net.Conn) string {
	t.Helper()
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	_, err := io.WriteString(c, "GET /hostname HTTP/1.0\r\n\r\n")
	assert.NilError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	assert.NilError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	assert.NilError(t, err)
	return strings.TrimSpace(string(b))
}

// reconnectedPeer connects a TCP socket to first, disconnects it
// (connect with AF_UNSPEC), connects it to second and returns what
// getpeername says.
func reconnectedPeer(t *testing.T, first, second string) string {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	assert.NilError(t, err)
	defer unix.Close(fd)
	sa := func(s string) *unix.SockaddrInet4 {
		ap := netip.MustParseAddrPort(s)
		return &unix.SockaddrInet4{Addr: ap.Addr().As4(), Port: int(ap.Port())}
	}
	assert.NilError(t, unix.Connect(fd, sa(first)))
	unspec := unix.RawSockaddr{Family: unix.AF_UNSPEC}
	if _, _, e := unix.Syscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&unspec)), unsafe.Sizeof(unspec)); e != 0 {
		t.Fatalf("disconnect: %v", e)
	}
	assert.NilError(t, unix.Connect(fd, sa(second)))
	peer, err := unix.Getpeername(fd)
	assert.NilError(t, err)
	p := peer.(*unix.SockaddrInet4)
	return netip.AddrPortFrom(netip.AddrFrom4(p.Addr), uint16(p.Port)).String()
}

// dialMapped connects an IPv6 socket to ::ffff:127.0.0.1:port (Go's net
// package would use an IPv4 socket for it).
func dialMapped(t *testing.T, port int) net.Conn {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	assert.NilError(t, err)
	f := os.NewFile(uintptr(fd), "tcp6")
	defer f.Close()
	sa := &unix.SockaddrInet6{Port: port, Addr: netip.MustParseAddr("::ffff:127.0.0.1").As16()}
	assert.NilError(t, unix.Connect(fd, sa))
	c, err := net.FileConn(f)
	assert.NilError(t, err)
	return c
}

// TestNetworkMacAddress: --mac-address sets the container's MAC on the
// default bridge and on a user-defined network, also after a restart;
// host mode and multicast addresses are refused.
func TestNetworkMacAddress(t *testing.T) {
	testutil.RequiresRoot(t)
	d := shared
	newNetwork(t, d, "tn-mac")
	rmOnCleanup(t, "tn-mac1")
	mac := func(args ...string) string {
		return okOn(t, d, append([]string{"run", "--rm"}, append(args, "busybox", "cat", "/sys/class/net/eth0/address")...)...)
	}
	assert.Equal(t, mac("--mac-address", "02:42:ac:11:00:99"), "02:42:ac:11:00:99")
	assert.Equal(t, mac("--network", "tn-mac", "--mac-address", "02:42:ac:11:00:98"), "02:42:ac:11:00:98")
	okOn(t, d, "run", "-d", "--name", "tn-mac1", "--mac-address", "02:42:ac:11:00:97", "busybox", "sleep", "60")
	assert.Equal(t, okOn(t, d, "inspect", "-f", "{{.NetworkSettings.Networks.bridge.MacAddress}}", "tn-mac1"), "02:42:ac:11:00:97")
	// the top-level fields of API versions before 1.52, which scripts use
	assert.Equal(t, okOn(t, d, "inspect", "-f", "{{.NetworkSettings.IPAddress}} {{.NetworkSettings.Gateway}} {{.NetworkSettings.MacAddress}}", "tn-mac1"),
		ipOf(t, d, "tn-mac1", "bridge")+" "+gateway(d)+" 02:42:ac:11:00:97")
	okOn(t, d, "restart", "-t", "0", "tn-mac1")
	assert.Equal(t, okOn(t, d, "exec", "tn-mac1", "cat", "/sys/class/net/eth0/address"), "02:42:ac:11:00:97")

	r := dockerIn(t, d, nil, "run", "--rm", "--network", "host", "--mac-address", "02:42:ac:11:00:98", "busybox", "true")
	assert.Equal(t, r.Code, 125, r)
	assert.Assert(t, is.Contains(r.Stderr, "conflicting options: mac-address and the network mode"))
	r = dockerIn(t, d, nil, "run", "--rm", "--mac-address", "03:42:ac:11:00:98", "busybox", "true")
	assert.Equal(t, r.Code, 125, r)
	assert.Assert(t, is.Contains(r.Stderr, "invalid MAC address 03:42:ac:11:00:98"))
}

// TestNetworkDNSAcrossNetworks: a container on two user-defined networks
// resolves the names of both through the server in its resolv.conf (the
// usual front/back network pattern), a container on neither gets none of
// them from another network's server, and after leaving the network of
// its nameserver it is pointed at the one it still has.
func TestNetworkDNSAcrossNetworks(t *testing.T) {
	testutil.RequiresRoot(t)
	d := shared
	front := newNetwork(t, d, "tn-dfront")
	back := newNetwork(t, d, "tn-dback")
	rmOnCleanup(t, "tn-api", "tn-db", "tn-web")
	okOn(t, d, "run", "-d", "--name", "tn-db", "--network", "tn-dback", "busybox", "sleep", "120")
	okOn(t, d, "run", "-d", "--name", "tn-web", "--network", "tn-dfront", "busybox", "sleep", "120")
	okOn(t, d, "run", "-d", "--name", "tn-api", "--network", "tn-dfront", "busybox", "sleep", "120")
	okOn(t, d, "network", "connect", "tn-dback", "tn-api")
	dbIP := ipOf(t, d, "tn-db", "tn-dback")
	lookup := func(ctr, name string, server ...string) (string, int) {
		r := dockerIn(t, d, nil, append([]string{"exec", ctr, "nslookup", name}, server...)...)
		return r.Stdout, r.Code
	}
	out, code := lookup("tn-api", "tn-db")
	assert.Equal(t, code, 0, out)
	assert.Assert(t, is.Contains(out, dbIP))
	out, code = lookup("tn-api", "tn-web")
	assert.Equal(t, code, 0, out)
	// tn-web is on tn-front only: tn-back's server does not answer it
	// with tn-back's names
	out, code = lookup("tn-web", "tn-db", back.Addr().Next().String())
	assert.Assert(t, code != 0 || !strings.Contains(out, dbIP), out)

	okOn(t, d, "network", "disconnect", "tn-dfront", "tn-api")
	assert.Assert(t, is.Contains(okOn(t, d, "exec", "tn-api", "cat", "/etc/resolv.conf"), "nameserver "+back.Addr().Next().String()))
	out, code = lookup("tn-api", "tn-db")
	assert.Equal(t, code, 0, out)
	assert.Assert(t, is.Contains(out, dbIP))
	okOn(t, d, "network", "connect", "tn-dfront", "tn-api")
	assert.Assert(t, is.Contains(okOn(t, d, "exec", "tn-api", "cat", "/etc/resolv.conf"), "nameserver "+front.Addr().Next().String()))
}

// TestNetworkLinks: legacy --link on the default bridge (hosts entry and
// the variables Docker sets), its errors, and a link on a user-defined
// network, which is a name only the linking container resolves.
func TestNetworkLinks(t *testing.T) {
	testutil.RequiresRoot(t)
	d := shared
	newNetwork(t, d, "tn-links")
	rmOnCleanup(t, "tn-lk", "tn-lk-parent", "tn-lk-user")
	okOn(t, d, "run", "-d", "--name", "tn-lk", "--hostname", "lkhost", "--expose", "80", "--expose", "53/udp", "-e", "FOO=bar", "busybox", "sleep", "120")
	ip := ipOf(t, d, "tn-lk", "bridge")
	out := okOn(t, d, "run", "--rm", "--name", "tn-lk-parent", "--link", "tn-lk:db-1", "busybox", "sh", "-c", "cat /etc/hosts; env | sort")
	assert.Assert(t, is.Contains(out, ip+"\tdb-1 lkhost tn-lk\n"))
	for _, v := range []string{
		"DB_1_PORT=udp://" + ip + ":53", // the lowest port
		"DB_1_PORT_80_TCP=tcp://" + ip + ":80", "DB_1_PORT_80_TCP_ADDR=" + ip, "DB_1_PORT_80_TCP_PORT=80", "DB_1_PORT_80_TCP_PROTO=tcp",
		"DB_1_PORT_53_UDP=udp://" + ip + ":53",
		"DB_1_NAME=/tn-lk-parent/db-1", "DB_1_ENV_FOO=bar",
	} {
		assert.Assert(t, is.Contains(out, "\n"+v+"\n"))
	}
	assert.Assert(t, !strings.Contains(out, "DB_1_ENV_PATH"), out)
	id := okOn(t, d, "create", "--link", "tn-lk", "busybox", "true")
	t.Cleanup(func() { dockerIn(t, d, nil, "rm", "-f", id) })
	name := okOn(t, d, "inspect", "-f", "{{.Name}}", id)
	assert.Equal(t, okOn(t, d, "inspect", "-f", "{{json .HostConfig.Links}}", id), fmt.Sprintf(`["/tn-lk:%s/tn-lk"]`, name))

	r := dockerIn(t, d, nil, "run", "--rm", "--link", "tn-no-such:x", "busybox", "true")
	assert.Equal(t, r.Code, 125, r)
	assert.Assert(t, is.Contains(r.Stderr, "could not get container for tn-no-such: No such container: tn-no-such"))
	r = dockerIn(t, d, nil, "run", "--rm", "--network", "host", "--link", "tn-lk", "busybox", "true")
	assert.Equal(t, r.Code, 125, r)
	assert.Assert(t, is.Contains(r.Stderr, "conflicting options: host type networking can't be used with links"))
	okOn(t, d, "stop", "-t", "0", "tn-lk")
	r = dockerIn(t, d, nil, "run", "--rm", "--name", "tn-lk-parent", "--link", "tn-lk:al", "busybox", "true")
	assert.Equal(t, r.Code, 125, r)
	assert.Assert(t, is.Contains(r.Stderr, "Cannot link to a non running container: /tn-lk AS /tn-lk-parent/al"))

	// links are by ID: a renamed linked container is still linked; one
	// removed is no link any more (and a container that took its name is
	// not linked to itself)
	okOn(t, d, "start", "tn-lk")
	rmOnCleanup(t, "tn-lk-ren", "tn-lk-self")
	okOn(t, d, "rename", "tn-lk", "tn-lk-ren")
	out = okOn(t, d, "run", "--rm", "--link", "tn-lk-ren:al", "busybox", "true")
	okOn(t, d, "create", "--name", "tn-lk-self", "--link", "tn-lk-ren:al", "busybox", "sh", "-c", "grep -cw al /etc/hosts || true")
	assert.Equal(t, okOn(t, d, "start", "-a", "tn-lk-self"), "1")
	okOn(t, d, "rm", "-f", "tn-lk-ren")
	okOn(t, d, "rename", "tn-lk-self", "tn-lk-ren")
	assert.Equal(t, okOn(t, d, "start", "-a", "tn-lk-ren"), "0")

	okOn(t, d, "run", "-d", "--name", "tn-lk-user", "--network", "tn-links", "busybox", "sleep", "120")
	userIP := ipOf(t, d, "tn-lk-user", "tn-links")
	out, code := fetchNslookup(t, d, []string{"--network", "tn-links", "--link", "tn-lk-user:lu"}, "lu")
	assert.Equal(t, code, 0, out)
	assert.Assert(t, is.Contains(out, userIP))
	_, code = fetchNslookup(t, d, []string{"--network", "tn-links"}, "lu")
	assert.Assert(t, code != 0, "a link's alias resolved for a container without the link")
	// a link given at network connect, on the container's second network
	newNetwork(t, d, "tn-links2")
	rmOnCleanup(t, "tn-lk-cli")
	okOn(t, d, "run", "-d", "--name", "tn-lk-cli", "--network", "tn-links2", "busybox", "sleep", "120")
	okOn(t, d, "network", "connect", "--link", "tn-lk-user:lu2", "tn-links", "tn-lk-cli")
	r = dockerIn(t, d, nil, "exec", "tn-lk-cli", "nslookup", "lu2")
	assert.Equal(t, r.Code, 0, r)
	assert.Assert(t, is.Contains(r.Stdout, userIP))
}

// fetchNslookup runs nslookup name in a new container made with args.
func fetchNslookup(t *testing.T, d *testutil.Daemon, args []string, name string) (string, int) {
	t.Helper()
	r := dockerIn(t, d, nil, append(append([]string{"run", "--rm"}, args...), "busybox", "nslookup", name)...)
	return r.Stdout, r.Code
}

// TestNetworkAuxAddress: --aux-address keeps addresses out of the IPAM,
// is shown by inspect, and a static IP may not take one.
func TestNetworkAuxAddress(t *testing.T) {
	testutil.RequiresRoot(t)
	d := shared
	sub := testutil.FreeSubnet()
	base := sub.Addr()
	at := func(n int) string {
		a := base
		for range n {
			a = a.Next()
		}
		return a.String()
	}
	okOn(t, d, "network", "create", "--subnet", sub.String(), "--ip-range", netip.PrefixFrom(base, 29).String(),
		"--aux-address", "dev1="+at(2), "--aux-address", "dev2="+at(3), "tn-aux")
	t.Cleanup(func() { dockerIn(t, d, nil, "network", "rm", "tn-aux") })
	assert.Equal(t, okOn(t, d, "network", "inspect", "-f", "{{range .IPAM.Config}}{{.AuxiliaryAddresses.dev1}} {{.AuxiliaryAddresses.dev2}}{{end}}", "tn-aux"), at(2)+" "+at(3))
	rmOnCleanup(t, "tn-aux1")
	okOn(t, d, "run", "-d", "--name", "tn-aux1", "--network", "tn-aux", "busybox", "sleep", "60")
	assert.Equal(t, ipOf(t, d, "tn-aux1", "tn-aux"), at(4))
	r := dockerIn(t, d, nil, "run", "--rm", "--network", "tn-aux", "--ip", at(2), "busybox", "true")
	assert.Equal(t, r.Code, 125, r)
	assert.Assert(t, is.Contains(r.Stderr, "Address already in use"))
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	assert.NilError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// udpEchoImage builds a static UDP echo server and imports it as an
// image (busybox has no UDP server).
func udpEchoImage(t *testing.T, d *testutil.Daemon) string {
	t.Helper()
	dir := t.TempDir()
	src := `package main

import "net"

func main() {
	c, err := net.ListenPacket("udp", ":7")
	if err != nil {
		panic(err)
	}
	b := make([]byte, 2048)
	for {
		n, a, err := c.ReadFrom(b)
		if err != nil {
			return
		}
		c.WriteTo(append([]byte("echo:"), b[:n]...), a)
	}
}
`
	assert.NilError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644))
	assert.NilError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module udpecho\n\ngo 1.22\n"), 0o644))
	root := filepath.Join(dir, "root")
	assert.NilError(t, os.MkdirAll(root, 0o755))
	build := exec.Command("go", "build", "-o", filepath.Join(root, "udpecho"), ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	assert.NilError(t, err, string(out))
	tarball := filepath.Join(dir, "udpecho.tar")
	out, err = exec.Command("tar", "-C", root, "-cf", tarball, ".").CombinedOutput()
	assert.NilError(t, err, string(out))
	okOn(t, d, "import", "-c", `CMD ["/udpecho"]`, tarball, "udpecho:latest")
	return "udpecho:latest"
}

func TestNetworkUDP(t *testing.T) {
	testutil.RequiresRoot(t)
	d := shared
	img := udpEchoImage(t, d)
	rmOnCleanup(t, "tn-udp")
	okOn(t, d, "run", "-d", "--name", "tn-udp", "-p", "127.0.0.1::7/udp", img)
	hp := okOn(t, d, "port", "tn-udp", "7/udp")
	c, err := net.Dial("udp", hp)
	assert.NilError(t, err)
	defer c.Close()
	buf := make([]byte, 64)
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.Write([]byte("ping"))
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		n, err := c.Read(buf)
		if err == nil {
			assert.Equal(t, string(buf[:n]), "echo:ping")
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no UDP echo through %s: %v", hp, err)
		}
	}
}

func TestNetworkModes(t *testing.T) {
	testutil.RequiresRoot(t)
	d := shared
	// none: loopback only, and up
	links := okOn(t, d, "run", "--rm", "--network", "none", "busybox", "ip", "-o", "link")
	assert.Equal(t, len(strings.Split(links, "\n")), 1, links)
	assert.Assert(t, is.Contains(links, "lo:"))
	assert.Assert(t, is.Contains(links, "UP"))
	// host: the host's interfaces, this daemon's bridge among them
	links = okOn(t, d, "run", "--rm", "--network", "host", "busybox", "ip", "-o", "link")
	assert.Assert(t, is.Contains(links, " "+d.Bridge+":"), links)
	// container:<name>: the same address
	rmOnCleanup(t, "tn-owner")
	okOn(t, d, "run", "-d", "--name", "tn-owner", "busybox", "sleep", "60")
	ip := ipOf(t, d, "tn-owner", "bridge")
	assert.Assert(t, d.Subnet.Contains(netip.MustParseAddr(ip)), ip)
	addrs := okOn(t, d, "run", "--rm", "--network", "container:tn-owner", "busybox", "ip", "-o", "-4", "addr", "show", "eth0")
	assert.Assert(t, is.Contains(addrs, " "+ip+"/"), addrs)
	// the default bridge: eth0 on the subnet, default route via the gateway
	routes := okOn(t, d, "run", "--rm", "busybox", "ip", "route")
	assert.Assert(t, is.Contains(routes, "default via "+gateway(d)), routes)
	hosts := okOn(t, d, "run", "--rm", "--hostname", "hh", "--domainname", "example.org", "--add-host", "extra:10.9.9.9", "busybox", "cat", "/etc/hosts")
	assert.Assert(t, is.Contains(hosts, "10.9.9.9\textra"))
	assert.Assert(t, is.Regexp(`(?m)^10\.[0-9.]+\thh\.example\.org hh$`, hosts))
	resolv := okOn(t, d, "run", "--rm", "--dns", "10.1.2.3", "--dns-search", "corp.example", "busybox", "cat", "/etc/resolv.conf")
	assert.Assert(t, is.Contains(resolv, "nameserver 10.1.2.3"))
	assert.Assert(t, is.Contains(resolv, "search corp.example"))
}

func TestNetworkConnectDisconnect(t *testing.T) {
	testutil.RequiresRoot(t)
	d := shared
	sub := newNetwork(t, d, "tn-conn")
	rmOnCleanup(t, "tn-late")
	okOn(t, d, "run", "-d", "--name", "tn-late", "--hostname", "late", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
	_, code := fetchIn(t, d, "tn-conn", "http://tn-late/hostname")
	assert.Assert(t, code != 0)

	okOn(t, d, "network", "connect", "--alias", "latecomer", "--ip", sub.Addr().Next().Next().Next().String(), "tn-conn", "tn-late")
	addrs := okOn(t, d, "exec", "tn-late", "ip", "-o", "-4", "addr")
	assert.Assert(t, is.Contains(addrs, "eth1"), addrs)
	assert.Assert(t, is.Contains(addrs, sub.Addr().Next().Next().Next().String()+"/24"), addrs)
	for _, name := range []string{"tn-late", "latecomer"} {
		out, code := fetchIn(t, d, "tn-conn", "http://"+name+"/hostname")
		assert.Equal(t, code, 0, name)
		assert.Equal(t, out, "late")
	}
	nets := okOn(t, d, "inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", "tn-late")
	assert.Equal(t, nets, "bridge tn-conn")

	okOn(t, d, "network", "disconnect", "tn-conn", "tn-late")
	addrs = okOn(t, d, "exec", "tn-late", "ip", "-o", "-4", "addr")
	assert.Assert(t, !strings.Contains(addrs, "eth1"), addrs)
	_, code = fetchIn(t, d, "tn-conn", "http://tn-late/hostname")
	assert.Assert(t, code != 0)
}

func TestNetworkBadInput(t *testing.T) {
	testutil.RequiresRoot(t)
	d := shared
	sub := newNetwork(t, d, "tn-bad")
	before := leftovers(t, d)
	fails(t, 1, "Pool overlaps with other one on this address space", "network", "create", "--subnet", sub.String(), "tn-overlap")
	// the docker CLI checks the gateway itself; the API must too
	fails(t, 1, "no matching subnet for gateway 10.255.0.1", "network", "create", "--subnet", testutil.FreeSubnet().String(), "--gateway", "10.255.0.1", "tn-badgw")
	code, msg := api(t, "POST", "/networks/create", fmt.Sprintf(`{"Name":"tn-badgw","IPAM":{"Config":[{"Subnet":%q,"Gateway":"10.255.0.1"}]}}`, testutil.FreeSubnet()))
	assert.Equal(t, code, 400)
	assert.Equal(t, msg, "failed to allocate gateway (10.255.0.1): no configured subnet or ip-range contain the IP address 10.255.0.1")
	fails(t, 1, "Pool overlaps with other one on this address space", "network", "create", "--subnet", d.Subnet.String(), "tn-overlap-default")
	fails(t, 1, "network with name tn-bad already exists", "network", "create", "tn-bad")
	fails(t, 1, "operation is not permitted on predefined bridge network", "network", "create", "bridge")
	fails(t, 1, `only one instance of "host" network is allowed`, "network", "create", "-d", "host", "tn-host2")
	fails(t, 1, "invalid filter: 'type'='bad'", "network", "ls", "--filter", "type=bad")
	rmOnCleanup(t, "tn-bad-ctr")
	okOn(t, d, "create", "--name", "tn-bad-ctr", "busybox", "true")
	fails(t, 1, "container cannot be disconnected from host network or connected to host network", "network", "connect", "host", "tn-bad-ctr")
	fails(t, 1, "container cannot be connected to multiple networks with one of the networks in private (none) mode", "network", "connect", "none", "tn-bad-ctr")
	fails(t, 125, "network tn-nope not found", "run", "--rm", "--network", "tn-nope", "busybox", "true")
	fails(t, 1, "network tn-nope not found", "network", "rm", "tn-nope")
	fails(t, 1, "bridge is a pre-defined network and cannot be removed", "network", "rm", "bridge")
	fails(t, 125, "user specified IP address is supported on user defined networks only", "run", "--rm", "--ip", "10.1.1.1", "busybox", "true")

	// a host port already taken: Docker's error, nothing half-made
	rmOnCleanup(t, "tn-holder", "tn-second")
	port := freeTCPPort(t)
	okOn(t, d, "run", "-d", "--name", "tn-holder", "--network", "tn-bad", "-p", fmt.Sprintf("%d:80", port), "busybox", "httpd", "-f", "-p", "80")
	mid := leftovers(t, d)
	fails(t, 125, fmt.Sprintf("Bind for 0.0.0.0:%d failed: port is already allocated", port), "run", "-d", "--name", "tn-second", "--network", "tn-bad", "-p", fmt.Sprintf("%d:80", port), "busybox", "httpd", "-f", "-p", "80")
	assert.DeepEqual(t, leftovers(t, d), mid)
	assert.Equal(t, okOn(t, d, "inspect", "-f", "{{.State.Status}}", "tn-second"), "created")

	// a network with a running container cannot go
	fails(t, 1, "has active endpoints", "network", "rm", "tn-bad")
	okOn(t, d, "rm", "-f", "tn-holder", "tn-second")
	assert.DeepEqual(t, leftovers(t, d), before)
}

// state is what a daemon has in the kernel and in its IPAM files.
type state struct {
	Veths  []string // host veths on the daemon's bridges
	Rules  int      // DNAT rules for published ports
	Leases []string // addresses leased in the network files
}

func leftovers(t *testing.T, d *testutil.Daemon) state {
	t.Helper()
	var s state
	bridges := map[int]bool{}
	files, _ := filepath.Glob(filepath.Join(d.DataRoot, "network", "*.json"))
	for _, f := range files {
		var n struct{ Bridge string }
		b, err := os.ReadFile(f)
		assert.NilError(t, err)
		assert.NilError(t, json.Unmarshal(b, &n))
		if l, err := netlink.LinkByName(n.Bridge); err == nil {
			bridges[l.Attrs().Index] = true
		}
		// each endpoint has a file of its own beside the network's
		eps, _ := filepath.Glob(filepath.Join(strings.TrimSuffix(f, ".json")+".endpoints", "*.json"))
		for _, e := range eps {
			var ep struct{ IP string }
			b, err := os.ReadFile(e)
			assert.NilError(t, err)
			assert.NilError(t, json.Unmarshal(b, &ep))
			if ep.IP != "" {
				s.Leases = append(s.Leases, ep.IP)
			}
		}
	}
	links, err := netlink.LinkList()
	assert.NilError(t, err)
	for _, l := range links {
		if bridges[l.Attrs().MasterIndex] {
			s.Veths = append(s.Veths, l.Attrs().Name)
		}
	}
	c, err := nftables.New()
	assert.NilError(t, err)
	defer c.CloseLasting()
	tbl := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: "berth-" + d.Bridge}
	rules, err := c.GetRules(tbl, &nftables.Chain{Name: "ports", Table: tbl})
	assert.NilError(t, err)
	s.Rules = len(rules)
	return s
}

// TestNetworkCrash kills the daemon with containers on several networks;
// the restarted daemon keeps what runs working and drops what a container
// that exited meanwhile had; removing everything leaves nothing.
func TestNetworkCrash(t *testing.T) {
	testutil.RequiresRoot(t)
	d := ownDaemon(t)
	subnets := map[string]netip.Prefix{}
	for _, n := range []string{"ca", "cb"} {
		subnets[n] = testutil.FreeSubnet()
		okOn(t, d, "network", "create", "--subnet", subnets[n].String(), n)
	}
	pa, pb, pgone := freeTCPPort(t), freeTCPPort(t), freeTCPPort(t)
	okOn(t, d, "run", "-d", "--name", "a1", "--hostname", "a1", "--network", "ca", "-p", fmt.Sprintf("%d:80", pa), "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
	okOn(t, d, "run", "-d", "--name", "a2", "--network", "ca", "busybox", "sleep", "600")
	okOn(t, d, "run", "-d", "--name", "b1", "--hostname", "b1", "--network", "cb", "-p", fmt.Sprintf("127.0.0.1:%d:80", pb), "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
	okOn(t, d, "run", "-d", "--name", "d1", "--hostname", "d1", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
	okOn(t, d, "run", "-d", "--name", "gone", "--network", "cb", "-p", fmt.Sprintf("%d:80", pgone), "busybox", "sh", "-c", "sleep 1")
	assert.Equal(t, leftovers(t, d).Rules, 3)

	assert.Equal(t, hostConnFrom(t, pa), subnets["ca"].Addr().Next().String())

	d.Kill()
	// with the daemon its redirect programs went; the rules carry on
	assert.Equal(t, hostConnFrom(t, pa), "127.0.0.1")
	time.Sleep(1500 * time.Millisecond) // "gone" exits while the daemon is away
	// what a crash in the middle of wiring could leave: a veth on the
	// bridge that no container owns, a rule for no container
	stale := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "veth" + d.Bridge[2:], MasterIndex: bridgeIndex(t, d.Bridge)}, PeerName: "stale" + d.Bridge[2:]}
	assert.NilError(t, netlink.LinkAdd(stale))
	t.Cleanup(func() { netlink.LinkDel(stale) })
	addStaleRule(t, d)
	assert.Equal(t, leftovers(t, d).Rules, 4)
	restart(t, d)
	_, err := netlink.LinkByName(stale.Name)
	assert.Assert(t, err != nil, "the stale veth is still there")

	assert.Equal(t, httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/hostname", pa)), "a1")
	assert.Equal(t, httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/hostname", pb)), "b1")
	assert.Equal(t, hostConnFrom(t, pa), subnets["ca"].Addr().Next().String(), "redirected again")
	assert.Equal(t, hostConnFrom(t, pb), subnets["cb"].Addr().Next().String(), "redirected again")
	assert.Equal(t, okOn(t, d, "exec", "a2", "wget", "-qO-", "http://a1/hostname"), "a1")
	assert.Equal(t, okOn(t, d, "exec", "a2", "wget", "-qO-", fmt.Sprintf("http://%s:%d/hostname", gateway(d), pa)), "a1")
	assert.Equal(t, okOn(t, d, "exec", "d1", "wget", "-qO-", fmt.Sprintf("http://%s:%d/hostname", gateway(d), pa)), "a1")
	s := leftovers(t, d)
	assert.Equal(t, s.Rules, 2, "the exited container's rule is gone")
	assert.Equal(t, len(s.Leases), 4, "%v", s.Leases)
	assert.Equal(t, len(s.Veths), 4, "%v", s.Veths)
	// its port is free again
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", pgone))
	assert.NilError(t, err)
	ln.Close()

	okOn(t, d, "rm", "-f", "a1", "a2", "b1", "d1", "gone")
	okOn(t, d, "network", "rm", "ca", "cb")
	eventually(t, "veths to go", func() bool { return len(leftovers(t, d).Veths) == 0 })
	assert.DeepEqual(t, leftovers(t, d), state{})
}

// hostConnFrom fetches /hostname from 127.0.0.1:port over a new
// connection and returns the connection's local address.
func hostConnFrom(t *testing.T, port int) string {
	t.Helper()
	c, err := net.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", port))
	assert.NilError(t, err)
	local := c.LocalAddr().(*net.TCPAddr).IP.String()
	assert.Assert(t, getOver(t, c) != "")
	return local
}

func bridgeIndex(t *testing.T, name string) int {
	t.Helper()
	l, err := netlink.LinkByName(name)
	assert.NilError(t, err)
	return l.Attrs().Index
}

// addStaleRule copies a DNAT rule of d's table as if a container that no
// longer exists had left it.
func addStaleRule(t *testing.T, d *testutil.Daemon) {
	t.Helper()
	c, err := nftables.New()
	assert.NilError(t, err)
	defer c.CloseLasting()
	tbl := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: "berth-" + d.Bridge}
	ch := &nftables.Chain{Name: "ports", Table: tbl}
	rules, err := c.GetRules(tbl, ch)
	assert.NilError(t, err)
	assert.Assert(t, len(rules) > 0)
	c.AddRule(&nftables.Rule{Table: tbl, Chain: ch, Exprs: rules[0].Exprs, UserData: []byte("no-such-container")})
	assert.NilError(t, c.Flush())
}
