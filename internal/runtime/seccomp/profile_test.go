// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

//go:build linux && amd64

package seccomp

import (
	"fmt"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
	"gotest.tools/v3/assert"
)

// dockerShapedProfile builds a profile shaped like Docker's default one
// (moby/profiles seccomp/default.json as a container without extra
// capabilities gets it): an allow list of about 350 names, many of them
// other architectures' system calls, followed by argument rules for socket,
// personality and clone, and clone3 failing with ENOSYS.
func dockerShapedProfile() *specs.LinuxSeccomp {
	restricted := []string{
		"acct", "bpf", "chroot", "clone", "clone3", "delete_module", "finit_module",
		"init_module", "kexec_file_load", "kexec_load", "keyctl", "mount", "move_mount",
		"open_by_handle_at", "perf_event_open", "personality", "pivot_root", "ptrace",
		"reboot", "setns", "socket", "swapoff", "swapon", "umount2", "unshare", "userfaultfd",
	}
	var allow []string
	for _, e := range syscallTable {
		if !slices.Contains(restricted, e.name) {
			allow = append(allow, e.name)
		}
	}
	// Names from Docker's list that x86_64 lacks.
	allow = append(allow, "chown32", "clock_gettime64", "fcntl64", "fstat64", "futex_time64",
		"_llseek", "mmap2", "_newselect", "recv", "send", "sigreturn", "socketcall",
		"ugetrlimit", "waitpid", "riscv_hwprobe", "arm_fadvise64_64", "s390_runtime_instr")

	argEq := func(v uint64) []specs.LinuxSeccompArg {
		return []specs.LinuxSeccompArg{{Index: 0, Value: v, Op: specs.OpEqualTo}}
	}
	syscalls := []specs.LinuxSyscall{{Names: allow, Action: specs.ActAllow}}
	syscalls = append(syscalls, specs.LinuxSyscall{
		Names: []string{"socket"}, Action: specs.ActAllow,
		Args: []specs.LinuxSeccompArg{{Index: 0, Value: 12, Op: specs.OpLessThan}},
	})
	for _, family := range []uint64{13, 14, 15, 16, 17, 18, 21, 22, 24, 26, 27, 28, 29, 30, 31, 32, 33, 35, 36, 39, 41, 42, 43, 44, 45} {
		syscalls = append(syscalls, specs.LinuxSyscall{Names: []string{"socket"}, Action: specs.ActAllow, Args: argEq(family)})
	}
	for _, persona := range []uint64{0x0, 0x8, 0x20000, 0x20008, 0xffffffff} {
		syscalls = append(syscalls, specs.LinuxSyscall{Names: []string{"personality"}, Action: specs.ActAllow, Args: argEq(persona)})
	}
	syscalls = append(syscalls,
		specs.LinuxSyscall{
			Names: []string{"clone"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0x7e020000, Op: specs.OpMaskedEqual}},
		},
		specs.LinuxSyscall{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: ptr(uint(unix.ENOSYS))},
	)
	return &specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: ptr(uint(unix.EPERM)),
		Architectures:   []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls:        syscalls,
	}
}

func TestDockerShapedProfile(t *testing.T) {
	cfg := dockerShapedProfile()
	prog, err := Compile(cfg)
	assert.NilError(t, err)
	assert.Assert(t, len(prog) > 600 && len(prog) < 1000, "%d instructions", len(prog))

	tests := []struct {
		name    string
		syscall string
		args    []uint64
		want    uint32
	}{
		{name: "read", syscall: "read", want: retAllow},
		{name: "execve", syscall: "execve", want: retAllow},
		{name: "last in table", syscall: "write", want: retAllow},
		{name: "mount", syscall: "mount", want: retErrno(1)},
		{name: "unshare", syscall: "unshare", want: retErrno(1)},
		{name: "socket AF_INET", syscall: "socket", args: []uint64{unix.AF_INET}, want: retAllow},
		{name: "socket AF_NETLINK", syscall: "socket", args: []uint64{unix.AF_NETLINK}, want: retAllow},
		{name: "socket AF_PACKET", syscall: "socket", args: []uint64{unix.AF_PACKET}, want: retAllow},
		{name: "socket AF_ALG", syscall: "socket", args: []uint64{unix.AF_ALG}, want: retErrno(1)},
		{name: "socket AF_VSOCK", syscall: "socket", args: []uint64{unix.AF_VSOCK}, want: retErrno(1)},
		{name: "socket family with high bits", syscall: "socket", args: []uint64{1<<32 | unix.AF_INET}, want: retErrno(1)},
		{name: "personality PER_LINUX", syscall: "personality", args: []uint64{0}, want: retAllow},
		{name: "personality PER_LINUX32", syscall: "personality", args: []uint64{8}, want: retAllow},
		{name: "personality UNAME26", syscall: "personality", args: []uint64{0x20000}, want: retAllow},
		{name: "personality query", syscall: "personality", args: []uint64{0xffffffff}, want: retAllow},
		{name: "personality other", syscall: "personality", args: []uint64{0x0040000}, want: retErrno(1)},
		{name: "clone thread", syscall: "clone", args: []uint64{0x003d0f00}, want: retAllow},
		{name: "clone newuser", syscall: "clone", args: []uint64{0x10000000 | 0x11}, want: retErrno(1)},
		{name: "clone3", syscall: "clone3", want: retErrno(uint32(unix.ENOSYS))},
	}
	f := compileVM(t, cfg)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, f.call(tc.syscall, tc.args...), tc.want)
		})
	}
	t.Run("i386 read", func(t *testing.T) {
		assert.Equal(t, f.run(seccompData(3, unix.AUDIT_ARCH_I386)), retErrno(1))
	})
}

