// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

//go:build linux && amd64

package seccomp_test

import (
	"testing"

	"github.com/berth-project/berth/internal/runtime/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// TestFilterEncoding checks that a filter sent to init (exec) decodes to
// exactly what was compiled, flags included, and that damaged input is
// refused.
func TestFilterEncoding(t *testing.T) {
	cfg := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Flags:         []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno},
			{Names: []string{"personality"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 8, Op: specs.OpEqualTo}}},
		},
	}
	f, err := seccomp.Prepare(cfg)
	assert.NilError(t, err)
	b, err := f.MarshalBinary()
	assert.NilError(t, err)
	g, err := seccomp.UnmarshalFilter(b)
	assert.NilError(t, err)
	again, err := g.MarshalBinary()
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(again, b))
	assert.Check(t, len(b) > 16 && (len(b)-8)%8 == 0)

	for _, bad := range [][]byte{nil, b[:8], b[:len(b)-3]} {
		_, err := seccomp.UnmarshalFilter(bad)
		assert.Check(t, err != nil, "%d bytes accepted", len(bad))
	}
}
