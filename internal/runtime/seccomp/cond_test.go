// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

//go:build linux && amd64

package seccomp

import (
	"fmt"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"gotest.tools/v3/assert"
)

// Values around the 32-bit boundary, so that high and low halves order
// differently from the whole: 0x1_00000000 > 0xffffffff although its low
// half is smaller.
var condValues = []uint64{
	0, 1, 5,
	0x7fffffff, 0xfffffffe, 0xffffffff,
	0x1_00000000, 0x1_00000004, 0x1_00000005, 0x1_00000006,
	0x2_00000000, 0xffffffff_ffffff9c, 0xffffffff_ffffffff,
}

func TestConditionOperators(t *testing.T) {
	ops := []struct {
		op   specs.LinuxSeccompOperator
		want func(arg, value uint64) bool
	}{
		{specs.OpEqualTo, func(a, v uint64) bool { return a == v }},
		{specs.OpNotEqual, func(a, v uint64) bool { return a != v }},
		{specs.OpLessThan, func(a, v uint64) bool { return a < v }},
		{specs.OpLessEqual, func(a, v uint64) bool { return a <= v }},
		{specs.OpGreaterThan, func(a, v uint64) bool { return a > v }},
		{specs.OpGreaterEqual, func(a, v uint64) bool { return a >= v }},
	}
	for _, tc := range ops {
		for index := range uint(maxArgs) {
			t.Run(fmt.Sprintf("%s/arg%d", tc.op, index), func(t *testing.T) {
				for _, value := range condValues {
					f := compileVM(t, &specs.LinuxSeccomp{
						DefaultAction: specs.ActErrno,
						Syscalls: []specs.LinuxSyscall{{
							Names:  []string{"ioctl"},
							Action: specs.ActAllow,
							Args:   []specs.LinuxSeccompArg{{Index: index, Value: value, Op: tc.op}},
						}},
					})
					for _, arg := range condValues {
						// The other arguments hold the complement, so a
						// wrong offset shows up.
						args := make([]uint64, maxArgs)
						for i := range args {
							args[i] = ^arg
						}
						args[index] = arg
						want := retErrno(1)
						if tc.want(arg, value) {
							want = retAllow
						}
						assert.Equal(t, f.call("ioctl", args...), want, "arg %#x %s value %#x", arg, tc.op, value)
					}
				}
			})
		}
	}
}

func TestConditionMaskedEqual(t *testing.T) {
	const cloneNamespaces = 0x7e020000 // CLONE_NEW* flags, as in Docker's profile
	tests := []struct {
		name  string
		mask  uint64
		datum uint64
		arg   uint64
		want  bool
	}{
		{name: "no namespace flags", mask: cloneNamespaces, arg: 0x01200011, want: true}, // fork()-style clone
		{name: "thread flags", mask: cloneNamespaces, arg: 0x003d0f00, want: true},
		{name: "CLONE_NEWNS", mask: cloneNamespaces, arg: 0x00020000 | 0x11},
		{name: "CLONE_NEWUSER", mask: cloneNamespaces, arg: 0x10000000},
		{name: "high half ignored by mask", mask: cloneNamespaces, arg: 0xffff0000_00000011, want: true},
		{name: "high half masked", mask: 0xff_00000000, datum: 0x12_00000000, arg: 0xab12_0000ffff, want: true},
		{name: "high half differs", mask: 0xff_00000000, datum: 0x12_00000000, arg: 0xab13_0000ffff},
		{name: "both halves", mask: 0x0f_0000000f, datum: 0x01_00000002, arg: 0xf1_fffffff2, want: true},
		{name: "low half differs", mask: 0x0f_0000000f, datum: 0x01_00000002, arg: 0xf1_fffffff3},
		{name: "datum outside mask never matches", mask: 0xf0, datum: 0x01, arg: 0x01},
		{name: "zero mask", mask: 0, datum: 0, arg: 0xffffffff_ffffffff, want: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.arg&tc.mask == tc.datum, tc.want, "bad test case")
			f := compileVM(t, &specs.LinuxSeccomp{
				DefaultAction: specs.ActErrno,
				Syscalls: []specs.LinuxSyscall{{
					Names:  []string{"clone"},
					Action: specs.ActAllow,
					Args:   []specs.LinuxSeccompArg{{Index: 0, Value: tc.mask, ValueTwo: tc.datum, Op: specs.OpMaskedEqual}},
				}},
			})
			want := retErrno(1)
			if tc.want {
				want = retAllow
			}
			assert.Equal(t, f.call("clone", tc.arg), want)
		})
	}
}

// TestConditionAllArgs checks the longest rule: one condition on each of
// the six arguments, every one of them able to fail.
func TestConditionAllArgs(t *testing.T) {
	args := []specs.LinuxSeccompArg{
		{Index: 0, Value: 0x1_00000000, Op: specs.OpEqualTo},
		{Index: 1, Value: 0x1_00000000, Op: specs.OpGreaterThan},
		{Index: 2, Value: 0xff, ValueTwo: 0x0f, Op: specs.OpMaskedEqual},
		{Index: 3, Value: 5, Op: specs.OpLessThan},
		{Index: 4, Value: 7, Op: specs.OpNotEqual},
		{Index: 5, Value: 9, Op: specs.OpGreaterEqual},
	}
	f := compileVM(t, &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mmap"}, Action: specs.ActErrno, ErrnoRet: ptr(12), Args: args},
			{Names: []string{"mmap"}, Action: specs.ActTrap, Args: args[:1]},
		},
	})
	match := []uint64{0x1_00000000, 0x2_00000000, 0x30f, 4, 8, 9}
	assert.Equal(t, f.call("mmap", match...), retErrno(12))
	fail := []uint64{0x1_00000001, 0x1_00000000, 0x30e, 5, 7, 8}
	for i := range match {
		args := append([]uint64(nil), match...)
		args[i] = fail[i]
		want := retTrap // the second rule checks only argument 0
		if i == 0 {
			want = retAllow
		}
		assert.Equal(t, f.call("mmap", args...), want, "argument %d fails", i)
	}
}