// TestBigProfile compiles rules for every x86_64 system call plus unknown
// names, half of them with two conditions, and checks each system call
// reaches its own rule: a jump that overflowed would land elsewhere.
func TestBigProfile(t *testing.T) {
	var syscalls []specs.LinuxSyscall
	for _, e := range syscallTable {
		sc := specs.LinuxSyscall{Names: []string{e.name}, Action: specs.ActErrno, ErrnoRet: ptr(uint(e.nr) + 1)}
		if e.nr%2 == 1 {
			sc.Args = []specs.LinuxSeccompArg{
				{Index: uint(e.nr % 6), Value: uint64(e.nr)<<32 | uint64(e.nr), Op: specs.OpEqualTo},
				{Index: uint(e.nr+1) % 6, Value: uint64(e.nr), Op: specs.OpGreaterEqual},
			}
		}
		syscalls = append(syscalls, sc)
	}
	for i := range 40 {
		syscalls = append(syscalls, specs.LinuxSyscall{Names: []string{fmt.Sprintf("unknown%d", i)}, Action: specs.ActKillProcess})
	}
	cfg := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: syscalls}
	prog, err := Compile(cfg)
	assert.NilError(t, err)
	assert.Assert(t, len(prog) > 2000, "%d instructions", len(prog))

	f := compileVM(t, cfg)
	for _, e := range syscallTable {
		args := make([]uint64, maxArgs)
		if e.nr%2 == 1 {
			args[e.nr%6] = uint64(e.nr)<<32 | uint64(e.nr)
			args[(e.nr+1)%6] = uint64(e.nr)
		}
		assert.Equal(t, f.call(e.name, args...), retErrno(e.nr+1), e.name)
		if e.nr%2 == 1 {
			args[e.nr%6] = uint64(e.nr) // high half differs
			assert.Equal(t, f.call(e.name, args...), retAllow, e.name)
		}
	}
}

// TestLongSyscallBlock gives one system call more rules than a conditional
// jump can skip, so its block header needs the unconditional jump.
func TestLongSyscallBlock(t *testing.T) {
	var syscalls []specs.LinuxSyscall
	for i := range uint64(100) {
		syscalls = append(syscalls, specs.LinuxSyscall{
			Names: []string{"ioctl"}, Action: specs.ActErrno, ErrnoRet: ptr(uint(i + 1)),
			Args: []specs.LinuxSeccompArg{{Index: 1, Value: 0x5400 + i, Op: specs.OpEqualTo}},
		})
	}
	syscalls = append(syscalls, specs.LinuxSyscall{Names: []string{"getpid"}, Action: specs.ActTrap})
	cfg := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: syscalls}
	prog, err := Compile(cfg)
	assert.NilError(t, err)
	assert.Assert(t, slices.ContainsFunc(prog, func(ins bpf.Instruction) bool {
		_, ok := ins.(bpf.Jump)
		return ok
	}), "no unconditional jump in the program")

	f := compileVM(t, cfg)
	for i := range uint64(100) {
		assert.Equal(t, f.call("ioctl", 3, 0x5400+i), retErrno(uint32(i+1)))
	}
	assert.Equal(t, f.call("ioctl", 3, 0x5400+100), retAllow)
	assert.Equal(t, f.call("getpid"), retTrap)
	assert.Equal(t, f.call("read"), retAllow)
}

func TestTooManyInstructions(t *testing.T) {
	var syscalls []specs.LinuxSyscall
	for i := range uint64(1000) {
		syscalls = append(syscalls, specs.LinuxSyscall{
			Names: []string{"ioctl"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 1, Value: i, Op: specs.OpEqualTo}},
		})
	}
	_, err := Compile(&specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: syscalls})
	assert.ErrorContains(t, err, "more than the kernel limit of 4096")
}
