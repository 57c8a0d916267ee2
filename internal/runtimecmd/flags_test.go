package runtimecmd

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

func TestParseSignal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want unix.Signal
		err  string
	}{
		{"9", unix.SIGKILL, ""},
		{"KILL", unix.SIGKILL, ""},
		{"SIGKILL", unix.SIGKILL, ""},
		{"sigterm", unix.SIGTERM, ""},
		{"HUP", unix.SIGHUP, ""},
		{"0", 0, "invalid signal"},
		{"65", 0, "invalid signal"},
		{"BOGUS", 0, "unknown signal"},
	} {
		got, err := parseSignal(tc.in)
		if tc.err != "" {
			assert.Assert(t, is.ErrorContains(err, tc.err), tc.in)
			continue
		}
		assert.NilError(t, err, tc.in)
		assert.Equal(t, got, tc.want, tc.in)
	}
}

func TestParseUser(t *testing.T) {
	var u specs.User
	assert.NilError(t, parseUser("1000:1001", &u))
	assert.Equal(t, u.UID, uint32(1000))
	assert.Equal(t, u.GID, uint32(1001))
	u = specs.User{GID: 7}
	assert.NilError(t, parseUser("5", &u))
	assert.Equal(t, u.UID, uint32(5))
	assert.Equal(t, u.GID, uint32(7), "the gid is kept when not given")
	for _, bad := range []string{"", "root", "1:x", "-1"} {
		assert.Assert(t, is.ErrorContains(parseUser(bad, &u), "invalid user"), bad)
	}
}

func TestUpdateFlags(t *testing.T) {
	cmd := updateCmd(&globals{})
	assert.NilError(t, cmd.ParseFlags([]string{"--memory", "64m", "--memory-swap", "-1", "--cpu-quota", "50000", "--cpuset-cpus", "0-1", "--pids-limit", "20", "--blkio-weight", "300"}))
	fl := map[string]*string{}
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Name != "resources" {
			v := f.Value.String()
			fl[f.Name] = &v
		}
	})
	res := &specs.LinuxResources{}
	assert.NilError(t, applyUpdateFlags(cmd, fl, res))
	assert.Equal(t, *res.Memory.Limit, int64(64<<20))
	assert.Equal(t, *res.Memory.Swap, int64(-1))
	assert.Equal(t, *res.CPU.Quota, int64(50000))
	assert.Equal(t, res.CPU.Cpus, "0-1")
	assert.Equal(t, *res.Pids.Limit, int64(20))
	assert.Equal(t, *res.BlockIO.Weight, uint16(300))
	assert.Assert(t, res.CPU.Shares == nil, "flags not given stay unset")

	bad := updateCmd(&globals{})
	assert.NilError(t, bad.ParseFlags([]string{"--memory", "lots"}))
	v := "lots"
	err := applyUpdateFlags(bad, map[string]*string{"memory": &v}, &specs.LinuxResources{})
	assert.Assert(t, is.ErrorContains(err, `invalid value for --memory: "lots"`))
}
