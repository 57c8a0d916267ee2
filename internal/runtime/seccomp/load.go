// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

//go:build linux && amd64

package seccomp

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Load compiles cfg and installs it on the calling OS thread with
// seccomp(2) (SECCOMP_SET_MODE_FILTER, honoring cfg.Flags such as
// SECCOMP_FILTER_FLAG_TSYNC, _LOG and _SPEC_ALLOW): Prepare, then Install.
//
// The caller has already set no_new_privs or holds CAP_SYS_ADMIN; without
// either the kernel refuses with EACCES. Without TSYNC the filter applies
// only to the calling thread and the threads it creates afterwards, so the
// caller must hold runtime.LockOSThread until it execs. Filters are
// permanent and stack: a thread cannot remove one once it is loaded.
func Load(cfg *specs.LinuxSeccomp) error {
	f, err := Prepare(cfg)
	if err != nil {
		return err
	}
	return f.Install()
}

// Filter is a compiled and assembled filter, ready to install.
type Filter struct {
	prog  []unix.SockFilter
	flags uintptr
}

// Prepare compiles and assembles cfg, so that installing it later is one
// system call (init prepares the filter at create, and installs it after
// start).
func Prepare(cfg *specs.LinuxSeccomp) (*Filter, error) {
	prog, err := Compile(cfg)
	if err != nil {
		return nil, err
	}
	flags, err := filterFlags(cfg.Flags)
	if err != nil {
		return nil, err
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, fmt.Errorf("assemble seccomp filter: %w", err)
	}
	filter := make([]unix.SockFilter, len(raw))
	for i, ins := range raw {
		filter[i] = unix.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	return &Filter{prog: filter, flags: flags}, nil
}

// MarshalBinary encodes the filter for another process: the flags, then
// each instruction as code, jt, jf and k, little-endian.
func (f *Filter) MarshalBinary() ([]byte, error) {
	b := binary.LittleEndian.AppendUint64(nil, uint64(f.flags))
	for _, ins := range f.prog {
		b = binary.LittleEndian.AppendUint16(b, ins.Code)
		b = append(b, ins.Jt, ins.Jf)
		b = binary.LittleEndian.AppendUint32(b, ins.K)
	}
	return b, nil
}

// UnmarshalFilter decodes what MarshalBinary wrote.
func UnmarshalFilter(b []byte) (*Filter, error) {
	if len(b) < 16 || (len(b)-8)%8 != 0 || (len(b)-8)/8 > 65535 {
		return nil, fmt.Errorf("seccomp filter: bad encoding (%d bytes)", len(b))
	}
	f := &Filter{flags: uintptr(binary.LittleEndian.Uint64(b))}
	for b = b[8:]; len(b) > 0; b = b[8:] {
		f.prog = append(f.prog, unix.SockFilter{
			Code: binary.LittleEndian.Uint16(b), Jt: b[2], Jf: b[3], K: binary.LittleEndian.Uint32(b[4:]),
		})
	}
	return f, nil
}

// Install loads the filter on the calling OS thread (see Load).
func (f *Filter) Install() error {
	fprog := unix.SockFprog{Len: uint16(len(f.prog)), Filter: &f.prog[0]}
	// seccomp(SECCOMP_SET_MODE_FILTER, flags, &fprog); the kernel copies the
	// program during the call. See seccomp(2),
	// https://man7.org/linux/man-pages/man2/seccomp.2.html.
	r1, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, f.flags, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(f.prog)
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
