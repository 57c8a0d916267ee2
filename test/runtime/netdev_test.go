package runtime_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// TestNetDevices moves one end of a veth pair made for the test into the
// container, renamed; no traffic is sent.
func TestNetDevices(t *testing.T) {
	r := newRT(t)
	host := fmt.Sprintf("bnd%d", os.Getpid()%100000)
	peer := host + "p"
	out, err := exec.Command("ip", "link", "add", host, "type", "veth", "peer", "name", peer).CombinedOutput()
	assert.NilError(t, err, string(out))
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", host).Run()
		exec.Command("ip", "link", "del", peer).Run()
	})
	// a sysctl may name the device: it is there before init writes them
	b := sh(t, `ip -o link | cut -d: -f2 | cut -d@ -f1; cat /proc/sys/net/ipv4/conf/eth9/forwarding`, func(s *specs.Spec) {
		s.Linux.NetDevices = map[string]specs.LinuxNetDevice{host: {Name: "eth9"}}
		s.Linux.Sysctl = map[string]string{"net.ipv4.conf.eth9.forwarding": "1"}
	})
	res := r.run(b)
	assert.Equal(t, res.code, 0, res)
	assert.Assert(t, is.Contains(res.stdout, " eth9\n"))
	assert.Assert(t, strings.HasSuffix(res.stdout, "\n1\n"), res)
	_, err = exec.Command("ip", "link", "show", host).CombinedOutput()
	assert.Assert(t, err != nil, "the device left the host's namespace")
}

func TestNetDevicesRefused(t *testing.T) {
	r := newRT(t)
	for _, tc := range []struct {
		name   string
		mutate func(*specs.Spec)
		want   string
	}{
		{"missing device", func(s *specs.Spec) {
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"nosuchdev0": {}}
		}, "network device nosuchdev0"},
		{"host network", func(s *specs.Spec) {
			withoutNamespace(specs.NetworkNamespace)(s)
			s.Linux.NetDevices = map[string]specs.LinuxNetDevice{"lo": {}}
		}, "netDevices require a new network namespace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := sh(t, `true`, tc.mutate)
			id := containerID(t)
			mounts := hostMounts(t)
			res := r.cmd("", "create", "--bundle", b, id)
			assertOneLineError(t, res, tc.want)
			r.assertNoLeftovers(id, readSpec(t, b).Linux.CgroupsPath, mounts)
		})
	}
}
