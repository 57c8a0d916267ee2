package testutil

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Helpers for tests and benchmarks that start real daemons and containers
// and must leave nothing behind, even after a failure.

// StopProcess ends a process this program started: SIGTERM, then SIGKILL
// after 20 s. exited, if not nil, is closed once the caller has reaped the
// process (a zombie still answers kill(pid, 0)); StopProcess then waits
// for it.
func StopProcess(pid int, exited <-chan struct{}) {
	gone := func() bool {
		if exited != nil {
			select {
			case <-exited:
				return true
			default:
				return false
			}
		}
		return unix.Kill(pid, 0) != nil
	}
	if gone() {
		return
	}
	unix.Kill(pid, unix.SIGTERM)
	for range 100 {
		if gone() {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	unix.Kill(pid, unix.SIGKILL)
	if exited != nil {
		<-exited
	}
}

// OwnPids lists the processes whose command line names something under
// dir, a temporary directory this program made: they are its own.
func OwnPids(dir string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmdline, []byte(dir+"/")) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// KillCgroup kills every process left under a cgroup parent (a name at the
// top of the hierarchies) in any hierarchy, thawing frozen ones first so
// that SIGKILL takes effect.
func KillCgroup(name string) {
	for _, top := range CgroupDirs(name) {
		filepath.WalkDir(top, func(p string, e os.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			switch e.Name() {
			case "freezer.state":
				os.WriteFile(p, []byte("THAWED"), 0)
			case "cgroup.procs":
				data, _ := os.ReadFile(p)
				for _, f := range strings.Fields(string(data)) {
					if pid, err := strconv.Atoi(f); err == nil {
						unix.Kill(pid, unix.SIGKILL)
					}
				}
			}
			return nil
		})
	}
}

// RemoveCgroup removes a cgroup parent's directories in every hierarchy,
// children first. Directories still in use stay.
func RemoveCgroup(name string) {
	for _, top := range CgroupDirs(name) {
		var dirs []string
		filepath.WalkDir(top, func(p string, e os.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			os.Remove(dirs[i])
		}
	}
}

// CgroupDirs finds name (a path without the leading slash) at the top of
// each cgroup hierarchy, v1 or unified.
func CgroupDirs(name string) []string {
	name = strings.TrimPrefix(name, "/")
	a, _ := filepath.Glob("/sys/fs/cgroup/" + name)
	b, _ := filepath.Glob("/sys/fs/cgroup/*/" + name)
	return append(a, b...)
}

// UnmountUnder detaches every mount at or under dir, deepest first.
func UnmountUnder(dir string) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return
	}
	defer f.Close()
	var points []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) > 4 && (fields[4] == dir || strings.HasPrefix(fields[4], dir+"/")) {
			points = append(points, fields[4])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(points)))
	for _, p := range points {
		unix.Unmount(p, unix.MNT_DETACH)
	}
}
