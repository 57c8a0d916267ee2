package runtime_test

import (
	"fmt"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// TestSmallPidsLimit runs a container that needs a single process under
// very small pids limits. The limit is for the container's program; the
// runtime's own init (a Go program with several threads, each of which
// counts against pids.max) must not be held to it, as runc's is not.
func TestSmallPidsLimit(t *testing.T) {
	for _, limit := range []int64{1, 2, 3, 4} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			r := newRT(t)
			res := r.run(sh(t, `echo ok`, withResources(func(r *specs.LinuxResources) {
				r.Pids = &specs.LinuxPids{Limit: ptr(limit)}
			})))
			assert.Check(t, is.Equal(res.code, 0), res)
			assert.Check(t, is.Equal(res.stdout, "ok\n"), res)
		})
	}
}
