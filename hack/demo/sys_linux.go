// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package main

import "syscall"

// detached makes the daemon a session of its own, so it outlives the demo
// and the terminal.
func detached() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }
