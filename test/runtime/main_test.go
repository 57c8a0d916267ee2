// Package runtime_test runs real containers through berth's runc-compatible
// command line (`berth runtime ...`) and checks, from inside each container,
// what it really got.
package runtime_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
		dir, err := os.MkdirTemp("", "berth-runtime-test-")
		if err != nil {
			panic(err)
		}
		defer os.RemoveAll(dir)
		berthBin = filepath.Join(dir, "berth")
		out, err := exec.Command("go", "build", "-o", berthBin, "../../cmd/berth").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "build berth: %v\n%s", err, out)
			return 1
		}
		// Containers made with `create` outlive the runtime process that made
		// them; as a subreaper this test process inherits (and reaps) them
		// instead of the host's init.
		unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
		defer removeCgroupParent()
	}
	return m.Run()
}

func removeCgroupParent() {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*" + cgroupParent)
	more, _ := filepath.Glob("/sys/fs/cgroup/*" + cgroupParent + "/*")
	for _, d := range append(more, dirs...) {
		os.Remove(d)
	}
}

// rt is one test's runtime: its own --root, cleaned up at the end.
type rt struct {
	t    *testing.T
	root string
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
	name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
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
