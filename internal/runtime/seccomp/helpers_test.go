// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

//go:build linux && amd64

package seccomp

import (
	"encoding/binary"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
	"gotest.tools/v3/assert"
)

// Return values the tests expect, spelled like the kernel's.
const (
	retAllow       uint32 = unix.SECCOMP_RET_ALLOW
	retLog         uint32 = unix.SECCOMP_RET_LOG
	retTrap        uint32 = unix.SECCOMP_RET_TRAP
	retKillThread  uint32 = unix.SECCOMP_RET_KILL_THREAD
	retKillProcess uint32 = unix.SECCOMP_RET_KILL_PROCESS
)

func retErrno(errno uint32) uint32 { return unix.SECCOMP_RET_ERRNO | errno }
func retTrace(msg uint32) uint32   { return unix.SECCOMP_RET_TRACE | msg }

func ptr(v uint) *uint { return &v }

// filter is a compiled program loaded into the bpf VM.
type filter struct {
	t  *testing.T
	vm *bpf.VM
}

// compileVM compiles cfg, checks that it assembles (which proves every jump
// fits its field) and loads it into the VM.
func compileVM(t *testing.T, cfg *specs.LinuxSeccomp) filter {
	t.Helper()
	prog, err := Compile(cfg)
	assert.NilError(t, err)
	_, err = bpf.Assemble(prog)
	assert.NilError(t, err)
	vm, err := bpf.NewVM(prog)
	assert.NilError(t, err)
	return filter{t: t, vm: vm}
}

// run returns what the filter answers for the given seccomp_data.
func (f filter) run(data []byte) uint32 {
	f.t.Helper()
	out, err := f.vm.Run(data)
	assert.NilError(f.t, err)
	return uint32(out)
}

// call returns what the filter answers for a native x86_64 system call.
func (f filter) call(name string, args ...uint64) uint32 {
	f.t.Helper()
	nr, ok := syscallNumber(name)
	assert.Assert(f.t, ok, "unknown syscall %s", name)
	return f.run(seccompData(nr, unix.AUDIT_ARCH_X86_64, args...))
}

// seccompData builds a struct seccomp_data. The kernel loads its 32-bit
// words in native (little-endian) byte order, the bpf VM in network order,
// so each word is stored big-endian at the offset where the kernel keeps
// it: the filter then reads the same numbers in both. As on x86_64, the low
// word of args[i] is at 16+8*i and the high word after it.
func seccompData(nr, arch uint32, args ...uint64) []byte {
	b := make([]byte, 64)
	binary.BigEndian.PutUint32(b[offNr:], nr)
	binary.BigEndian.PutUint32(b[offArch:], arch)
	binary.BigEndian.PutUint64(b[8:], 0x7f0000001234) // instruction pointer, never read
	for i, a := range args {
		off := offArgs + 8*i
		binary.BigEndian.PutUint32(b[off:], uint32(a))
		binary.BigEndian.PutUint32(b[off+4:], uint32(a>>32))
	}
	return b
}
