package runtime_test

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// TestSchedulerAndAffinity checks process.scheduler (policy and nice, read
// from /proc/self/sched and stat) and execCPUAffinity.final.
func TestSchedulerAndAffinity(t *testing.T) {
	r := newRT(t)
	b := sh(t, `grep Cpus_allowed_list /proc/self/status; echo nice=$(cut -d' ' -f19 /proc/self/stat); grep '^policy' /proc/self/sched`, func(s *specs.Spec) {
		s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedBatch, Nice: 5}
		s.Process.ExecCPUAffinity = &specs.CPUAffinity{Initial: "0-1", Final: "1"}
	})
	res := r.run(b)
	assert.Equal(t, res.code, 0, res)
	assert.Assert(t, is.Regexp(`Cpus_allowed_list:\s+1\n`, res.stdout))
	assert.Assert(t, is.Contains(res.stdout, "nice=5\n"))
	assert.Assert(t, is.Regexp(`policy\s+:\s+3\n`, res.stdout), "SCHED_BATCH is policy 3")
}

// TestSchedulerRefused: a bad policy or CPU list fails create.
func TestSchedulerRefused(t *testing.T) {
	r := newRT(t)
	for _, tc := range []struct {
		name   string
		mutate func(*specs.Spec)
		want   string
	}{
		{"bad cpu list", func(s *specs.Spec) { s.Process.ExecCPUAffinity = &specs.CPUAffinity{Final: "x-1"} }, "invalid CPU list"},
		{"bad policy", func(s *specs.Spec) { s.Process.Scheduler = &specs.Scheduler{Policy: "SCHED_BOGUS"} }, "unsupported scheduling policy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := r.cmd("", "create", "--bundle", sh(t, "true", tc.mutate), containerID(t))
			assertOneLineError(t, res, tc.want)
		})
	}
}
