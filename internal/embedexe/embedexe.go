// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package embedexe puts a program embedded in berth on the host's file
// system, where it can be executed. berth is one binary that carries two
// smaller ones, each of which starts faster than all of berth would:
//
//   - the runtime's (internal/runtime/initexe: containers' init and the
//     runc-compatible command line), in /run/berth/init/<sha256>/berth-init;
//   - the engine's (internal/engineexe: the daemon, its monitor, docker-init
//     and the runtime), in /run/berth/engine/<sha256>/berth, carried by the
//     berth that users run, whose Go code is then only the CLI.
//
// berth's C constructor (internal/runtime/nsenter) executes these files
// before the Go runtime starts when they are there and exactly what this
// build wrote; otherwise the Go side writes them with Path and executes
// them itself. This package links nothing but the standard library, so
// that the CLI pays nothing for it.
package embedexe

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// StaleAge is how long the file of another berth build is kept once a new
// one has been written, when no process runs it.
const StaleAge = 24 * time.Hour

// Path returns dir/<sum>/name holding data, writing it there first (by
// temporary file and rename, mode 0555) when it is missing or has another
// size. After a write, the files of other builds are pruned (see Prune).
func Path(dir, name string, data []byte, sum string) (string, error) {
	sub := filepath.Join(dir, sum)
	p := filepath.Join(sub, name)
	if fi, err := os.Stat(p); err == nil && fi.Size() == int64(len(data)) {
		return p, nil
	}
	if err := os.MkdirAll(sub, 0o711); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(sub, "."+name+"-")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Chmod(0o555); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return "", err
	}
	Prune(dir, sum, name, StaleAge)
	return p, nil
}

// Prune removes, under dir, the directories of other builds than keep
// whose file name was written more than age ago (or is missing), unless a
// running process was executed from it: each upgrade (or development
// build) leaves one, and /run is usually memory. A process that holds its
// file open is unaffected anyway, and a berth that finds its own file gone
// writes it again. Anything not named like a SHA-256 stays.
func Prune(dir, keep, name string, age time.Duration) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	var running map[string]bool
	for _, e := range entries {
		if !e.IsDir() || e.Name() == keep || len(e.Name()) != 64 {
			continue
		}
		sub := filepath.Join(dir, e.Name())
		fi, err := os.Stat(filepath.Join(sub, name))
		if err == nil && time.Since(fi.ModTime()) < age {
			continue
		}
		if running == nil {
			running = runningExes()
		}
		if running[filepath.Join(sub, name)] {
			continue
		}
		os.RemoveAll(sub)
	}
}

// runningExes is the set of files that running processes were executed
// from (as /proc/<pid>/exe names them).
func runningExes() map[string]bool {
	exes := map[string]bool{}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return exes
	}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if exe, err := os.Readlink("/proc/" + e.Name() + "/exe"); err == nil {
			exes[strings.TrimSuffix(exe, " (deleted)")] = true
		}
	}
	return exes
}
