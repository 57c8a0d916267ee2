package runtime_test

import (
	"os/exec"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// TestCgroupV2Host runs a container on a pure cgroup v2 layout. This
// machine is a v1/v2 hybrid, so the test makes one: in a private mount
// namespace it replaces /sys/fs/cgroup with the unified hierarchy, which is
// all a v2 host has there. Only the hugetlb controller lives on this
// host's v2 hierarchy, so the container asks for no limits; what is checked
// is the v2 code path end to end: the cgroup made and removed on the
// unified hierarchy, the device rules (an eBPF program on v2), the cgroup
// namespace and the cgroup2 mount inside.
func TestCgroupV2Host(t *testing.T) {
	r := newRT(t)
	id := containerID(t)
	b := sh(t, `cat /proc/self/cgroup; grep ' /sys/fs/cgroup ' /proc/self/mountinfo
head -c1 /dev/null && echo devnull-ok
( : <>/dev/fuse ) 2>/dev/null || echo fuse-denied`, func(s *specs.Spec) {
		// /dev/fuse exists in the container (opening it needs no
		// capability) but the device rules (deny all, then the runtime's
		// defaults) do not allow it.
		s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229})
		s.Linux.Resources = &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}}
	})
	script := `set -e
mount --make-rprivate /
umount -l /sys/fs/cgroup
mount -t cgroup2 cgroup2 /sys/fs/cgroup
exec "$0" runtime --root "$1" run --bundle "$2" "$3"`
	out, err := exec.Command("unshare", "-m", "sh", "-c", script, berthBin, r.root, b, id).CombinedOutput()
	assert.NilError(t, err, string(out))
	t.Log(string(out))
	o := string(out)
	assert.Assert(t, is.Contains(o, "0::/\n"), "the container's v2 cgroup is its namespace's root")
	assert.Assert(t, is.Contains(o, "cgroup2"), "/sys/fs/cgroup is a cgroup2 mount inside")
	assert.Assert(t, is.Contains(o, "devnull-ok"))
	assert.Assert(t, is.Contains(o, "fuse-denied"), "the eBPF device filter refuses /dev/fuse")
	// `run` deleted the container: nothing of it is left on the unified
	// hierarchy (seen here at /sys/fs/cgroup/unified).
	leftover, _ := exec.Command("sh", "-c", "ls -d /sys/fs/cgroup/unified"+cgroupParent+"/*/ 2>/dev/null").Output()
	assert.Equal(t, strings.TrimSpace(string(leftover)), "")
}
