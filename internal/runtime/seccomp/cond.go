// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

//go:build linux && amd64

package seccomp

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
)

// Offsets into struct seccomp_data; see the package comment.
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
	maxArgs = 6
)

// checkArg validates one argument condition.
func checkArg(a specs.LinuxSeccompArg) error {
	if a.Index >= maxArgs {
		return fmt.Errorf("seccomp argument index %d out of range 0-%d", a.Index, maxArgs-1)
	}
	switch a.Op {
	case specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpEqualTo,
		specs.OpGreaterEqual, specs.OpGreaterThan, specs.OpMaskedEqual:
		return nil
	}
	return fmt.Errorf("unknown seccomp operator %q", a.Op)
}

// condBlock returns the instructions that test one argument condition. When
// the condition holds they fall through past their end; when it fails they
// jump tail instructions further, to the start of the next rule. The 64-bit
// comparison is done on the high word first, and the low word decides only
// when the high words are equal.
//
// tail is at most one return plus five other blocks of at most six
// instructions, so every skip below fits in a conditional jump.
func condBlock(a specs.LinuxSeccompArg, tail uint8) []bpf.Instruction {
	lo := bpf.LoadAbsolute{Off: offArgs + 8*uint32(a.Index), Size: 4}
	hi := bpf.LoadAbsolute{Off: offArgs + 8*uint32(a.Index) + 4, Size: 4}
	vlo, vhi := uint32(a.Value), uint32(a.Value>>32)
	t := tail

	switch a.Op {
	case specs.OpEqualTo:
		return []bpf.Instruction{
			hi,
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: vhi, SkipFalse: 2 + t},
			lo,
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: vlo, SkipFalse: t},
		}
	case specs.OpNotEqual:
		return []bpf.Instruction{
			hi,
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: vhi, SkipFalse: 2},
			lo,
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: vlo, SkipTrue: t},
		}
	case specs.OpGreaterThan:
		return []bpf.Instruction{
			hi,
			bpf.JumpIf{Cond: bpf.JumpGreaterThan, Val: vhi, SkipTrue: 3},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: vhi, SkipFalse: 2 + t},
			lo,
			bpf.JumpIf{Cond: bpf.JumpGreaterThan, Val: vlo, SkipFalse: t},
		}
	case specs.OpGreaterEqual:
		return []bpf.Instruction{
			hi,
			bpf.JumpIf{Cond: bpf.JumpGreaterThan, Val: vhi, SkipTrue: 3},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: vhi, SkipFalse: 2 + t},
			lo,
			bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: vlo, SkipFalse: t},
		}
	case specs.OpLessThan: // not >=
		return []bpf.Instruction{
			hi,
			bpf.JumpIf{Cond: bpf.JumpGreaterThan, Val: vhi, SkipTrue: 3 + t},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: vhi, SkipFalse: 2},
			lo,
			bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: vlo, SkipTrue: t},
		}
	case specs.OpLessEqual: // not >
		return []bpf.Instruction{
			hi,
			bpf.JumpIf{Cond: bpf.JumpGreaterThan, Val: vhi, SkipTrue: 3 + t},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: vhi, SkipFalse: 2},
			lo,
			bpf.JumpIf{Cond: bpf.JumpGreaterThan, Val: vlo, SkipTrue: t},
		}
	case specs.OpMaskedEqual:
		return []bpf.Instruction{
			hi,
			bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: vhi},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(a.ValueTwo >> 32), SkipFalse: 3 + t},
			lo,
			bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: vlo},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(a.ValueTwo), SkipFalse: t},
		}
	}
	panic("seccomp: condBlock called with unchecked operator " + string(a.Op))
}

// splitArgs returns the condition sets of the rules one configuration entry
// becomes: usually one rule with all its conditions, but one rule per
// condition when an argument index repeats, as runc does (libseccomp
// rejects a rule that compares one argument twice).
func splitArgs(args []specs.LinuxSeccompArg) [][]specs.LinuxSeccompArg {
	var seen [maxArgs]bool
	for _, a := range args {
		if seen[a.Index] {
			sets := make([][]specs.LinuxSeccompArg, len(args))
			for i := range args {
				sets[i] = args[i : i+1]
			}
			return sets
		}
		seen[a.Index] = true
	}
	return [][]specs.LinuxSeccompArg{args}
}
