// Package runtime_test runs real containers through berth's runc-compatible
// command line (`berth runtime ...`) and checks, from inside each container,
// what it really got.
package runtime_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"gotest.tools/v3/assert"
)

var (
	berthBin string
	// cgroupParent holds every test container's cgroup; TestMain removes it.
	cgroupParent = fmt.Sprintf("/berth-test-%d", os.Getpid())
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if os.Geteuid() == 0 {
		bin, remove, err := testutil.BuildBerth("../../cmd/berth")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer remove()
		berthBin = bin
		// Containers made with `create` outlive the runtime process that made
		// them; as a subreaper this test process inherits (and reaps) them
		// instead of the host's init.
		unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
		defer removeCgroupParent()
	}
	return m.Run()
}

func removeCgroupParent() { testutil.RemoveCgroup(cgroupParent) }

// rt is one test's runtime: its own --root, cleaned up at the end.
type rt struct {
	t    *testing.T
	root string
	// env is added to the environment of every runtime command.
	env []string
}

func newRT(t *testing.T) *rt {
	t.Helper()
	testutil.RequiresRoot(t)
	testutil.RequiresBusybox(t)
	r := &rt{t: t, root: t.TempDir()}
	t.Cleanup(func() {
		out, _ := exec.Command(berthBin, "runtime", "--root", r.root, "list", "-q").Output()
		for _, id := range strings.Fields(string(out)) {
			exec.Command(berthBin, "runtime", "--root", r.root, "delete", "-f", id).Run()
		}
		reap()
	})
	return r
}

// reap collects exited orphans re-parented to the test process.
func reap() {
	for {
		pid, err := unix.Wait4(-1, nil, unix.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}

type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
}

// cmd runs `berth runtime --root <root> args...`. Output goes to files,
// not pipes: a container made by create or run -d inherits them and would
// otherwise hold the pipe (and this call) open until it exits.
func (r *rt) cmd(stdin string, args ...string) result {
	r.t.Helper()
	c := exec.Command(berthBin, append([]string{"runtime", "--root", r.root}, args...)...)
	c.Env = append(os.Environ(), r.env...)
	dir := r.t.TempDir()
	out, err := os.Create(filepath.Join(dir, "stdout"))
	assert.NilError(r.t, err)
	defer out.Close()
	errf, err := os.Create(filepath.Join(dir, "stderr"))
	assert.NilError(r.t, err)
	defer errf.Close()
	c.Stdin = strings.NewReader(stdin)
	c.Stdout, c.Stderr = out, errf
	err = c.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		r.t.Fatalf("run berth: %v", err)
	}
	o, _ := os.ReadFile(out.Name())
	e, _ := os.ReadFile(errf.Name())
	return result{string(o), string(e), code}
}

// ok runs a command that must succeed.
func (r *rt) ok(args ...string) string {
	r.t.Helper()
	res := r.cmd("", args...)
	assert.Equal(r.t, res.code, 0, "berth runtime %v: %s", args, res)
	return res.stdout
}

// run runs a container to completion with `run` and returns its result.
func (r *rt) run(bundle string) result {
	r.t.Helper()
	return r.cmd("", "run", "--bundle", bundle, containerID(r.t))
}

// sh makes a bundle whose process is `sh -c script`, with mutators.
func sh(t *testing.T, script string, mutate ...func(*specs.Spec)) string {
	t.Helper()
	all := append([]func(*specs.Spec){testutil.WithArgs("sh", "-c", script), inTestCgroup(t)}, mutate...)
	return testutil.NewBundle(t, all...)
}

var idCount int

func containerID(t *testing.T) string {
	idCount++
	// Container IDs allow letters, digits and "_+-."; subtest names may
	// hold anything.
	name := strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("_+-.", c) {
			return c
		}
		return '-'
	}, t.Name())
	return fmt.Sprintf("%s-%d", name, idCount)
}

// inTestCgroup puts the container under this test binary's cgroup parent.
func inTestCgroup(t *testing.T) func(*specs.Spec) {
	return func(s *specs.Spec) {
		idCount++
		s.Linux.CgroupsPath = fmt.Sprintf("%s/c%d", cgroupParent, idCount)
	}
}

// waitStatus polls `state` until the container reaches want.
func (r *rt) waitStatus(id, want string) {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		res := r.cmd("", "state", id)
		if strings.Contains(res.stdout, `"status": "`+want+`"`) {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("container %s never reached %s: %s", id, want, res)
		}
		reap()
		time.Sleep(5 * time.Millisecond)
	}
}

// started runs bundle detached with `run -d`, waits until it runs and
// returns its ID.
func (r *rt) started(bundle string) string {
	r.t.Helper()
	id := containerID(r.t)
	r.ok("run", "-d", "--bundle", bundle, id)
	r.waitStatus(id, "running")
	return id
}

// exec runs `exec <id> args...` and returns its result.
func (r *rt) exec(id string, args ...string) result {
	r.t.Helper()
	return r.cmd("", append([]string{"exec", id}, args...)...)
}

