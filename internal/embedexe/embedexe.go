// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package embedexe puts a program embedded in berth on the host's file
// system, where it can be executed. berth is one binary that carries two
// smaller ones, each of which starts faster than all of berth would:
//
//   - the runtime's (internal/runtime/initexe: containers' init and the
//     runc-compatible command line), in /run/berth/init/<sha256>/berth-init;
//   - the engine's (internal/engineexe: the daemon, its monitor, docker-init
//     and the runtime), in /run/berth/engine/<sha256>/berth (or under
//     /var/lib/berth/engine where /run is mounted noexec), carried by the
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
	"syscall"
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
	if ours(p, int64(len(data))) {
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

// NoExec reports whether files under dir cannot be executed: the nearest
// directory of it that exists is on a file system mounted noexec.
func NoExec(dir string) bool {
	for {
		var st syscall.Statfs_t
		err := syscall.Statfs(dir, &st)
		if err == nil {
			return st.Flags&stNoExec != 0
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return false
		}
		dir = parent
	}
}

// stNoExec is ST_NOEXEC of statfs(2)'s f_flags.
const stNoExec = 0x8

// ours reports whether path is what Path writes, as the C constructor
// checks it before executing it: a regular file (not a link) of size
// bytes, owned by this user and writable by nobody else. Anything else is
// written again.
func ours(path string, size int64) bool {
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != size || fi.Mode().Perm()&0o022 != 0 {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid()
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
	var running map[fileID]bool
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
		if id, ok := idOf(filepath.Join(sub, name)); ok && running[id] {
			continue
		}
		os.RemoveAll(sub)
	}
}

// runningExes is the set of files (device and inode) that running
// processes were executed from, as /proc/<pid>/exe leads to them: also
// through a bind mount, as docker-init runs in a container.
func runningExes() map[fileID]bool {
	exes := map[fileID]bool{}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return exes
	}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if id, ok := idOf("/proc/" + e.Name() + "/exe"); ok {
			exes[id] = true
		}
	}
	return exes
}

type fileID struct{ dev, ino uint64 }

func idOf(path string) (fileID, bool) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return fileID{}, false
	}
	return fileID{uint64(st.Dev), st.Ino}, true
}
