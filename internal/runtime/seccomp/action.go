// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

//go:build linux && amd64

package seccomp

import (
	"errors"
	"fmt"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// errNotify is returned for SCMP_ACT_NOTIFY and listenerPath: berth has no
// user notification listener.
var errNotify = errdefs.ErrNotImplemented.WithMessage("seccomp notify action is not supported")

// retValue returns the SECCOMP_RET_* value a filter returns for act. The
// low 16 bits (SECCOMP_RET_DATA) carry the errno for ERRNO and the message
// for the tracer for TRACE; both default to EPERM, as in runc.
func retValue(act specs.LinuxSeccompAction, errnoRet *uint) (uint32, error) {
	data := uint32(unix.EPERM)
	if errnoRet != nil {
		if *errnoRet > unix.SECCOMP_RET_DATA {
			return 0, fmt.Errorf("seccomp action %s: errno %d out of range", act, *errnoRet)
		}
		data = uint32(*errnoRet)
	}
	switch act {
	case specs.ActKill, specs.ActKillThread:
		return unix.SECCOMP_RET_KILL_THREAD, nil
	case specs.ActKillProcess:
		return unix.SECCOMP_RET_KILL_PROCESS, nil
	case specs.ActTrap:
		return unix.SECCOMP_RET_TRAP, nil
	case specs.ActErrno:
		return unix.SECCOMP_RET_ERRNO | data, nil
	case specs.ActTrace:
		return unix.SECCOMP_RET_TRACE | data, nil
	case specs.ActAllow:
		return unix.SECCOMP_RET_ALLOW, nil
	case specs.ActLog:
		return unix.SECCOMP_RET_LOG, nil
	case specs.ActNotify:
		return 0, errNotify
	case "":
		return 0, errors.New("seccomp action is empty")
	default:
		return 0, fmt.Errorf("unknown seccomp action %q", act)
	}
}

// filterFlags turns the configuration's flags into seccomp(2) flags.
func filterFlags(flags []specs.LinuxSeccompFlag) (uintptr, error) {
	var v uintptr
	for _, f := range flags {
		switch f {
		case "SECCOMP_FILTER_FLAG_TSYNC":
			v |= unix.SECCOMP_FILTER_FLAG_TSYNC
		case specs.LinuxSeccompFlagLog:
			v |= unix.SECCOMP_FILTER_FLAG_LOG
		case specs.LinuxSeccompFlagSpecAllow:
			v |= unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
		case specs.LinuxSeccompFlagWaitKillableRecv:
			// Only changes how a notify listener waits. Without
			// SECCOMP_FILTER_FLAG_NEW_LISTENER the kernel rejects it with
			// EINVAL, and berth never creates a listener, so drop it.
		default:
			return 0, fmt.Errorf("unknown seccomp flag %q", f)
		}
	}
	return v, nil
}
