// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package network

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// The host's own connections to its published ports.
//
// A packet from another host to a published port is translated in the
// prerouting chain. A connection the host itself makes to 127.0.0.1:port
// is translated twice, per packet and in both directions: DNAT in the
// output chain, and a masquerade to the bridge's address, since the
// container cannot answer 127.0.0.1. The replies then miss TCP's early
// demultiplexing (their addresses are restored only at local-in) and
// each needs a full route lookup. All of that costs about a tenth of the
// throughput of connecting to the container's address directly.
//
// A TCP connection's peer is chosen once, by connect(). So for TCP berth
// also attaches two cgroup socket-address programs to the root of the
// cgroup v2 hierarchy, which every process on the host is under:
//
//	connect4      a TCP stream connect from the host's network namespace
//	              to a published loopback address (a port bound to
//	              127.0.0.1, say, or one bound to all addresses reached
//	              on any 127.0.0.0/8 address or 0.0.0.0) becomes a
//	              connect to the container's address and port; the
//	              socket keeps the original in its local storage (and
//	              any other TCP connect drops what a socket kept)
//	getpeername4  such a socket reports the original as its peer, so
//	              programs on the host see 127.0.0.1:port as before
//
// The connection is then an ordinary one from the bridge's address to the
// container: what the masquerade would have made of it, with no NAT. The
// nftables rules stay complete without the programs and carry everything
// else: UDP, other hosts, containers, ports bound to a non-loopback
// address (the rules also check that it is still the host's),
// IPv4-mapped addresses on IPv6 sockets, and all traffic on a host
// without cgroup v2 or these program types (then the daemon logs why and
// goes on). The programs hang on BPF links that only the daemon's process
// holds, nothing is pinned: when the daemon exits or is killed, the
// kernel detaches them, the rules carry on alone, and the next daemon
// attaches its own and fills the map again from the containers that still
// run (Restore).
//
// What differs from NAT, seen from the host: getsockname gives the
// bridge's address rather than 127.0.0.1, and ss, conntrack and packet
// captures show the connection between the bridge and the container
// (firewall rules that match 127.0.0.1:port before DNAT do not see it).
// A connection made while one daemon ran and still open after it went
// reports the container's address as its peer (the storage went with the
// map), and so does an MPTCP socket (the connect runs on its TCP subflow,
// which keeps the storage, while getpeername asks the MPTCP socket).

// redirector holds the programs, their maps and each container's keys.
type redirector struct {
	cookie uint64      // the host network namespace's cookie
	ports  *ebpf.Map   // portKey → portValue
	peers  *ebpf.Map   // socket storage: original and new peer
	links  []link.Link // the attached programs
	keys   map[string][][]byte
}

// Layouts. A key is the network namespace cookie (native byte order, as
// bpf_get_netns_cookie returns it), then an IPv4 address and a port as
// struct bpf_sock_addr holds them: user_ip4 (network order) and user_port
// (a 32-bit field whose first two bytes are the port in network order).
// Address 0.0.0.0 in a key stands for every 127.0.0.0/8 address. A value
// is an address and a port; a socket's storage is the original address
// and port, then the new ones.
const (
	keySize   = 16
	valueSize = 8
	peerSize  = 16
)

// struct bpf_sock_addr offsets.
const (
	offUserIP4  = 4
	offUserPort = 24
	offType     = 32
	offProtocol = 36
	offSk       = 64
)

// loopback is 127.0.0.1 as a little-endian load of user_ip4 sees it.
const loopback = 0x0100007f

