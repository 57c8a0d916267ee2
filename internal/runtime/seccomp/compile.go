// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

//go:build linux && amd64

package seccomp

import (
	"errors"
	"fmt"
	"math"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

const (
	// x32Bit marks x32 ABI system call numbers (__X32_SYSCALL_BIT), which
	// arrive with AUDIT_ARCH_X86_64 like native ones.
	x32Bit = 0x40000000
	// maxInsns is the kernel's limit on a filter (BPF_MAXINSNS).
	maxInsns = 4096
)

// A rule is one compiled OCI rule for one system call: all its conditions
// must hold for the filter to return ret.
type rule struct {
	args []specs.LinuxSeccompArg
	ret  uint32
}

// Compile turns an OCI seccomp config into a classic BPF program for x86_64.
// The package comment describes the program and its semantics. Compile also
// validates the flags that Load passes to seccomp(2).
func Compile(cfg *specs.LinuxSeccomp) ([]bpf.Instruction, error) {
	if cfg == nil {
		return nil, errors.New("seccomp config is nil")
	}
	if cfg.ListenerPath != "" {
		return nil, fmt.Errorf("seccomp listener path %q: %w", cfg.ListenerPath, errNotify)
	}
	if _, err := filterFlags(cfg.Flags); err != nil {
		return nil, err
	}
	def, err := retValue(cfg.DefaultAction, cfg.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("seccomp default action: %w", err)
	}
	order, rules, err := collectRules(cfg.Syscalls)
	if err != nil {
		return nil, err
	}

	retDefault := bpf.RetConstant{Val: def}
	// System calls of other ABIs (i386 through int 0x80, x32) are not
	// described by the rules. A profile that denies by default denies them
	// too; one that allows by default (a deny-list) must not let them
	// through, or its list could be bypassed: they fail with ENOSYS.
	retForeign := retDefault
	if act := def & unix.SECCOMP_RET_ACTION_FULL; act == unix.SECCOMP_RET_ALLOW || act == unix.SECCOMP_RET_LOG {
		retForeign = bpf.RetConstant{Val: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)}
	}
	prog := []bpf.Instruction{
		bpf.LoadAbsolute{Off: offArch, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.AUDIT_ARCH_X86_64, SkipTrue: 1},
		retForeign,
		bpf.LoadAbsolute{Off: offNr, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: x32Bit, SkipFalse: 1},
		retForeign,
	}
	// Every block ends in a return, so the accumulator still holds nr
	// whenever control reaches the next block's header.
	for _, nr := range order {
		body := syscallBody(rules[nr], retDefault)
		if len(body) <= math.MaxUint8 {
			prog = append(prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: nr, SkipFalse: uint8(len(body))})
		} else {
			prog = append(prog,
				bpf.JumpIf{Cond: bpf.JumpEqual, Val: nr, SkipTrue: 1},
				bpf.Jump{Skip: uint32(len(body))})
		}
		prog = append(prog, body...)
	}
	prog = append(prog, retDefault)

	if len(prog) > maxInsns {
		return nil, fmt.Errorf("seccomp filter has %d instructions, more than the kernel limit of %d", len(prog), maxInsns)
	}
	return prog, nil
}

// collectRules validates the configured rules and groups them by system
// call number, keeping configuration order within each system call. order
// lists the numbers in the order they were first named.
func collectRules(syscalls []specs.LinuxSyscall) (order []uint32, rules map[uint32][]rule, _ error) {
	rules = make(map[uint32][]rule)
	for i, sc := range syscalls {
		if len(sc.Names) == 0 {
			return nil, nil, fmt.Errorf("seccomp rule %d: no syscall names", i)
		}
		ret, err := retValue(sc.Action, sc.ErrnoRet)
		if err != nil {
			return nil, nil, fmt.Errorf("seccomp rule %d (%s): %w", i, sc.Names[0], err)
		}
		for _, a := range sc.Args {
			if err := checkArg(a); err != nil {
				return nil, nil, fmt.Errorf("seccomp rule %d (%s): %w", i, sc.Names[0], err)
			}
		}
		argSets := splitArgs(sc.Args)
		for _, name := range sc.Names {
			if name == "" {
				return nil, nil, fmt.Errorf("seccomp rule %d: empty syscall name", i)
			}
			nr, ok := syscallNumber(name)
			if !ok {
				continue // not an x86_64 system call
			}
			if _, seen := rules[nr]; !seen {
				order = append(order, nr)
			}
			for _, args := range argSets {
				rules[nr] = append(rules[nr], rule{args: args, ret: ret})
			}
		}
	}
	return order, rules, nil
}

// syscallBody compiles the rules of one system call. Each rule is its
// condition blocks followed by its return; a failed condition jumps to the
// next rule, and after the last one comes the default return. Rules after
// one without conditions can never match and are left out.
func syscallBody(rules []rule, retDefault bpf.Instruction) []bpf.Instruction {
	var body []bpf.Instruction
	for _, r := range rules {
		// Build the rule back to front, so each condition knows how far
		// its failure jump must reach: past everything after it.
		code := []bpf.Instruction{bpf.RetConstant{Val: r.ret}}
		for i := len(r.args) - 1; i >= 0; i-- {
			code = append(condBlock(r.args[i], uint8(len(code))), code...)
		}
		body = append(body, code...)
		if len(r.args) == 0 {
			return body
		}
	}
	return append(body, retDefault)
}
