package runtime_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// TestInitStage checks which init builds a created container. For a spec
// nsenter/initstage.c can carry out, the container's process never
// starts the Go runtime: it waits for `start` with one thread. The Go
// init (several threads) builds it when BERTH_INIT_STAGE=go asks for it,
// which is how CI runs this suite a second time, or when the spec needs
// what only the Go init does (a hook). Either way the program then runs.
func TestInitStage(t *testing.T) {
	goByDefault := os.Getenv("BERTH_INIT_STAGE") == "go"
	for name, tc := range map[string]struct {
		env    []string
		mutate func(*specs.Spec)
		goInit bool
	}{
		"default":              {goInit: goByDefault},
		"BERTH_INIT_STAGE=go":  {env: []string{"BERTH_INIT_STAGE=go"}, goInit: true},
		"createContainer hook": {mutate: func(s *specs.Spec) { s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: "/bin/true"}}} }, goInit: true},
		"user namespace":       {goInit: true},
		"a device":             {mutate: withDevice, goInit: goByDefault},
	} {
		t.Run(name, func(t *testing.T) {
			r := newRT(t)
			r.env = tc.env
			out := t.TempDir()
			traversable(t, out)
			assert.NilError(t, os.Chmod(out, 0o777))
			mutate := []func(*specs.Spec){withMounts(specs.Mount{Destination: "/out", Type: "bind", Source: out, Options: []string{"rbind", "rw"}})}
			if tc.mutate != nil {
				mutate = append(mutate, tc.mutate)
			}
			script := "echo ran > /out/ran"
			b := sh(t, script, mutate...)
			if name == "user namespace" {
				b = userNSBundle(t, script, mutate...)
			}
			id := containerID(t)
			r.ok("create", "--bundle", b, id)
			var st struct{ Pid int }
			assert.NilError(t, json.Unmarshal([]byte(r.ok("state", id)), &st))
			tasks, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(st.Pid), "task"))
			assert.NilError(t, err)
			if tc.goInit {
				assert.Check(t, len(tasks) > 1, "the Go init has threads; %d", len(tasks))
			} else {
				assert.Check(t, is.Len(tasks, 1), "initstage.c has one thread")
			}
			r.ok("start", id)
			r.waitStatus(id, "stopped")
			ran, err := os.ReadFile(filepath.Join(out, "ran"))
			assert.NilError(t, err)
			assert.Check(t, is.Equal(string(ran), "ran\n"))
		})
	}
}

func withDevice(s *specs.Spec) {
	s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{Path: "/dev/mynull", Type: "c", Major: 1, Minor: 3})
}

// TestInitErrorsArriveWhole fails create the same way many times: the
// runtime must always read init's own error (here a missing bind source,
// which the daemon maps to exit code 127), never a reset connection
// because it sent init something init did not read before failing.
func TestInitErrorsArriveWhole(t *testing.T) {
	r := newRT(t)
	for i := 0; i < 30; i++ {
		b := sh(t, "true", withMounts(specs.Mount{Destination: "/x", Type: "bind", Source: "/nonexistent/source", Options: []string{"rbind"}}))
		res := r.cmd("", "create", "--bundle", b, containerID(t))
		assert.Assert(t, is.Contains(res.stderr, "mount /nonexistent/source (bind) on /x: stat /nonexistent/source: no such file or directory"), res)
	}
}

// TestLongCgroupPath gives the container a cgroup path of 1800 bytes and
// the host's cgroup namespace: each cgroup hierarchy in the container must
// be a bind of the container's own cgroup, never of an ancestor (which
// would show it the host's other cgroups), however long the lines of
// /proc/self/cgroup.
func TestLongCgroupPath(t *testing.T) {
	r := newRT(t)
	idCount++
	path := fmt.Sprintf("%s/long%d", cgroupParent, idCount)
	for i := 0; len(path) < 1800; i++ {
		path += "/" + strings.Repeat(string(rune('a'+i)), min(200, 1800-len(path)-1))
	}
	b := sh(t, `awk '$5 ~ "^/sys/fs/cgroup/" {print $4}' /proc/self/mountinfo`, withoutNamespace(specs.CgroupNamespace),
		func(s *specs.Spec) { s.Linux.CgroupsPath = path })
	res := r.run(b)
	assert.Equal(t, res.code, 0, res)
	roots := strings.Fields(res.stdout)
	assert.Assert(t, len(roots) > 0, res)
	for _, root := range roots {
		assert.Check(t, strings.HasSuffix(root, path), "a cgroup hierarchy bound from %q", root)
	}
}

// TestDanglingMountDestination puts a dangling symlink where a bind mount
// goes: create fails, saying it is not a directory (as pathrs-lite does).
func TestDanglingMountDestination(t *testing.T) {
	r := newRT(t)
	src := t.TempDir()
	traversable(t, src)
	b := sh(t, "true", withMounts(specs.Mount{Destination: "/data", Type: "bind", Source: src, Options: []string{"rbind"}}))
	assert.NilError(t, os.Symlink("/nonexistent/dir", filepath.Join(b, "rootfs/data")))
	res := r.run(b)
	assert.Check(t, res.code != 0, res)
	assert.Check(t, is.Contains(res.stderr, "not a directory"), res)
}

// TestFileMountOverFIFO gives the image a FIFO and a symlink where file
// binds go: the FIFO is covered (it is never opened, which would block
// create), the symlink refused.
func TestFileMountOverFIFO(t *testing.T) {
	r := newRT(t)
	src := filepath.Join(t.TempDir(), "f")
	assert.NilError(t, os.WriteFile(src, []byte("bound\n"), 0o644))
	traversable(t, filepath.Dir(src))
	b := sh(t, "cat /etc/fifo", withMounts(specs.Mount{Destination: "/etc/fifo", Type: "bind", Source: src, Options: []string{"rbind"}}))
	assert.NilError(t, unix.Mkfifo(filepath.Join(b, "rootfs/etc/fifo"), 0o644))
	done := make(chan result, 1)
	go func() { done <- r.run(b) }()
	select {
	case res := <-done:
		assert.Equal(t, res.code, 0, res)
		assert.Check(t, is.Equal(res.stdout, "bound\n"))
	case <-time.After(20 * time.Second):
		t.Fatal("create blocked on the image's FIFO")
	}

	b = sh(t, "true", withMounts(specs.Mount{Destination: "/etc/link", Type: "bind", Source: src, Options: []string{"rbind"}}))
	assert.NilError(t, os.Symlink("/etc/passwd", filepath.Join(b, "rootfs/etc/link")))
	res := r.run(b)
	assert.Check(t, res.code != 0, res)
	assert.Check(t, is.Contains(res.stderr, "too many levels of symbolic links"), res)
}

// TestWorkingDirUnderMount sets a working directory inside a tmpfs mount,
// which covers whatever the image had there: init makes it, after the
// mounts, as runc does (Docker's `--tmpfs /run -w /run/x`).
func TestWorkingDirUnderMount(t *testing.T) {
	r := newRT(t)
	b := sh(t, "pwd; stat -c %u:%a .", withMounts(specs.Mount{Destination: "/run", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid"}}),
		func(s *specs.Spec) {
			s.Process.Cwd = "/run/x/y"
			s.Process.User = specs.User{UID: 1000, GID: 1000}
		})
	res := r.run(b)
	assert.Equal(t, res.code, 0, res)
	assert.Check(t, is.Equal(res.stdout, "/run/x/y\n0:755\n"))
}
