// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/berth-project/berth/internal/testutil"
)

func TestVersionAndInfo(t *testing.T) {
	testutil.RequiresRoot(t)
	assert.Equal(t, ok(t, "version", "--format", "{{.Server.Version}}"), "0.1.0")
	assert.Equal(t, ok(t, "info", "--format", "{{.OSType}} {{.LoggingDriver}}"), "linux json-file")
	r := docker(t, "version", "--format", "{{.Server.APIVersion}}")
	assert.Equal(t, r.Code, 0, r.String())
	// the host config's defaults, as Docker records them at create
	id := ok(t, "create", "busybox", "true")
	t.Cleanup(func() { docker(t, "rm", id) })
	cgroupns := "host" // Docker's default on cgroup v1 and hybrid hosts
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		cgroupns = "private"
	}
	assert.Equal(t, ok(t, "inspect", "-f", "{{.HostConfig.ShmSize}} {{.HostConfig.IpcMode}} {{.HostConfig.CgroupnsMode}} {{.HostConfig.LogConfig.Type}} {{len .HostConfig.MaskedPaths}} {{len .HostConfig.ReadonlyPaths}}", id),
		"67108864 private "+cgroupns+" json-file 12 5")
	// no swarm, and the network drivers there are ("null" is none's)
	assert.Equal(t, ok(t, "info", "--format", "{{.Swarm.LocalNodeState}} {{.Plugins.Network}}"), "inactive [bridge host null]")
}

// TestImageListReference: an image found by a reference filter (or the
// REPOSITORY argument) shows only the names that matched, as Docker
// lists it: a cleanup script that untags what it lists must not untag
// the image's other names.
func TestImageListReference(t *testing.T) {
	testutil.RequiresRoot(t)
	for _, tag := range []string{"tn-ref/a:1", "tn-ref/a:2", "tn-refother:1"} {
		ok(t, "tag", "busybox", tag)
		t.Cleanup(func() { docker(t, "rmi", tag) })
	}
	format := []string{"--format", "{{.Repository}}:{{.Tag}}"}
	assert.Equal(t, ok(t, append([]string{"images"}, append(format, "tn-ref/a")...)...), "tn-ref/a:1\ntn-ref/a:2")
	// patterns are path.Match's: "*" stops at "/"; several are "or"
	assert.Equal(t, ok(t, append([]string{"images", "--filter", "reference=tn-ref*:1"}, format...)...), "tn-refother:1")
	// (the docker CLI groups an image's tags by repository in a map: the
	// order of repositories varies from run to run, as with Docker)
	lines := strings.Split(ok(t, append([]string{"images", "--filter", "reference=tn-ref/*:1", "--filter", "reference=tn-refother"}, format...)...), "\n")
	slices.Sort(lines)
	assert.DeepEqual(t, lines, []string{"tn-ref/a:1", "tn-refother:1"})
	assert.Equal(t, ok(t, append([]string{"images", "--filter", "reference=tn-refother"}, format...)...), "tn-refother:1")
	assert.Equal(t, len(strings.Fields(ok(t, "images", "-q", "tn-refother"))), 1)
}

