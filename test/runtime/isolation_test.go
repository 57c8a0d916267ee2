package runtime_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// TestNamespaces checks, from inside, each namespace the default spec asks
// for.
func TestNamespaces(t *testing.T) {
	hostIPC, err := os.Readlink("/proc/self/ns/ipc")
	assert.NilError(t, err)
	hostNet, err := os.Readlink("/proc/self/ns/net")
	assert.NilError(t, err)

	tests := []struct {
		name   string
		script string
		mutate func(*specs.Spec)
		check  func(t *testing.T, out string)
	}{
		{
			name:   "pid",
			script: `echo $$; ps -o pid,comm`,
			check: func(t *testing.T, out string) {
				lines := strings.Split(strings.TrimSpace(out), "\n")
				assert.Equal(t, lines[0], "1")
				// The shell and ps, nothing of the host's.
				procs := lines[2:]
				assert.Check(t, len(procs) >= 1 && len(procs) <= 2, "ps output: %q", out)
				for _, l := range procs {
					f := strings.Fields(l)
					assert.Assert(t, len(f) == 2, "ps line %q", l)
					pid, err := strconv.Atoi(f[0])
					assert.NilError(t, err)
					assert.Check(t, pid <= 2, "process %q is not the container's", l)
				}
			},
		},
		{
			name:   "uts",
			script: `cat /proc/sys/kernel/hostname /proc/sys/kernel/domainname; hostname`,
			mutate: func(s *specs.Spec) { s.Hostname, s.Domainname = "box", "example.test" },
			check: func(t *testing.T, out string) {
				assert.Equal(t, out, "box\nexample.test\nbox\n")
			},
		},
		{
			name:   "ipc",
			script: `readlink /proc/self/ns/ipc`,
			check: func(t *testing.T, out string) {
				assert.Assert(t, is.Regexp(`^ipc:\[\d+\]\n$`, out))
				assert.Check(t, strings.TrimSpace(out) != hostIPC, "container shares the host's IPC namespace")
			},
		},
		{
			name:   "network",
			script: `readlink /proc/self/ns/net; ip -o link | cut -d: -f2; tail -n +3 /proc/net/dev | cut -d: -f1`,
			check: func(t *testing.T, out string) {
				lines := strings.Fields(out)
				assert.Assert(t, len(lines) == 3, "output %q", out)
				assert.Check(t, lines[0] != hostNet, "container shares the host's network namespace")
				assert.Check(t, is.DeepEqual(lines[1:], []string{"lo", "lo"}))
			},
		},
		{
			name:   "cgroup",
			script: `cat /proc/self/cgroup`,
			check: func(t *testing.T, out string) {
				lines := strings.Split(strings.TrimSpace(out), "\n")
				assert.Assert(t, len(lines) > 0)
				for _, l := range lines {
					assert.Check(t, strings.HasSuffix(l, ":/"), "cgroup %q is not the namespace's root", l)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRT(t)
			var mutate []func(*specs.Spec)
			if tc.mutate != nil {
				mutate = append(mutate, tc.mutate)
			}
			res := r.run(sh(t, tc.script, mutate...))
			assert.Equal(t, res.code, 0, res)
			tc.check(t, res.stdout)
		})
	}
}

// TestUserNamespace maps the container's root to host uid 100000: the
// container sees the mapping, and a file it creates in a bind-mounted host
// directory belongs to 100000 on the host.
func TestUserNamespace(t *testing.T) {
	r := newRT(t)
	shared := t.TempDir()
	assert.NilError(t, os.Chmod(shared, 0o777))
	traversable(t, shared)
	b := userNSBundle(t, `cat /proc/self/uid_map /proc/self/gid_map; id -u; touch /shared/file && echo created
echo x > /dev/null && head -c 2 /dev/zero | wc -c`,
		withMounts(specs.Mount{Destination: "/shared", Type: "bind", Source: shared, Options: []string{"rbind", "rw"}}))

	res := r.run(b)
	assert.Equal(t, res.code, 0, res)
	fields := strings.Fields(res.stdout)
	assert.Check(t, is.DeepEqual(fields, []string{"0", "100000", "65536", "0", "100000", "65536", "0", "created", "2"}), res)
	var st unix.Stat_t
	assert.NilError(t, unix.Stat(filepath.Join(shared, "file"), &st))
	assert.Check(t, is.Equal(st.Uid, uint32(userNSHostID)))
	assert.Check(t, is.Equal(st.Gid, uint32(userNSHostID)))
}

// TestJoinNetworkNamespace runs a container in an existing network
// namespace, given by path. The namespace only has loopback.
func TestJoinNetworkNamespace(t *testing.T) {
	r := newRT(t)
	path := netns(t)
	var want unix.Stat_t
	assert.NilError(t, unix.Stat(path, &want))

	res := r.run(sh(t, `readlink /proc/self/ns/net; ip -o link | cut -d: -f2`,
		withNamespace(specs.NetworkNamespace, path)))
	assert.Equal(t, res.code, 0, res)
	assert.Check(t, is.Equal(res.stdout, fmt.Sprintf("net:[%d]\n lo\n", want.Ino)))
}

// netns makes a named network namespace with `ip netns add` (only
// loopback in it) and removes it when the test ends. It returns its path.
func netns(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	name := "berth-test-" + hex.EncodeToString(b)
	// ip makes /run/netns a shared mount of itself the first time; undo
	// that too if it was not there before.
	_, statErr := os.Stat("/run/netns")
	hadDir := statErr == nil
	hadMount := isMountPoint(t, "/run/netns")
	out, err := exec.Command("ip", "netns", "add", name).CombinedOutput()
	assert.NilError(t, err, "ip netns add: %s", out)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "delete", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns delete %s: %v: %s", name, err, out)
		}
		if entries, _ := os.ReadDir("/run/netns"); len(entries) > 0 {
			return
		}
		if !hadMount && isMountPoint(t, "/run/netns") {
			if err := unix.Unmount("/run/netns", unix.MNT_DETACH); err != nil {
				t.Errorf("unmount /run/netns: %v", err)
			}
		}
		if !hadDir {
			os.Remove("/run/netns")
		}
	})
	return "/run/netns/" + name
}

// isMountPoint reports whether path is a mount point in the host's mount
// table.
func isMountPoint(t *testing.T, path string) bool {
	t.Helper()
	for l := range hostMounts(t) {
		if f := strings.Fields(l); len(f) > 4 && f[4] == path {
			return true
		}
	}
	return false
}

// TestNewNetworkNamespaceLoopback: in a network namespace of its own the
// container finds loopback up, as runc sets it up ("loopback" network),
// with and without a user namespace.
func TestNewNetworkNamespaceLoopback(t *testing.T) {
	r := newRT(t)
	script := `cat /sys/class/net/lo/operstate /sys/class/net/lo/flags; ip -4 addr show lo | grep -o 'inet [0-9./]*'; nc -l -p 8080 -e echo hello &
for i in $(seq 50); do nc 127.0.0.1 8080 2>/dev/null && break; sleep 0.1; done`
	for name, b := range map[string]string{"plain": sh(t, script), "userns": userNSBundle(t, script)} {
		res := r.run(b)
		assert.Equal(t, res.code, 0, "%s: %v", name, res)
		assert.Check(t, is.Equal(res.stdout, "unknown\n0x9\ninet 127.0.0.1/8\nhello\n"), name)
	}
}