// readSpec reads a bundle's config.json.
func readSpec(t *testing.T, bundle string) *specs.Spec {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	assert.NilError(t, err)
	var s specs.Spec
	assert.NilError(t, json.Unmarshal(data, &s))
	return &s
}

// writeSpec replaces a bundle's config.json.
func writeSpec(t *testing.T, bundle string, s *specs.Spec) {
	t.Helper()
	data, err := json.MarshalIndent(s, "", "\t")
	assert.NilError(t, err)
	assert.NilError(t, os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o644))
}

// cgroupDir is the host directory of a bundle's cgroup in one v1
// hierarchy (this host is a cgroup v1 hybrid).
func cgroupDir(t *testing.T, bundle, controller string) string {
	t.Helper()
	return filepath.Join("/sys/fs/cgroup", controller, readSpec(t, bundle).Linux.CgroupsPath)
}

// hostMounts returns the lines of the host's mount table.
func hostMounts(t *testing.T) map[string]bool {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	assert.NilError(t, err)
	m := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		m[l] = true
	}
	return m
}

// assertNoLeftovers checks that container id left no state directory, no
// cgroup directory under cgroupsPath in any hierarchy, and no mount that
// was not in mountsBefore.
func (r *rt) assertNoLeftovers(id, cgroupsPath string, mountsBefore map[string]bool) {
	r.t.Helper()
	if id != "" {
		_, err := os.Lstat(filepath.Join(r.root, id))
		assert.Check(r.t, os.IsNotExist(err), "state directory of %s left behind (err %v)", id, err)
	}
	if cgroupsPath != "" {
		dirs, _ := filepath.Glob("/sys/fs/cgroup/*" + cgroupsPath)
		assert.Check(r.t, len(dirs) == 0, "cgroup directories left behind: %v", dirs)
	}
	// Only mounts that name this test's directories count: tests of other
	// packages may mount in the host's namespace at the same time.
	for l := range hostMounts(r.t) {
		if mountsBefore[l] || !strings.Contains(l, r.root) && !strings.Contains(l, "/"+strings.Split(r.t.Name(), "/")[0]) {
			continue
		}
		r.t.Errorf("new mount on the host: %s", l)
	}
}

// assertOneLineError checks that a failed command printed exactly one line
// on stderr and that it contains want.
func assertOneLineError(t *testing.T, res result, want string) {
	t.Helper()
	assert.Assert(t, res.code != 0, "command succeeded: %s", res)
	msg := strings.TrimSuffix(res.stderr, "\n")
	assert.Check(t, msg != "" && !strings.Contains(msg, "\n"), "want one line on stderr: %q", res.stderr)
	assert.Check(t, strings.Contains(msg, want), "stderr %q does not mention %q", res.stderr, want)
}

// traversable lets users other than root (such as a user namespace's
// root) reach path: every directory from the temporary directory down
// gets search permission for others.
func traversable(t *testing.T, path string) {
	t.Helper()
	tmp := filepath.Clean(os.TempDir())
	for p := filepath.Clean(path); strings.HasPrefix(p, tmp+"/"); p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		assert.NilError(t, err)
		assert.NilError(t, os.Chmod(p, fi.Mode().Perm()|0o011|fi.Mode()&os.ModeSticky))
	}
}

// withMounts appends mounts to the spec.
func withMounts(ms ...specs.Mount) func(*specs.Spec) {
	return func(s *specs.Spec) { s.Mounts = append(s.Mounts, ms...) }
}

// withNamespace adds (or, with a path, joins) a namespace, replacing an
// entry of the same type.
func withNamespace(typ specs.LinuxNamespaceType, path string) func(*specs.Spec) {
	return func(s *specs.Spec) {
		for i, ns := range s.Linux.Namespaces {
			if ns.Type == typ {
				s.Linux.Namespaces[i].Path = path
				return
			}
		}
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: typ, Path: path})
	}
}

// userNSHostID is where a user-namespaced container's root is mapped.
const userNSHostID = 100000

// userNSBundle makes a bundle like sh with a user namespace (withUserNS),
// and shifts the ownership of its root filesystem into the mapped range,
// as an image unpacked for that namespace would be.
func userNSBundle(t *testing.T, script string, mutate ...func(*specs.Spec)) string {
	t.Helper()
	b := sh(t, script, append([]func(*specs.Spec){withUserNS}, mutate...)...)
	traversable(t, b)
	err := filepath.Walk(filepath.Join(b, "rootfs"), func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		return os.Lchown(p, int(st.Uid)+userNSHostID, int(st.Gid)+userNSHostID)
	})
	assert.NilError(t, err)
	return b
}

// withUserNS gives the container a user namespace mapping 0-65535 to
// 100000-165535.
func withUserNS(s *specs.Spec) {
	withNamespace(specs.UserNamespace, "")(s)
	m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: userNSHostID, Size: 65536}}
	s.Linux.UIDMappings, s.Linux.GIDMappings = m, m
}
