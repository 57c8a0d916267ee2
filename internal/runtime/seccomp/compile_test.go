// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

//go:build linux && amd64

package seccomp

import (
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"gotest.tools/v3/assert"
)

func TestCompileActions(t *testing.T) {
	tests := []struct {
		name        string
		defAction   specs.LinuxSeccompAction
		defErrno    *uint
		action      specs.LinuxSeccompAction
		errnoRet    *uint
		wantListed  uint32
		wantDefault uint32
	}{
		{name: "allow list", defAction: specs.ActErrno, action: specs.ActAllow, wantListed: retAllow, wantDefault: retErrno(1)},
		{name: "allow list with defaultErrnoRet", defAction: specs.ActErrno, defErrno: ptr(38), action: specs.ActAllow, wantListed: retAllow, wantDefault: retErrno(38)},
		{name: "deny list", defAction: specs.ActAllow, action: specs.ActErrno, wantListed: retErrno(1), wantDefault: retAllow},
		{name: "deny list with errnoRet", defAction: specs.ActAllow, action: specs.ActErrno, errnoRet: ptr(22), wantListed: retErrno(22), wantDefault: retAllow},
		{name: "errnoRet zero", defAction: specs.ActAllow, action: specs.ActErrno, errnoRet: ptr(0), wantListed: retErrno(0), wantDefault: retAllow},
		{name: "kill", defAction: specs.ActAllow, action: specs.ActKill, wantListed: retKillThread, wantDefault: retAllow},
		{name: "kill thread", defAction: specs.ActAllow, action: specs.ActKillThread, wantListed: retKillThread, wantDefault: retAllow},
		{name: "kill process", defAction: specs.ActAllow, action: specs.ActKillProcess, wantListed: retKillProcess, wantDefault: retAllow},
		{name: "trap", defAction: specs.ActAllow, action: specs.ActTrap, wantListed: retTrap, wantDefault: retAllow},
		{name: "trace", defAction: specs.ActAllow, action: specs.ActTrace, wantListed: retTrace(1), wantDefault: retAllow},
		{name: "trace with errnoRet", defAction: specs.ActAllow, action: specs.ActTrace, errnoRet: ptr(1234), wantListed: retTrace(1234), wantDefault: retAllow},
		{name: "log", defAction: specs.ActAllow, action: specs.ActLog, wantListed: retLog, wantDefault: retAllow},
		{name: "default log", defAction: specs.ActLog, action: specs.ActAllow, wantListed: retAllow, wantDefault: retLog},
		{name: "default kill process", defAction: specs.ActKillProcess, action: specs.ActAllow, wantListed: retAllow, wantDefault: retKillProcess},
		{name: "default trace", defAction: specs.ActTrace, defErrno: ptr(7), action: specs.ActAllow, wantListed: retAllow, wantDefault: retTrace(7)},
		{name: "defaultErrnoRet ignored for allow", defAction: specs.ActAllow, defErrno: ptr(7), action: specs.ActErrno, wantListed: retErrno(1), wantDefault: retAllow},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := compileVM(t, &specs.LinuxSeccomp{
				DefaultAction:   tc.defAction,
				DefaultErrnoRet: tc.defErrno,
				Syscalls: []specs.LinuxSyscall{
					{Names: []string{"getpid", "mkdir", "mkdirat"}, Action: tc.action, ErrnoRet: tc.errnoRet},
				},
			})
			for _, name := range []string{"getpid", "mkdir", "mkdirat"} {
				assert.Equal(t, f.call(name), tc.wantListed, name)
			}
			for _, name := range []string{"read", "getppid", "rmdir", "_sysctl", "set_mempolicy_home_node"} {
				assert.Equal(t, f.call(name), tc.wantDefault, name)
			}
			// Numbers past the end of the table are not special.
			assert.Equal(t, f.run(seccompData(1000, unix.AUDIT_ARCH_X86_64)), tc.wantDefault)
		})
	}
}

