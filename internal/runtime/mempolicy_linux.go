package runtime

import (
	"fmt"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

var mempolicyModes = map[specs.MemoryPolicyModeType]uintptr{
	specs.MpolDefault: 0, specs.MpolPreferred: 1, specs.MpolBind: 2, specs.MpolInterleave: 3,
	specs.MpolLocal: 4, specs.MpolPreferredMany: 5, specs.MpolWeightedInterleave: 6,
}

var mempolicyFlags = map[specs.MemoryPolicyFlagType]uintptr{
	specs.MpolFNumaBalancing: 1 << 13, specs.MpolFRelativeNodes: 1 << 14, specs.MpolFStaticNodes: 1 << 15,
}

// validateMemoryPolicy checks linux.memoryPolicy at create.
func validateMemoryPolicy(p *specs.LinuxMemoryPolicy) error {
	if p == nil {
		return nil
	}
	if _, ok := mempolicyModes[p.Mode]; !ok {
		return fmt.Errorf("unknown memory policy mode %q", p.Mode)
	}
	for _, f := range p.Flags {
		if _, ok := mempolicyFlags[f]; !ok {
			return fmt.Errorf("unknown memory policy flag %q", f)
		}
	}
	if p.Nodes != "" {
		if _, err := parseCPUList(p.Nodes); err != nil {
			return fmt.Errorf("invalid memory policy nodes %q", p.Nodes)
		}
	}
	return nil
}

// setMemoryPolicy applies linux.memoryPolicy with set_mempolicy(2). The
// policy belongs to the calling thread and is inherited across execve.
// The node list has the same syntax as a CPU list, so the same parser
// builds the node mask.
func setMemoryPolicy(p *specs.LinuxMemoryPolicy) error {
	if p == nil {
		return nil
	}
	mode := mempolicyModes[p.Mode]
	for _, f := range p.Flags {
		mode |= mempolicyFlags[f]
	}
	var mask unix.CPUSet
	var maskPtr unsafe.Pointer
	var maxNode uintptr
	if p.Nodes != "" {
		var err error
		if mask, err = parseCPUList(p.Nodes); err != nil {
			return err
		}
		maskPtr = unsafe.Pointer(&mask)
		maxNode = uintptr(len(mask) * 64)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SET_MEMPOLICY, mode, uintptr(maskPtr), maxNode); e != 0 {
		return fmt.Errorf("set_mempolicy %s %q: %w", p.Mode, p.Nodes, e)
	}
	return nil
}
