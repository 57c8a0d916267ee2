// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package e2e

import (
	"os"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/berth-project/berth/internal/testutil"
)

// TestSharedModes checks what a container sees when it shares a
// namespace with another container or the host, against Docker 20.10's
// behaviour: --network container:<id> takes that container's hostname,
// /etc/hosts and resolv.conf, and refuses the options that would change
// them; --ipc container:<id> needs a shareable donor and shares its
// /dev/shm; --network host copies the host's /etc/hosts and still applies
// --dns options; --uts host refuses --hostname.
func TestSharedModes(t *testing.T) {
	testutil.RequiresRoot(t)
	rmOnCleanup(t, "netdonor", "ipcdonor", "privdonor")
	ok(t, "run", "-d", "--name", "netdonor", "--hostname", "donorhost", "--network", "none", "busybox", "sleep", "100")
	assert.Equal(t, ok(t, "run", "--rm", "--network", "container:netdonor", "busybox", "sh", "-c", "hostname; cat /etc/hostname"), "donorhost\ndonorhost")
	donor := ok(t, "inspect", "-f", "{{.HostsPath}} {{.ResolvConfPath}}", "netdonor")
	ok(t, "run", "--name", "netjoiner", "--network", "container:netdonor", "busybox", "true")
	rmOnCleanup(t, "netjoiner")
	assert.Equal(t, ok(t, "inspect", "-f", "{{.HostsPath}} {{.ResolvConfPath}}", "netjoiner"), donor)
	for flag, what := range map[string]string{
		"--hostname=x":         "hostname and the network mode",
		"--dns=192.0.2.1":      "dns and the network mode",
		"--add-host=a:1.2.3.4": "custom host-to-IP mapping and the network mode",
		"--expose=80":          "port exposing and the container type network mode",
		"--publish=8080:80":    "port publishing and the container type network mode",
	} {
		fails(t, 125, "conflicting options: "+what, "run", "--rm", "--network", "container:netdonor", flag, "busybox", "true")
	}
	fails(t, 125, "conflicting options: hostname and the UTS mode", "run", "--rm", "--uts", "host", "--hostname", "x", "busybox", "true")

	ok(t, "run", "-d", "--name", "ipcdonor", "--ipc", "shareable", "--shm-size", "2m", "--network", "none", "busybox", "sh", "-c", "echo from-donor > /dev/shm/a; sleep 100")
	out := ok(t, "run", "--rm", "--network", "none", "--ipc", "container:ipcdonor", "busybox", "sh", "-c",
		"for i in 1 2 3 4 5 6 7 8 9 10; do [ -e /dev/shm/a ] && break; sleep 0.2; done; cat /dev/shm/a; echo from-joiner > /dev/shm/b; df -k /dev/shm | tail -1")
	assert.Check(t, strings.HasPrefix(out, "from-donor\n"), out)
	assert.Check(t, is.Contains(out, " 2048 "), out) // the donor's size
	assert.Equal(t, ok(t, "exec", "ipcdonor", "cat", "/dev/shm/b"), "from-joiner")
	// a mount of the user's at /dev/shm wins over the shareable one
	shm := t.TempDir()
	assert.NilError(t, os.WriteFile(shm+"/mine", []byte("user's"), 0o644))
	assert.Equal(t, ok(t, "run", "--rm", "--network", "none", "--ipc", "shareable", "-v", shm+":/dev/shm", "busybox", "cat", "/dev/shm/mine"), "user's")
	ok(t, "run", "-d", "--name", "privdonor", "--network", "none", "busybox", "sleep", "100")
	fails(t, 125, "can't join IPC of container privdonor: non-shareable IPC", "run", "--rm", "--ipc", "container:privdonor", "busybox", "true")

	hosts, err := os.ReadFile("/etc/hosts")
	assert.NilError(t, err)
	assert.Equal(t, ok(t, "run", "--rm", "--network", "host", "busybox", "cat", "/etc/hosts"), strings.TrimSpace(string(hosts)))
	assert.Equal(t, ok(t, "run", "--rm", "--network", "host", "--dns", "192.0.2.53", "--dns-search", "example.com", "--dns-option", "ndots:3", "busybox", "cat", "/etc/resolv.conf"),
		"search example.com\nnameserver 192.0.2.53\noptions ndots:3")
}

// TestCgroupMountsAndInitGroup checks two details Docker 20.10 has: the
// cgroup hierarchies in the container are nosuid, nodev and noexec (also
// the ones bound from the host without a cgroup namespace), and the
// command --init runs gets a process group of its own, as tini gives it.
func TestCgroupMountsAndInitGroup(t *testing.T) {
	testutil.RequiresRoot(t)
	for _, ns := range []string{"host", "private"} {
		out := ok(t, "run", "--rm", "--network", "none", "--cgroupns", ns, "busybox", "sh", "-c", `awk '$5 ~ "^/sys/fs/cgroup" {print $5, $6}' /proc/self/mountinfo`)
		lines := strings.Split(out, "\n")
		assert.Assert(t, len(lines) > 0)
		for _, l := range lines {
			assert.Check(t, is.Contains(l, "nosuid,nodev,noexec"), "cgroupns %s: %s", ns, l)
		}
	}
	out := ok(t, "run", "--rm", "--network", "none", "--init", "busybox", "sh", "-c", `cut -d" " -f5 /proc/$$/stat`)
	assert.Check(t, out != "1" && out != "", "the command's process group is %q", out)
}

// TestVolatileOnlyForRm checks that a container's writable layer honours
// fsync (a plain overlay mount, as Docker's), except for an --rm
// container, whose layer goes at exit anyway: its overlay is volatile.
func TestVolatileOnlyForRm(t *testing.T) {
	testutil.RequiresRoot(t)
	const probe = `grep " / " /proc/self/mountinfo | grep -c volatile || true`
	rmOnCleanup(t, "kept")
	assert.Equal(t, ok(t, "run", "--name", "kept", "--network", "none", "busybox", "sh", "-c", probe), "0")
	assert.Equal(t, ok(t, "run", "--rm", "--network", "none", "busybox", "sh", "-c", probe), "1")
	// the stopped container's filesystem mounts again (diff, export)
	ok(t, "start", "-a", "kept")
	ok(t, "diff", "kept")
}