func TestCompileArch(t *testing.T) {
	getpid, _ := syscallNumber("getpid")
	tests := []struct {
		name string
		nr   uint32
		arch uint32
		want uint32
	}{
		{name: "native", nr: getpid, arch: unix.AUDIT_ARCH_X86_64, want: retAllow},
		{name: "i386", nr: getpid, arch: unix.AUDIT_ARCH_I386, want: retErrno(1)},
		{name: "i386 getpid number", nr: 20, arch: unix.AUDIT_ARCH_I386, want: retErrno(1)},
		{name: "aarch64", nr: getpid, arch: unix.AUDIT_ARCH_AARCH64, want: retErrno(1)},
		{name: "x32", nr: x32Bit | getpid, arch: unix.AUDIT_ARCH_X86_64, want: retErrno(1)},
		{name: "x32 with other high bits", nr: 0xffffffff, arch: unix.AUDIT_ARCH_X86_64, want: retErrno(1)},
		{name: "high bit without x32 bit", nr: 0x80000000 | getpid, arch: unix.AUDIT_ARCH_X86_64, want: retErrno(1)},
	}
	f := compileVM(t, &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"getpid"}, Action: specs.ActAllow}},
	})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, f.run(seccompData(tc.nr, tc.arch)), tc.want)
		})
	}
}

// A deny-list (default allow) must not be bypassed through another ABI:
// foreign system calls fail with ENOSYS instead of being allowed.
func TestCompileArchDenyList(t *testing.T) {
	mkdir, _ := syscallNumber("mkdir")
	for _, def := range []specs.LinuxSeccompAction{specs.ActAllow, specs.ActLog} {
		f := compileVM(t, &specs.LinuxSeccomp{
			DefaultAction: def,
			Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActErrno}},
		})
		assert.Equal(t, f.run(seccompData(mkdir, unix.AUDIT_ARCH_X86_64)), retErrno(uint32(unix.EPERM)))
		assert.Equal(t, f.run(seccompData(39, unix.AUDIT_ARCH_I386)), retErrno(uint32(unix.ENOSYS)), def)
		assert.Equal(t, f.run(seccompData(x32Bit|mkdir, unix.AUDIT_ARCH_X86_64)), retErrno(uint32(unix.ENOSYS)), def)
	}
}

func TestCompileRules(t *testing.T) {
	cfg := &specs.LinuxSeccomp{
		DefaultAction: specs.ActKillProcess,
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"personality"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0, Op: specs.OpEqualTo}}},
			{Names: []string{"getpid"}, Action: specs.ActAllow},
			{Names: []string{"personality"}, Action: specs.ActErrno, ErrnoRet: ptr(22), Args: []specs.LinuxSeccompArg{{Index: 0, Value: 8, Op: specs.OpEqualTo}}},
			{Names: []string{"personality"}, Action: specs.ActLog},
			// Never reached: the rule before always matches.
			{Names: []string{"personality"}, Action: specs.ActTrap, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 9, Op: specs.OpEqualTo}}},
			// Conditions of one rule are ANDed.
			{Names: []string{"kill"}, Action: specs.ActErrno, ErrnoRet: ptr(3), Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: 1, Op: specs.OpEqualTo},
				{Index: 1, Value: 9, Op: specs.OpEqualTo},
			}},
			// A repeated index splits the rule, as in runc: ORed.
			{Names: []string{"socket"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: 1, Op: specs.OpEqualTo},
				{Index: 0, Value: 10, Op: specs.OpEqualTo},
			}},
			// A second entry for a system call named earlier; the first
			// entry's rules come first.
			{Names: []string{"getpid", "kill"}, Action: specs.ActTrap},
		},
	}
	tests := []struct {
		name    string
		syscall string
		args    []uint64
		want    uint32
	}{
		{name: "first rule", syscall: "personality", args: []uint64{0}, want: retAllow},
		{name: "second rule", syscall: "personality", args: []uint64{8}, want: retErrno(22)},
		{name: "unconditional rule", syscall: "personality", args: []uint64{9}, want: retLog},
		{name: "unconditional rule high half", syscall: "personality", args: []uint64{1 << 32}, want: retLog},
		{name: "unconditional first", syscall: "getpid", want: retAllow},
		{name: "and both hold", syscall: "kill", args: []uint64{1, 9}, want: retErrno(3)},
		{name: "and first fails", syscall: "kill", args: []uint64{2, 9}, want: retTrap},
		{name: "and second fails", syscall: "kill", args: []uint64{1, 15}, want: retTrap},
		{name: "or first", syscall: "socket", args: []uint64{1}, want: retAllow},
		{name: "or second", syscall: "socket", args: []uint64{10}, want: retAllow},
		{name: "or neither", syscall: "socket", args: []uint64{2}, want: retKillProcess},
		{name: "not listed", syscall: "getppid", want: retKillProcess},
	}
	f := compileVM(t, cfg)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, f.call(tc.syscall, tc.args...), tc.want)
		})
	}
}

