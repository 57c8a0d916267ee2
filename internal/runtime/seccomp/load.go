// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

//go:build linux && amd64

package seccomp

import (
	"fmt"
	"runtime"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Load compiles cfg and installs it on the calling OS thread with
// seccomp(2) (SECCOMP_SET_MODE_FILTER, honoring cfg.Flags such as
// SECCOMP_FILTER_FLAG_TSYNC, _LOG and _SPEC_ALLOW).
//
// The caller has already set no_new_privs or holds CAP_SYS_ADMIN; without
// either the kernel refuses with EACCES. Without TSYNC the filter applies
// only to the calling thread and the threads it creates afterwards, so the
// caller must hold runtime.LockOSThread until it execs. Filters are
// permanent and stack: a thread cannot remove one once it is loaded.
func Load(cfg *specs.LinuxSeccomp) error {
	prog, err := Compile(cfg)
	if err != nil {
		return err
	}
	flags, err := filterFlags(cfg.Flags)
	if err != nil {
		return err
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return fmt.Errorf("assemble seccomp filter: %w", err)
	}
	filter := make([]unix.SockFilter, len(raw))
	for i, ins := range raw {
		filter[i] = unix.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	fprog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}

	// seccomp(SECCOMP_SET_MODE_FILTER, flags, &fprog); the kernel copies the
	// program during the call. See seccomp(2),
	// https://man7.org/linux/man-pages/man2/seccomp.2.html.
	r1, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(filter)
	if errno != 0 {
		return fmt.Errorf("load seccomp filter: %w", errno)
	}
	// With TSYNC, a thread that cannot take the filter (because it already
	// has a diverging filter stack) makes the call fail with that thread's
	// ID as a positive return value instead of an errno.
	if r1 != 0 {
		return fmt.Errorf("load seccomp filter: thread %d could not be synchronized", r1)
	}
	return nil
}
