// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package version is berth's version, shared by the CLI, the daemon and
// the runtime.
package version

// Version is berth's release; builds may set it with
// -ldflags "-X github.com/berth-project/berth/internal/version.Version=…".
var Version = "0.1.0"