// newRedirector loads and attaches the programs; on a host that cannot,
// it says why.
func newRedirector() (_ *redirector, retErr error) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		return nil, errors.New("the programs are written for little-endian hosts")
	}
	root, err := cgroup2Root()
	if err != nil {
		return nil, err
	}
	cookie, err := netnsCookie()
	if err != nil {
		return nil, err
	}
	r := &redirector{cookie: cookie, keys: map[string][][]byte{}}
	defer func() {
		if retErr != nil {
			r.close()
		}
	}()
	r.ports, err = ebpf.NewMap(&ebpf.MapSpec{Name: "berth_ports", Type: ebpf.Hash, KeySize: keySize, ValueSize: valueSize,
		MaxEntries: 1 << 14, Flags: unix.BPF_F_NO_PREALLOC})
	if err != nil {
		return nil, fmt.Errorf("map of published ports: %w", err)
	}
	// socket storage must describe its key and value in BTF
	u32 := &btf.Int{Name: "__u32", Size: 4}
	peer := &btf.Struct{Name: "berth_peer", Size: peerSize, Members: []btf.Member{
		{Name: "orig_ip4", Type: u32}, {Name: "orig_port", Type: u32, Offset: 32},
		{Name: "ip4", Type: u32, Offset: 64}, {Name: "port", Type: u32, Offset: 96}}}
	r.peers, err = ebpf.NewMap(&ebpf.MapSpec{Name: "berth_peers", Type: ebpf.SkStorage, KeySize: 4, ValueSize: peerSize,
		Flags: unix.BPF_F_NO_PREALLOC, Key: &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}, Value: peer})
	if err != nil {
		return nil, fmt.Errorf("socket storage: %w", err)
	}
	progs := []struct {
		name   string
		attach ebpf.AttachType
		insns  asm.Instructions
	}{
		{"berth_connect4", ebpf.AttachCGroupInet4Connect, connect4(r.ports.FD(), r.peers.FD())},
		{"berth_peer4", ebpf.AttachCgroupInet4GetPeername, getpeername4(r.peers.FD())},
	}
	dir, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("cgroup v2 root: %w", err)
	}
	defer unix.Close(dir)
	for _, p := range progs {
		prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Name: p.name, Type: ebpf.CGroupSockAddr, AttachType: p.attach,
			Instructions: p.insns, License: "Apache-2.0"})
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", p.name, err)
		}
		// a BPF link (never the older attach, which outlives its
		// process) and no pin: the program goes with the daemon
		l, err := link.AttachRawLink(link.RawLinkOptions{Target: dir, Program: prog, Attach: p.attach})
		prog.Close() // the link holds it
		if err != nil {
			return nil, fmt.Errorf("attach %s to %s: %w", p.name, root, err)
		}
		r.links = append(r.links, l)
	}
	return r, nil
}

// connect4 is the connect program (see above). R6 holds the context, R7
// and R8 the address and port asked for; the stack holds the key at -16
// and the socket's storage at -32.
func connect4(ports, peers int) asm.Instructions {
	return asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.LoadMem(asm.R2, asm.R6, offProtocol, asm.Word),
		asm.JNE.Imm(asm.R2, unix.IPPROTO_TCP, "allow"),
		asm.LoadMem(asm.R2, asm.R6, offType, asm.Word),
		asm.JNE.Imm(asm.R2, unix.SOCK_STREAM, "allow"),
		// key: this namespace, the address and the port
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.FnGetNetnsCookie.Call(),
		asm.StoreMem(asm.RFP, -16, asm.R0, asm.DWord),
		asm.LoadMem(asm.R7, asm.R6, offUserIP4, asm.Word),
		asm.LoadMem(asm.R8, asm.R6, offUserPort, asm.Word),
		asm.StoreMem(asm.RFP, -8, asm.R7, asm.Word),
		asm.StoreMem(asm.RFP, -4, asm.R8, asm.Word),
		asm.LoadMapPtr(asm.R1, ports),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -16),
		asm.FnMapLookupElem.Call(),
		asm.JNE.Imm(asm.R0, 0, "zero"),
		// not bound to that address; a loopback one may match a port
		// bound to all (the address's first byte is the lowest)
		asm.Mov.Reg(asm.R2, asm.R7),
		asm.And.Imm(asm.R2, 0xff),
		asm.JNE.Imm(asm.R2, 127, "forget"),
		asm.StoreImm(asm.RFP, -8, 0, asm.Word),
		asm.LoadMapPtr(asm.R1, ports),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -16),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "forget"),
		// a connect to 0.0.0.0 is one to 127.0.0.1 (as getpeername
		// says without the programs)
		asm.JNE.Imm(asm.R7, 0, "found").WithSymbol("zero"),
		asm.Mov.Imm32(asm.R7, loopback),
		// rewrite the destination and remember both
		asm.LoadMem(asm.R2, asm.R0, 0, asm.Word).WithSymbol("found"),
		asm.LoadMem(asm.R3, asm.R0, 4, asm.Word),
		asm.StoreMem(asm.RFP, -32, asm.R7, asm.Word),
		asm.StoreMem(asm.RFP, -28, asm.R8, asm.Word),
		asm.StoreMem(asm.RFP, -24, asm.R2, asm.Word),
		asm.StoreMem(asm.RFP, -20, asm.R3, asm.Word),
		asm.StoreMem(asm.R6, offUserIP4, asm.R2, asm.Word),
		asm.StoreMem(asm.R6, offUserPort, asm.R3, asm.Word),
		asm.LoadMapPtr(asm.R1, peers),
		asm.LoadMem(asm.R2, asm.R6, offSk, asm.DWord),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, -32),
		asm.Mov.Imm(asm.R4, 1), // BPF_SK_STORAGE_GET_F_CREATE
		asm.FnSkStorageGet.Call(),
		asm.JEq.Imm(asm.R0, 0, "allow"),
		// storage that was there already (a second connect) is not
		// initialised by the call: write it
		asm.LoadMem(asm.R2, asm.RFP, -32, asm.DWord),
		asm.StoreMem(asm.R0, 0, asm.R2, asm.DWord),
		asm.LoadMem(asm.R2, asm.RFP, -24, asm.DWord),
		asm.StoreMem(asm.R0, 8, asm.R2, asm.DWord),
		asm.Ja.Label("allow"),
		// any other TCP connect: a socket redirected before (then
		// disconnected with AF_UNSPEC) must not keep reporting that
		asm.LoadMapPtr(asm.R1, peers).WithSymbol("forget"),
		asm.LoadMem(asm.R2, asm.R6, offSk, asm.DWord),
		asm.FnSkStorageDelete.Call(),
		asm.Mov.Imm(asm.R0, 1).WithSymbol("allow"),
		asm.Return(),
	}
}