// TestLayerSizes: a layer's size is what Docker counts (file bytes, not
// blocks; directories nothing), and a RUN or commit layer has none of the
// runtime's mountpoints.
func TestLayerSizes(t *testing.T) {
	testutil.RequiresRoot(t)
	rmOnCleanup(t, "tn-sizes")
	ok(t, "run", "--name", "tn-sizes", "busybox", "sh", "-c", "echo hi > /f")
	ok(t, "commit", "tn-sizes", "tn-sizes:1")
	t.Cleanup(func() { docker(t, "rmi", "tn-sizes:1") })
	assert.Equal(t, strings.Split(ok(t, "history", "--format", "{{.Size}}", "tn-sizes:1"), "\n")[0], "3B")
	dir := t.TempDir()
	assert.NilError(t, os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM busybox\nRUN true\n"), 0o644))
	r := dockerCmd(shared, "build", "--no-cache", "-q", "-t", "tn-sizes:2", dir)
	r.Env = append(r.Env, "DOCKER_BUILDKIT=0")
	out, err := r.CombinedOutput()
	assert.NilError(t, err, string(out))
	t.Cleanup(func() { docker(t, "rmi", "tn-sizes:2") })
	assert.Equal(t, strings.Split(ok(t, "history", "--format", "{{.Size}}", "tn-sizes:2"), "\n")[0], "0B")

	// what a COPY puts there stays, even where the runtime mounts: no
	// container ran on that layer
	for _, p := range []string{"root/proc", "root/etc"} {
		assert.NilError(t, os.MkdirAll(filepath.Join(dir, p), 0o755))
	}
	for _, f := range []string{"root/.dockerenv", "root/etc/hosts"} {
		assert.NilError(t, os.WriteFile(filepath.Join(dir, f), nil, 0o644))
	}
	assert.NilError(t, os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM busybox\nCOPY root/ /\n"), 0o644))
	r = dockerCmd(shared, "build", "--no-cache", "-q", "-t", "tn-sizes:3", dir)
	r.Env = append(r.Env, "DOCKER_BUILDKIT=0")
	out, err = r.CombinedOutput()
	assert.NilError(t, err, string(out))
	t.Cleanup(func() { docker(t, "rmi", "tn-sizes:3") })
	created := ok(t, "create", "tn-sizes:3", "true")
	t.Cleanup(func() { docker(t, "rm", created) })
	exp, err := dockerCmd(shared, "export", created).Output()
	assert.NilError(t, err)
	names := strings.Join(tarEntries(t, exp), "\n")
	for _, want := range []string{".dockerenv", "etc/hosts"} {
		assert.Assert(t, is.Contains(names, want), "the COPY layer lost %s", want)
	}
}

// TestCommitKeepsHealthcheck: commit keeps the container's HEALTHCHECK
// (its image's), as Docker does; an OCI config has no field for it.
func TestCommitKeepsHealthcheck(t *testing.T) {
	testutil.RequiresRoot(t)
	dir := t.TempDir()
	assert.NilError(t, os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM busybox\nHEALTHCHECK --interval=5s CMD true\n"), 0o644))
	r := dockerCmd(shared, "build", "-q", "-t", "tn-hc:1", dir)
	r.Env = append(r.Env, "DOCKER_BUILDKIT=0")
	out, err := r.CombinedOutput()
	assert.NilError(t, err, string(out))
	t.Cleanup(func() { docker(t, "rmi", "tn-hc:1", "tn-hc:2") })
	rmOnCleanup(t, "tn-hc")
	ok(t, "create", "--name", "tn-hc", "tn-hc:1", "true")
	ok(t, "commit", "-c", `CMD ["sh"]`, "tn-hc", "tn-hc:2")
	assert.Equal(t, ok(t, "image", "inspect", "-f", "{{json .Config.Healthcheck}} {{json .Config.Cmd}}", "tn-hc:2"),
		`{"Test":["CMD-SHELL","true"],"Interval":5000000000} ["sh"]`)
}

// TestDockerFilesOnce: /.dockerenv and /etc/mtab are made at the first
// start only: a container that deletes them keeps them deleted.
func TestDockerFilesOnce(t *testing.T) {
	testutil.RequiresRoot(t)
	rmOnCleanup(t, "tn-once")
	ok(t, "run", "--name", "tn-once", "busybox", "sh", "-c", "test -L /etc/mtab && rm /etc/mtab /.dockerenv")
	r := docker(t, "start", "-a", "tn-once")
	assert.Assert(t, r.Code != 0, "the files came back after a restart")
	// the image never had them: nothing changed (Docker, whose init
	// layer holds them, shows their deletion)
	assert.Equal(t, ok(t, "diff", "tn-once"), "")
}

// TestPsImageAfterRetag: ps shows a container's image by the reference it
// was made from while that still names the image, else by its ID.
func TestPsImageAfterRetag(t *testing.T) {
	testutil.RequiresRoot(t)
	rmOnCleanup(t, "tn-retag")
	ok(t, "tag", "busybox", "tn-retag:1")
	t.Cleanup(func() { docker(t, "rmi", "tn-retag:1") })
	ok(t, "create", "--name", "tn-retag", "tn-retag:1", "true")
	assert.Equal(t, ok(t, "ps", "-a", "--filter", "name=tn-retag", "--format", "{{.Image}}"), "tn-retag:1")
	ok(t, "rmi", "tn-retag:1")
	id := ok(t, "inspect", "-f", "{{.Image}}", "tn-retag")
	assert.Equal(t, ok(t, "ps", "-a", "--filter", "name=tn-retag", "--format", "{{.Image}}"), strings.TrimPrefix(id, "sha256:")[:12])
}

// TestEngineID: info's ID is a UUID of the daemon's own, the same after a
// restart.
func TestEngineID(t *testing.T) {
	d := ownDaemon(t)
	id := okOn(t, d, "info", "--format", "{{.ID}}")
	assert.Assert(t, regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(id), id)
	assert.Assert(t, id != okOn(t, shared, "info", "--format", "{{.ID}}"), "two daemons share an ID")
	d.Kill()
	restart(t, d)
	assert.Equal(t, okOn(t, d, "info", "--format", "{{.ID}}"), id)
}

func TestRunForeground(t *testing.T) {
	testutil.RequiresRoot(t)
	assert.Equal(t, ok(t, "run", "--rm", "busybox", "echo", "hello"), "hello")
	r := docker(t, "run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
	assert.Equal(t, r.Code, 3, r.String())
	assert.Equal(t, r.Stdout, "out\n")
	assert.Equal(t, r.Stderr, "err\n")
	// stdin is passed with -i
	r = dockerIn(t, shared, strings.NewReader("from stdin\n"), "run", "--rm", "-i", "busybox", "cat")
	assert.Equal(t, r.Code, 0, r.String())
	assert.Equal(t, r.Stdout, "from stdin\n")
}

// TestRunOutputNeverLost runs short-lived containers many times: the
// client starts the container as soon as its attach is answered, and the
// attach must be in place by then (it once was registered only after the
// answer, and a fast process's output could miss it).
func TestRunOutputNeverLost(t *testing.T) {
	testutil.RequiresRoot(t)
	for i := range 25 {
		want := fmt.Sprintf("run %d", i)
		assert.Equal(t, ok(t, "run", "--rm", "--network", "none", "busybox", "echo", want), want)
	}
}

func TestRunOptions(t *testing.T) {
	testutil.RequiresRoot(t)
	out := ok(t, "run", "--rm", "-e", "FOO=bar", "-w", "/tmp", "-u", "1000:1000", "--hostname", "box",
		"busybox", "sh", "-c", `echo "$FOO $(pwd) $(id -u):$(id -g) $(hostname)"`)
	assert.Equal(t, out, "bar /tmp 1000:1000 box")
	r := docker(t, "run", "--rm", "--read-only", "busybox", "touch", "/x")
	assert.Assert(t, r.Code != 0, r.String())
	assert.Assert(t, is.Contains(r.Stderr, "Read-only file system"))
	out = ok(t, "run", "--rm", "--cap-drop", "ALL", "busybox", "sh", "-c", "grep CapEff /proc/self/status")
	assert.Equal(t, out, "CapEff:\t0000000000000000")
	out = ok(t, "run", "--rm", "--memory", "64m", "--pids-limit", "50", "busybox", "sh", "-c",
		"cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max")
	assert.Equal(t, out, "50")
	out = ok(t, "run", "--rm", "--entrypoint", "echo", "busybox", "a", "b")
	assert.Equal(t, out, "a b")
	out = ok(t, "run", "--rm", "--init", "busybox", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '")
	assert.Assert(t, strings.HasPrefix(out, "/sbin/docker-init -- sh"), out)
	out = ok(t, "run", "--rm", "--ulimit", "nofile=100:200", "busybox", "sh", "-c", "ulimit -n; ulimit -Hn")
	assert.Equal(t, out, "100\n200")
}

func TestRunErrors(t *testing.T) {
	testutil.RequiresRoot(t)
	fails(t, 127, "executable file not found", "run", "--rm", "busybox", "nosuchcommand")
	fails(t, 125, "No such image", "run", "--rm", "--pull", "never", "nosuchimage")
	fails(t, 125, "invalid argument \"abc\" for \"-m, --memory\" flag", "run", "--rm", "--memory", "abc", "busybox", "true")
	fails(t, 125, "invalid restart policy", "run", "--restart", "sometimes", "busybox", "true")
	fails(t, 125, "Minimum memory limit allowed is 6MB", "run", "--rm", "--memory", "1m", "busybox", "true")
	// as Docker (runc) refuses it; the exit code is 125, not 127
	fails(t, 125, `"/proc/foo" cannot be mounted because it is inside /proc`, "run", "--rm", "-v", t.TempDir()+":/proc/foo", "busybox", "true")
	ok(t, "create", "--name", "dup", "busybox", "true")
	rmOnCleanup(t, "dup")
	fails(t, 1, `The container name "/dup" is already in use`, "create", "--name", "dup", "busybox", "true")
	fails(t, 1, "No such container: nosuch", "rm", "nosuch")
	fails(t, 1, "No such object: nosuch", "inspect", "nosuch")
	fails(t, 1, "No such container: nosuch", "start", "nosuch")
	fails(t, 1, "No such container: nosuch", "logs", "nosuch")
	fails(t, 1, "No such container: nosuch", "exec", "nosuch", "true")
}

func TestLifecycle(t *testing.T) {
	testutil.RequiresRoot(t)
	id := ok(t, "run", "-d", "--name", "life", "--label", "app=e2e", "busybox", "sh", "-c", "trap 'exit 7' TERM; echo started; while true; do sleep 0.1; done")
	rmOnCleanup(t, "life")
	assert.Equal(t, len(id), 64)
	assert.Equal(t, ok(t, "inspect", "-f", "{{.State.Running}} {{.Name}} {{.Config.Labels.app}}", "life"), "true /life e2e")
	assert.Assert(t, is.Contains(ok(t, "ps", "--format", "{{.Names}} {{.Status}}"), "life Up"))
	assert.Equal(t, ok(t, "ps", "-q", "--filter", "label=app=e2e"), id[:12])
	assert.Equal(t, ok(t, "ps", "-q", "--filter", "name=lif", "--no-trunc"), id)
	eventually(t, "log line", func() bool { return docker(t, "logs", "life").Stdout == "started\n" })

	// rm of a running container is a conflict
	fails(t, 1, "container is running: stop the container before removing or force remove", "rm", "life")

	// exec
	assert.Equal(t, ok(t, "exec", "life", "echo", "in"), "in")
	r := docker(t, "exec", "life", "sh", "-c", "exit 4")
	assert.Equal(t, r.Code, 4, r.String())
	assert.Equal(t, ok(t, "exec", "-u", "1000", "-w", "/tmp", "-e", "X=1", "life", "sh", "-c", "echo $(id -u) $(pwd) $X"), "1000 /tmp 1")

	// top
	assert.Assert(t, is.Contains(ok(t, "top", "life"), "sleep"))
	// ps's own columns for BSD options, as with Docker (not PID alone)
	assert.Assert(t, strings.HasPrefix(ok(t, "top", "life", "x"), "PID"), "top x")
	assert.Assert(t, is.Contains(strings.Split(ok(t, "top", "life", "x"), "\n")[0], "COMMAND"))
	fails(t, 1, `unknown user-defined format specifier "foo"`, "top", "life", "-o", "foo")

	// pause, unpause
	ok(t, "pause", "life")
	assert.Equal(t, ok(t, "inspect", "-f", "{{.State.Status}}", "life"), "paused")
	assert.Assert(t, is.Contains(ok(t, "ps", "--format", "{{.Status}}", "--filter", "name=life"), "(Paused)"))
	ok(t, "unpause", "life")
	assert.Equal(t, ok(t, "inspect", "-f", "{{.State.Status}}", "life"), "running")

	// stats
	var st struct{ Name, MemUsage string }
	assert.NilError(t, json.Unmarshal([]byte(ok(t, "stats", "--no-stream", "--format", "{{json .}}", "life")), &st))
	assert.Equal(t, st.Name, "life")

	// rename
	ok(t, "rename", "life", "life2")
	assert.Equal(t, ok(t, "inspect", "-f", "{{.Name}}", "life2"), "/life2")
	ok(t, "rename", "life2", "life")

	// update
	ok(t, "update", "--memory", "128m", "--memory-swap", "256m", "life")
	assert.Equal(t, ok(t, "inspect", "-f", "{{.HostConfig.Memory}}", "life"), strconv.Itoa(128<<20))

	// stop: TERM, the trap exits 7
	ok(t, "stop", "-t", "5", "life")
	assert.Equal(t, ok(t, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "life"), "exited 7")
	assert.Equal(t, ok(t, "wait", "life"), "7")
	assert.Assert(t, is.Contains(ok(t, "ps", "-a", "--format", "{{.Names}} {{.Status}}"), "life Exited (7)"))
	assert.Equal(t, ok(t, "ps", "-aq", "--filter", "exited=7"), id[:12])
	// as with Docker: exited does not imply -a, and wants a number
	assert.Equal(t, ok(t, "ps", "-q", "--filter", "exited=7"), "")
	fails(t, 1, `strconv.Atoi: parsing "x": invalid syntax`, "ps", "-a", "--filter", "exited=x")
	// arguments with spaces are quoted, as Docker shows them
	assert.Equal(t, ok(t, "ps", "-a", "--no-trunc", "--filter", "name=^life$", "--format", "{{.Command}}"),
		`"sh -c 'trap 'exit 7' TERM; echo started; while true; do sleep 0.1; done'"`)
	// a tail that is no number means all
	assert.Equal(t, ok(t, "logs", "--tail", "foo", "life"), "started")

	// start again, restart, kill
	ok(t, "start", "life")
	assert.Equal(t, ok(t, "inspect", "-f", "{{.State.Running}}", "life"), "true")
	ok(t, "restart", "-t", "1", "life")
	assert.Equal(t, ok(t, "inspect", "-f", "{{.State.Running}}", "life"), "true")
	ok(t, "kill", "-s", "KILL", "life")
	assert.Equal(t, ok(t, "wait", "life"), "137")
	fails(t, 1, "Cannot kill container: life: Container "+id+" is not running", "kill", "life")
	fails(t, 1, "Container "+id+" is not paused", "unpause", "life")
	fails(t, 1, "Container "+id+" is not running", "exec", "life", "true")

	// diff and export
	ok(t, "start", "life")
	ok(t, "exec", "life", "sh", "-c", "echo x > /newfile; rm /bin/true")
	diff := ok(t, "diff", "life")
	// exactly: what the runtime made only to mount over (the image has no
	// /etc/hosts, /etc/hostname or /etc/resolv.conf), /.dockerenv and
	// /etc/mtab are no changes
	assert.Equal(t, diff, "C /bin\nD /bin/true\nA /newfile")
	assert.Equal(t, ok(t, "exec", "life", "sh", "-c", "test -f /.dockerenv && readlink /etc/mtab"), "/proc/mounts")
	cmd := dockerCmd(shared, "export", "life")
	out, err := cmd.Output()
	assert.NilError(t, err)
	names := strings.Join(tarEntries(t, out), "\n")
	assert.Assert(t, is.Contains(names, "newfile"))
	// and once it has stopped (its last run mounted the layer volatile)
	ok(t, "stop", "-t", "0", "life")
	out, err = dockerCmd(shared, "export", "life").Output()
	assert.NilError(t, err)
	assert.Assert(t, is.Contains(strings.Join(tarEntries(t, out), "\n"), "newfile"))
	ok(t, "rm", "-f", "life")
	fails(t, 1, "No such container", "inspect", "--type", "container", "life")
}

func TestAutoRemoveAndPrune(t *testing.T) {
	testutil.RequiresRoot(t)
	id := ok(t, "run", "-d", "--rm", "busybox", "true")
	eventually(t, "auto-removed container", func() bool {
		return docker(t, "inspect", id).Code != 0
	})
	ok(t, "create", "--name", "prune1", "--label", "p=1", "busybox", "true")
	ok(t, "run", "--name", "prune2", "busybox", "true")
	rmOnCleanup(t, "prune1", "prune2")
	out := ok(t, "container", "prune", "-f", "--filter", "label=p=1")
	assert.Assert(t, is.Contains(out, "Total reclaimed space"))
	assert.Assert(t, docker(t, "inspect", "prune1").Code != 0)
	assert.Equal(t, ok(t, "inspect", "-f", "{{.State.Status}}", "prune2"), "exited")
}

// TestRestartKeepsAutoRemove: docker restart of an --rm container
// restarts it, as Docker does; the stop after that removes it.
func TestRestartKeepsAutoRemove(t *testing.T) {
	testutil.RequiresRoot(t)
	rmOnCleanup(t, "tn-rmrestart")
	ok(t, "run", "-d", "--rm", "--name", "tn-rmrestart", "busybox", "sleep", "100")
	assert.Equal(t, ok(t, "restart", "-t", "0", "tn-rmrestart"), "tn-rmrestart")
	assert.Equal(t, ok(t, "inspect", "-f", "{{.State.Running}}", "tn-rmrestart"), "true")
	ok(t, "stop", "-t", "0", "tn-rmrestart")
	eventually(t, "the --rm container to go", func() bool {
		return docker(t, "inspect", "tn-rmrestart").Code != 0
	})
}

func TestRestartPolicy(t *testing.T) {
	testutil.RequiresRoot(t)
	ok(t, "run", "-d", "--name", "onfail", "--restart", "on-failure:2", "busybox", "sh", "-c", "exit 1")
	rmOnCleanup(t, "onfail")
	eventually(t, "two restarts", func() bool {
		return docker(t, "inspect", "-f", "{{.RestartCount}} {{.State.Status}}", "onfail").Stdout == "2 exited\n"
	})
	ok(t, "run", "-d", "--name", "always", "--restart", "always", "busybox", "sh", "-c", "sleep 0.2")
	rmOnCleanup(t, "always")
	eventually(t, "restarted", func() bool {
		n, _ := strconv.Atoi(strings.Fields(docker(t, "inspect", "-f", "{{.RestartCount}}", "always").Stdout + " 0")[0])
		return n >= 1
	})
	ok(t, "stop", "-t", "1", "always")
	time.Sleep(500 * time.Millisecond)
	assert.Equal(t, ok(t, "inspect", "-f", "{{.State.Status}}", "always"), "exited")
}

func TestAttachAndLogs(t *testing.T) {
	testutil.RequiresRoot(t)
	ok(t, "run", "-d", "--name", "logs", "busybox", "sh", "-c", "for i in 1 2 3; do echo line$i; done; sleep 0.2; echo oops >&2; sleep 1; echo last")
	rmOnCleanup(t, "logs")
	r := docker(t, "logs", "-f", "logs")
	assert.Equal(t, r.Code, 0, r.String())
	assert.Equal(t, r.Stdout, "line1\nline2\nline3\nlast\n")
	assert.Equal(t, r.Stderr, "oops\n")
	assert.Equal(t, ok(t, "logs", "--tail", "2", "logs"), "last") // the other of the two is the stderr line
	r = docker(t, "logs", "-t", "logs")
	assert.Assert(t, strings.HasPrefix(r.Stdout, time.Now().UTC().Format("2006-01-02T")), r.Stdout)

	// start -a attaches to the output and returns the exit code
	ok(t, "create", "--name", "att", "busybox", "sh", "-c", "echo attached; exit 5")
	rmOnCleanup(t, "att")
	r = docker(t, "start", "-a", "att")
	assert.Equal(t, r.Code, 5, r.String())
	assert.Equal(t, r.Stdout, "attached\n")

	// attach to a running container sees what it writes from then on
	ok(t, "run", "-d", "-i", "--name", "cat", "busybox", "sh", "-c", "read l; echo got $l; exit 9")
	rmOnCleanup(t, "cat")
	r = dockerIn(t, shared, strings.NewReader("echoed\n"), "attach", "cat")
	assert.Equal(t, r.Stdout, "got echoed\n", r.String())
	assert.Equal(t, r.Code, 9, r.String())
}

func TestEvents(t *testing.T) {
	testutil.RequiresRoot(t)
	since := strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10)
	ok(t, "run", "--name", "ev", "busybox", "true")
	ok(t, "rm", "ev")
	until := strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10)
	out := ok(t, "events", "--since", since, "--until", until, "--filter", "container=ev", "--format", "{{.Action}}")
	assert.Equal(t, out, "create\nattach\nstart\ndie\ndestroy")
	// a container's events match its image; the CLI's legacy fields
	out = ok(t, "events", "--since", since, "--until", until, "--filter", "image=busybox", "--filter", "event=create", "--format", "{{.Status}} {{.From}} {{.Type}}")
	assert.Assert(t, is.Contains(out, "create busybox container"), out)
	// the run joined and left its network, as Docker says
	out = ok(t, "events", "--since", since, "--until", until, "--filter", "type=network", "--filter", "network=bridge", "--format", "{{.Action}} {{.Actor.Attributes.name}}")
	assert.Assert(t, is.Contains(out, "connect bridge\ndisconnect bridge"), out)
	// --until alone replays what is kept up to then, as in Docker
	out = ok(t, "events", "--until", until, "--filter", "container=ev", "--format", "{{.Action}}")
	assert.Equal(t, out, "create\nattach\nstart\ndie\ndestroy")
}

func TestRemoveDeletesEverything(t *testing.T) {
	testutil.RequiresRoot(t)
	id := ok(t, "run", "-d", "busybox", "sleep", "100")
	ok(t, "rm", "-f", id)
	for _, dir := range []string{shared.DataRoot + "/containers/" + id, shared.ExecRoot + "/containers/" + id, shared.ExecRoot + "/runtime/" + id} {
		_, err := os.Stat(dir)
		assert.Assert(t, os.IsNotExist(err), "%s is still there", dir)
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	assert.Assert(t, !strings.Contains(string(mounts), id), "a mount of the container is left")
	assert.Equal(t, len(testutil.CgroupDirs(shared.CgroupParent+"/"+id)), 0)
}