func TestCompileSkipsUnknownNames(t *testing.T) {
	known := &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Syscalls:      []specs.LinuxSyscall{{Names: []string{"getpid"}, Action: specs.ActAllow}},
	}
	withUnknown := &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"socketcall", "getpid", "no_such_syscall", "fcntl64"}, Action: specs.ActAllow},
			{Names: []string{"arm_fadvise64_64"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 1, Op: specs.OpGreaterThan}}},
		},
	}
	want, err := Compile(known)
	assert.NilError(t, err)
	got, err := Compile(withUnknown)
	assert.NilError(t, err)
	assert.DeepEqual(t, got, want)
}

func TestCompileErrors(t *testing.T) {
	allow := func(names ...string) []specs.LinuxSyscall {
		return []specs.LinuxSyscall{{Names: names, Action: specs.ActAllow}}
	}
	tests := []struct {
		name    string
		cfg     *specs.LinuxSeccomp
		wantErr string
	}{
		{name: "nil", wantErr: "seccomp config is nil"},
		{
			name:    "empty default action",
			cfg:     &specs.LinuxSeccomp{Syscalls: allow("getpid")},
			wantErr: "seccomp default action: seccomp action is empty",
		},
		{
			name:    "unknown default action",
			cfg:     &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_MAYBE"},
			wantErr: `seccomp default action: unknown seccomp action "SCMP_ACT_MAYBE"`,
		},
		{
			name:    "notify default action",
			cfg:     &specs.LinuxSeccomp{DefaultAction: specs.ActNotify},
			wantErr: "seccomp default action: seccomp notify action is not supported",
		},
		{
			name: "notify rule",
			cfg: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"getpid"}, Action: specs.ActAllow},
				{Names: []string{"mount"}, Action: specs.ActNotify},
			}},
			wantErr: "seccomp rule 1 (mount): seccomp notify action is not supported",
		},
		{
			name:    "notify rule for unknown name",
			cfg:     &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"socketcall"}, Action: specs.ActNotify}}},
			wantErr: "seccomp notify action is not supported",
		},
		{
			name:    "listener path",
			cfg:     &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/run/agent.sock"},
			wantErr: `seccomp listener path "/run/agent.sock": seccomp notify action is not supported`,
		},
		{
			name:    "empty name",
			cfg:     &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: allow("getpid", "")},
			wantErr: "seccomp rule 0: empty syscall name",
		},
		{
			name:    "no names",
			cfg:     &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: allow()},
			wantErr: "seccomp rule 0: no syscall names",
		},
		{
			name: "argument index",
			cfg: &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"getpid"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}},
			}},
			wantErr: "seccomp rule 0 (getpid): seccomp argument index 6 out of range 0-5",
		},
		{
			name: "operator",
			cfg: &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"getpid"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Op: "SCMP_CMP_ABOUT"}}},
			}},
			wantErr: `seccomp rule 0 (getpid): unknown seccomp operator "SCMP_CMP_ABOUT"`,
		},
		{
			name: "errno out of range",
			cfg: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"getpid"}, Action: specs.ActErrno, ErrnoRet: ptr(1 << 16)},
			}},
			wantErr: "seccomp rule 0 (getpid): seccomp action SCMP_ACT_ERRNO: errno 65536 out of range",
		},
		{
			name:    "unknown flag",
			cfg:     &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_NEW_LISTENER"}},
			wantErr: `unknown seccomp flag "SECCOMP_FILTER_FLAG_NEW_LISTENER"`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.cfg)
			assert.ErrorContains(t, err, tc.wantErr)
			assert.Equal(t, errdefs.IsNotImplemented(err), strings.Contains(tc.wantErr, "notify"))
		})
	}
}

func TestFilterFlags(t *testing.T) {
	tests := []struct {
		flags []specs.LinuxSeccompFlag
		want  uintptr
	}{
		{flags: nil, want: 0},
		{flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_TSYNC"}, want: unix.SECCOMP_FILTER_FLAG_TSYNC},
		{flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow}, want: unix.SECCOMP_FILTER_FLAG_LOG | unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW},
		{flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv}, want: 0},
	}
	for _, tc := range tests {
		got, err := filterFlags(tc.flags)
		assert.NilError(t, err)
		assert.Equal(t, got, tc.want, "%v", tc.flags)
	}
}