// getpeername4 reports a redirected socket's original peer, as long as
// the socket is still connected to the address it was redirected to.
func getpeername4(peers int) asm.Instructions {
	return asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.LoadMapPtr(asm.R1, peers),
		asm.LoadMem(asm.R2, asm.R6, offSk, asm.DWord),
		asm.Mov.Imm(asm.R3, 0),
		asm.Mov.Imm(asm.R4, 0),
		asm.FnSkStorageGet.Call(),
		asm.JEq.Imm(asm.R0, 0, "allow"),
		asm.LoadMem(asm.R2, asm.R0, 8, asm.Word),
		asm.LoadMem(asm.R3, asm.R6, offUserIP4, asm.Word),
		asm.JNE.Reg(asm.R2, asm.R3, "allow"),
		asm.LoadMem(asm.R2, asm.R0, 12, asm.Word),
		asm.LoadMem(asm.R3, asm.R6, offUserPort, asm.Word),
		asm.JNE.Reg(asm.R2, asm.R3, "allow"),
		asm.LoadMem(asm.R2, asm.R0, 0, asm.Word),
		asm.StoreMem(asm.R6, offUserIP4, asm.R2, asm.Word),
		asm.LoadMem(asm.R2, asm.R0, 4, asm.Word),
		asm.StoreMem(asm.R6, offUserPort, asm.R2, asm.Word),
		asm.Mov.Imm(asm.R0, 1).WithSymbol("allow"),
		asm.Return(),
	}
}

// add redirects container cid's published TCP ports that are bound to
// all addresses or to a loopback one. A port bound to another address
// is left to the rules, which also check that the address is still the
// host's.
func (r *redirector) add(cid string, rules []portRule) error {
	var errs []error
	for _, p := range rules {
		if p.Proto != "tcp" && p.Proto != "" || p.HostIP.IsValid() && !p.HostIP.IsUnspecified() && !(p.HostIP.Is4() && p.HostIP.IsLoopback()) {
			continue
		}
		k := r.key(p.HostIP, p.HostPort)
		if err := r.ports.Put(k, sockAddr(p.ip, p.ContainerPort)); err != nil {
			errs = append(errs, err)
			continue
		}
		r.keys[cid] = append(r.keys[cid], k)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("redirect host connections to published ports: %w", err)
	}
	return nil
}

// del stops redirecting cid's ports.
func (r *redirector) del(cid string) {
	for _, k := range r.keys[cid] {
		r.ports.Delete(k)
	}
	delete(r.keys, cid)
}

// key is the map key for a binding to ip (0.0.0.0 for none or any).
func (r *redirector) key(ip netip.Addr, port uint16) []byte {
	k := make([]byte, keySize)
	binary.NativeEndian.PutUint64(k, r.cookie)
	if ip.Is4() {
		a := ip.As4()
		copy(k[8:], a[:])
	}
	binary.BigEndian.PutUint16(k[12:], port)
	return k
}

// sockAddr is an address and port laid out as bpf_sock_addr has them.
func sockAddr(ip netip.Addr, port uint16) []byte {
	v := make([]byte, valueSize)
	a := ip.As4()
	copy(v, a[:])
	binary.BigEndian.PutUint16(v[4:], port)
	return v
}

// close detaches the programs and frees the maps.
func (r *redirector) close() {
	for _, l := range r.links {
		l.Close()
	}
	r.links = nil
	for _, m := range []*ebpf.Map{r.ports, r.peers} {
		if m != nil {
			m.Close()
		}
	}
}

// cgroup2Root is where the cgroup v2 hierarchy is mounted: /sys/fs/cgroup
// on a unified host, /sys/fs/cgroup/unified on a hybrid one.
func cgroup2Root() (string, error) {
	mounts, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup2"))
	if err != nil {
		return "", err
	}
	for _, m := range mounts {
		if m.Root == "/" {
			return m.Mountpoint, nil
		}
	}
	return "", errors.New("no cgroup v2 hierarchy is mounted")
}

// netnsCookie is the kernel's cookie for the daemon's network namespace
// (the host's), as bpf_get_netns_cookie gives it.
func netnsCookie() (uint64, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	c, err := unix.GetsockoptUint64(fd, unix.SOL_SOCKET, unix.SO_NETNS_COOKIE)
	if err != nil {
		return 0, fmt.Errorf("network namespace cookie: %w", err)
	}
	return c, nil
}
