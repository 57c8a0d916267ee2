package runtime_test

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"gotest.tools/v3/assert"
)

// TestCreateFailsEarly gives create a process that cannot be started. As
// with runc, create itself must fail (one line, nothing left behind), not
// report success and leave the error to start: an engine that creates
// containers ahead of time learns of the problem at create.
func TestCreateFailsEarly(t *testing.T) {
	var host unix.Rlimit
	assert.NilError(t, unix.Getrlimit(unix.RLIMIT_NOFILE, &host))
	tests := []struct {
		name   string
		mutate func(*specs.Spec)
		want   string
	}{
		{
			name: "nofile above the host's hard limit",
			mutate: func(s *specs.Spec) {
				s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: host.Max + 1000}}
			},
			want: "RLIMIT_NOFILE",
		},
		{
			name:   "missing executable",
			mutate: func(s *specs.Spec) { s.Process.Args = []string{"/nonexistent"} },
			want:   "/nonexistent",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRT(t)
			mounts := hostMounts(t)
			b := sh(t, ``, tc.mutate)
			id := containerID(t)
			res := r.cmd("", "create", "--bundle", b, id)
			assertOneLineError(t, res, tc.want)
			r.assertNoLeftovers(id, readSpec(t, b).Linux.CgroupsPath, mounts)
		})
	}
}
