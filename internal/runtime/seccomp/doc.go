// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package seccomp compiles an OCI runtime-spec seccomp configuration
// ([specs.LinuxSeccomp]) into a classic BPF program and installs it with
// seccomp(2), in pure Go: no libseccomp, no cgo. The filter logic is tested
// by running the compiled program in the golang.org/x/net/bpf VM.
//
// # What the filter sees
//
// The kernel runs the filter on every system call with a struct seccomp_data
// (see seccomp(2), https://man7.org/linux/man-pages/man2/seccomp.2.html):
//
//	offset  0  nr     int32   system call number
//	offset  4  arch   uint32  AUDIT_ARCH_* of the calling convention
//	offset  8  ip     uint64  instruction pointer
//	offset 16  args   [6]uint64
//
// Classic BPF loads 32-bit words only, so a 64-bit argument is compared as
// two halves; on little-endian x86_64 the low word of args[i] is at
// 16+8*i and the high word at 16+8*i+4.
//
// # Program layout
//
//	    ld  arch
//	    jeq AUDIT_ARCH_X86_64 ? next : fallthrough
//	    ret foreign                    // i386 and any foreign arch
//	    ld  nr
//	    jset 0x40000000 ? fallthrough : next
//	    ret foreign                    // x32 system call numbers
//	    jeq N1 ? fallthrough : block2  // one block per system call
//	    <rules for N1, each: conditions, ret action; then ret default>
//	block2:
//	    jeq N2 ...
//	    ret default
//
// Conditional jumps in classic BPF reach at most 255 instructions ahead,
// unconditional ones 2^32. Every conditional jump therefore stays inside
// one system call's block: a failed rule jumps to the next rule of the same
// block (a rule has at most six conditions, so that jump is short), and the
// header of a block longer than 255 instructions becomes "jeq N, then ja
// past the block". A profile of any length compiles, up to the kernel's
// limit of 4096 instructions (Docker's default profile needs under 1000).
// Blocks are searched linearly in the order the configuration first names
// each system call, as libseccomp does without its binary-tree option.
//
// # Semantics and simplifications
//
//   - Only native x86_64 system calls are filtered. A call made through
//     the i386 (int 0x80) or x32 ABI gets "foreign": the default action
//     when that denies, and ERRNO(ENOSYS) when the default allows (a deny
//     list), so that a list cannot be bypassed through another ABI.
//     Docker's default profile lists x86 and x32 as well, so containers
//     that run 32-bit binaries behave differently than under runc; berth
//     accepts that to keep a single system call table.
//   - System call names unknown on x86_64 are skipped silently, as runc and
//     libseccomp do for names the architecture lacks; an empty name is an
//     error.
//   - The rules for one system call are tried in configuration order, and
//     the first that matches decides. The conditions of a rule are ANDed. A
//     rule without conditions always matches. As in runc, a rule that
//     compares the same argument index more than once is split into one
//     rule per condition (so those conditions are ORed), because
//     libseccomp cannot express it otherwise.
//   - SCMP_CMP_MASKED_EQ takes the mask in value and the expected result
//     in valueTwo: it matches when arg & value == valueTwo.
//   - SCMP_ACT_ERRNO and SCMP_ACT_TRACE return errnoRet (EPERM when unset);
//     defaultErrnoRet does the same for the default action.
//   - SCMP_ACT_NOTIFY and listenerPath are not supported: there is no user
//     notification listener.
//
// The compiled program is not persisted anywhere; it is rebuilt from the
// OCI configuration on every container start.
package seccomp

//go:generate go run gen_syscalls.go -out syscalls_amd64.go
