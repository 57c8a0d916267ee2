// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package network

import (
	"net/netip"
	"os/exec"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
	"gotest.tools/v3/assert"
	"gotest.tools/v3/golden"

	"github.com/berth-project/berth/internal/testutil"
)

// inNetNS runs fn on a thread moved into a new network namespace, which
// goes away with the thread when fn returns.
func inNetNS(t *testing.T, fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			t.Error(err)
			return
		}
		fn()
	}()
	<-done
}

// nftList lists table name as nft prints it (nft runs in the calling
// thread's namespace).
func nftList(t *testing.T, name string) string {
	out, err := exec.Command("nft", "list", "table", "ip", name).CombinedOutput()
	assert.NilError(t, err, string(out))
	return string(out)
}

func TestFirewall(t *testing.T) {
	testutil.RequiresRoot(t)
	if _, err := exec.LookPath("nft"); err != nil {
		t.Fatal("nft (Debian's nftables) is needed to read the rules back")
	}
	inNetNS(t, func() {
		fw := &firewall{name: "berth-test0"}
		nets := []*Network{
			{Name: "bridge", Bridge: "test0", Subnet: netip.MustParsePrefix("10.1.0.0/24")},
			{Name: "front", Bridge: "br-front", Subnet: netip.MustParsePrefix("10.2.0.0/24")},
			{Name: "secret", Bridge: "br-secret", Subnet: netip.MustParsePrefix("10.3.0.0/24"), Internal: true},
		}
		ports := []portRule{
			{cid: "c1", ip: netip.MustParseAddr("10.1.0.2"), PortMapping: PortMapping{Proto: "tcp", HostPort: 8080, ContainerPort: 80}},
			{cid: "c2", ip: netip.MustParseAddr("10.2.0.2"), PortMapping: PortMapping{Proto: "udp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 5353, ContainerPort: 53}},
		}
		assert.NilError(t, fw.rebuild(nets, ports[:1]))
		assert.NilError(t, fw.addPorts(ports[1:]))
		golden.Assert(t, nftList(t, fw.name), "TestFirewall/table.golden")

		// rebuilding replaces, never duplicates
		assert.NilError(t, fw.rebuild(nets, ports))
		golden.Assert(t, nftList(t, fw.name), "TestFirewall/table.golden")

		assert.NilError(t, fw.delPorts("c1"))
		assert.NilError(t, fw.syncNetworks(nets[:1]))
		golden.Assert(t, nftList(t, fw.name), "TestFirewall/after.golden")

		assert.NilError(t, fw.remove())
		assert.NilError(t, fw.remove()) // a missing table is no error
		out, _ := exec.Command("nft", "list", "tables").CombinedOutput()
		assert.Equal(t, string(out), "")
	})
}
