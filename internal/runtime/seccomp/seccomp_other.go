// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

//go:build !(linux && amd64)

package seccomp

import (
	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
)

var errUnsupported = errdefs.ErrNotImplemented.WithMessage("seccomp filters are only implemented for linux/amd64")

// Compile turns an OCI seccomp config into a classic BPF program for x86_64.
// It is not implemented on this platform.
func Compile(*specs.LinuxSeccomp) ([]bpf.Instruction, error) { return nil, errUnsupported }

// Load compiles cfg and installs it on the calling OS thread with
// seccomp(2). It is not implemented on this platform.
func Load(*specs.LinuxSeccomp) error { return errUnsupported }

// Filter is a compiled filter; there are none on this platform.
type Filter struct{}

// Prepare compiles cfg. It is not implemented on this platform.
func Prepare(*specs.LinuxSeccomp) (*Filter, error) { return nil, errUnsupported }

// Install installs the filter. It is not implemented on this platform.
func (*Filter) Install() error { return errUnsupported }

// MarshalBinary encodes the filter. It is not implemented on this platform.
func (*Filter) MarshalBinary() ([]byte, error) { return nil, errUnsupported }

// UnmarshalFilter decodes a filter. It is not implemented on this platform.
func UnmarshalFilter([]byte) (*Filter, error) { return nil, errUnsupported }
