package runtime_test

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// TestMemoryPolicy binds the container's memory to node 0 and reads the
// policy back from /proc/self/numa_maps.
func TestMemoryPolicy(t *testing.T) {
	r := newRT(t)
	b := sh(t, `head -1 /proc/self/numa_maps`, func(s *specs.Spec) {
		s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: specs.MpolBind, Nodes: "0"}
	})
	res := r.run(b)
	assert.Equal(t, res.code, 0, res)
	assert.Assert(t, is.Contains(res.stdout, " bind:0 "))
}

func TestMemoryPolicyRefused(t *testing.T) {
	r := newRT(t)
	b := sh(t, `true`, func(s *specs.Spec) {
		s.Linux.MemoryPolicy = &specs.LinuxMemoryPolicy{Mode: "MPOL_BOGUS"}
	})
	res := r.cmd("", "create", "--bundle", b, containerID(t))
	assertOneLineError(t, res, `unknown memory policy mode "MPOL_BOGUS"`)
}
