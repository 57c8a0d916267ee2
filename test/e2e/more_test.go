// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/berth-project/berth/internal/testutil"
)

func TestHealthcheck(t *testing.T) {
	testutil.RequiresRoot(t)
	ok(t, "run", "-d", "--name", "health", "--health-cmd", "test -f /tmp/ok", "--health-interval", "200ms",
		"--health-retries", "1", "busybox", "sh", "-c", "sleep 1; touch /tmp/ok; sleep 100")
	rmOnCleanup(t, "health")
	assert.Assert(t, is.Contains(ok(t, "ps", "--filter", "name=health", "--format", "{{.Status}}"), "health: starting"))
	eventually(t, "healthy", func() bool {
		return docker(t, "inspect", "-f", "{{.State.Health.Status}}", "health").Stdout == "healthy\n"
	})
	assert.Assert(t, is.Contains(ok(t, "ps", "--filter", "health=healthy", "--format", "{{.Names}} {{.Status}}"), "health Up"))
	ok(t, "exec", "health", "rm", "/tmp/ok")
	eventually(t, "unhealthy", func() bool {
		return docker(t, "inspect", "-f", "{{.State.Health.Status}}", "health").Stdout == "unhealthy\n"
	})
	var h struct{ Log []struct{ ExitCode int } }
	assert.NilError(t, json.Unmarshal([]byte(ok(t, "inspect", "-f", "{{json .State.Health}}", "health")), &h))
	assert.Assert(t, len(h.Log) > 0)
	assert.Equal(t, h.Log[len(h.Log)-1].ExitCode, 1)
}

func TestExecDetachedAndInspect(t *testing.T) {
	testutil.RequiresRoot(t)
	ok(t, "run", "-d", "--name", "execd", "busybox", "sleep", "100")
	rmOnCleanup(t, "execd")
	// docker exec -d returns at once
	r := docker(t, "exec", "-d", "execd", "sh", "-c", "sleep 0.2; echo done > /tmp/done")
	assert.Equal(t, r.Code, 0, r.String())
	eventually(t, "detached exec", func() bool { return docker(t, "exec", "execd", "cat", "/tmp/done").Stdout == "done\n" })
	// exec inspect has the exit code
	code, body := api(t, "POST", "/containers/execd/exec", `{"Cmd":["sh","-c","exit 3"]}`)
	assert.Equal(t, code, 201, body)
	var created struct {
		ID string `json:"Id"`
	}
	assert.NilError(t, json.Unmarshal([]byte(body), &created))
	code, body = api(t, "POST", "/exec/"+created.ID+"/start", `{"Detach":true}`)
	assert.Equal(t, code, 200, body)
	eventually(t, "exec exit code", func() bool {
		_, body := api(t, "GET", "/exec/"+created.ID+"/json", "")
		var st struct {
			Running  bool
			ExitCode *int
		}
		json.Unmarshal([]byte(body), &st)
		return !st.Running && st.ExitCode != nil && *st.ExitCode == 3
	})
	code, body = api(t, "POST", "/exec/"+created.ID+"/start", `{"Detach":true}`)
	assert.Equal(t, code, 409, body)
}

// TestExecCannotStart: an exec whose program cannot be started says why
// and exits as with Docker: 127 for a program not found, 126 for one that
// cannot be invoked or a working directory that does not exist.
func TestExecCannotStart(t *testing.T) {
	testutil.RequiresRoot(t)
	ok(t, "run", "-d", "--name", "execfail", "busybox", "sleep", "100")
	rmOnCleanup(t, "execfail")
	for _, tc := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"execfail", "nosuchcmd"}, 127, `exec: "nosuchcmd": executable file not found in $PATH`},
		{[]string{"execfail", "/etc/passwd"}, 126, `exec: "/etc/passwd": permission denied`},
		{[]string{"-w", "/nonexistent", "execfail", "true"}, 126, `chdir to cwd ("/nonexistent") set in config.json: no such file or directory`},
	} {
		r := docker(t, append([]string{"exec"}, tc.args...)...)
		assert.Check(t, is.Equal(r.Code, tc.code), r.String())
		assert.Check(t, is.Contains(r.Stdout+r.Stderr, tc.err), r.String())
	}
}

func TestStatsStream(t *testing.T) {
	testutil.RequiresRoot(t)
	ok(t, "run", "-d", "--name", "stats", "busybox", "sleep", "100")
	rmOnCleanup(t, "stats")
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return net.Dial("unix", shared.Sock)
	}}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://berth/containers/stats/stats?stream=1", nil)
	resp, err := c.Do(req)
	assert.NilError(t, err)
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	var reads []string
	for len(reads) < 2 && sc.Scan() {
		var s struct {
			Read        string `json:"read"`
			MemoryStats struct {
				Usage uint64 `json:"usage"`
			} `json:"memory_stats"`
			PidsStats struct {
				Current uint64 `json:"current"`
			} `json:"pids_stats"`
		}
		assert.NilError(t, json.Unmarshal(sc.Bytes(), &s))
		assert.Equal(t, s.PidsStats.Current, uint64(1))
		assert.Assert(t, s.MemoryStats.Usage > 0)
		reads = append(reads, s.Read)
	}
	assert.Equal(t, len(reads), 2)
	assert.Assert(t, reads[0] != reads[1])
}

func TestLogsSinceUntilAndRotation(t *testing.T) {
	testutil.RequiresRoot(t)
	ok(t, "run", "-d", "--name", "since", "busybox", "sh", "-c", "echo one; sleep 1.5; echo two; sleep 1.5; echo three")
	rmOnCleanup(t, "since")
	assert.Equal(t, ok(t, "wait", "since"), "0")
	var lines []struct{ t time.Time }
	for _, l := range strings.Split(ok(t, "logs", "-t", "since"), "\n") {
		ts, _, _ := strings.Cut(l, " ")
		tm, err := time.Parse(time.RFC3339Nano, ts)
		assert.NilError(t, err, l)
		lines = append(lines, struct{ t time.Time }{tm})
	}
	assert.Equal(t, len(lines), 3)
	mid := lines[1].t.Add(-500 * time.Millisecond).Format(time.RFC3339Nano)
	assert.Equal(t, ok(t, "logs", "--since", mid, "since"), "two\nthree")
	assert.Equal(t, ok(t, "logs", "--until", mid, "since"), "one")

	ok(t, "run", "--name", "rotate", "--log-opt", "max-size=1k", "--log-opt", "max-file=2", "busybox", "sh", "-c",
		"i=0; while [ $i -lt 200 ]; do echo line$i; i=$((i+1)); done")
	rmOnCleanup(t, "rotate")
	path := ok(t, "inspect", "-f", "{{.LogPath}}", "rotate")
	files, _ := filepath.Glob(path + "*")
	assert.Equal(t, len(files), 2, "log files: %v", files)
	out := ok(t, "logs", "rotate")
	assert.Assert(t, strings.HasSuffix(out, "line199"))
	assert.Assert(t, !strings.Contains(out, "line0\n"), "rotated lines are gone")
	assert.Equal(t, ok(t, "logs", "--tail", "1", "rotate"), "line199")
}

func TestWaitConditions(t *testing.T) {
	testutil.RequiresRoot(t)
	ok(t, "create", "--name", "waitc", "busybox", "sh", "-c", "exit 6")
	rmOnCleanup(t, "waitc")
	// next-exit waits for the start and exit to come
	done := make(chan result, 1)
	go func() { done <- dockerIn(t, shared, nil, "container", "wait", "waitc") }()
	_, body := api(t, "POST", "/containers/waitc/wait?condition=not-running", "")
	assert.Assert(t, is.Contains(body, `"StatusCode":0`), body)
	<-done
	ch := make(chan string, 1)
	go func() {
		_, body := api(t, "POST", "/containers/waitc/wait?condition=next-exit", "")
		ch <- body
	}()
	time.Sleep(300 * time.Millisecond)
	ok(t, "start", "waitc")
	select {
	case body := <-ch:
		assert.Assert(t, is.Contains(body, `"StatusCode":6`), body)
	case <-time.After(20 * time.Second):
		t.Fatal("next-exit wait did not return")
	}
	go func() {
		_, body := api(t, "POST", "/containers/waitc/wait?condition=removed", "")
		ch <- body
	}()
	time.Sleep(300 * time.Millisecond)
	ok(t, "rm", "waitc")
	select {
	case body := <-ch:
		assert.Assert(t, is.Contains(body, `"StatusCode":6`), body)
	case <-time.After(20 * time.Second):
		t.Fatal("removed wait did not return")
	}
}

func TestRestartPolicyAcrossDaemonRestart(t *testing.T) {
	testutil.RequiresRoot(t)
	d := ownDaemon(t)
	okOn(t, d, "run", "-d", "--name", "always", "--restart", "always", "busybox", "sleep", "100")
	okOn(t, d, "run", "-d", "--name", "never", "busybox", "sleep", "100")
	pids := okOn(t, d, "inspect", "-f", "{{.State.Pid}}", "always", "never")
	d.Kill()
	// both containers die while the daemon is away
	for _, p := range strings.Fields(pids) {
		pid, _ := strconv.Atoi(p)
		proc, err := os.FindProcess(pid)
		assert.NilError(t, err)
		proc.Kill()
	}
	time.Sleep(300 * time.Millisecond)
	restart(t, d)
	eventually(t, "always restarted", func() bool {
		r := dockerIn(t, d, nil, "inspect", "-f", "{{.State.Status}} {{.RestartCount}}", "always")
		return r.Stdout == "running 1\n"
	})
	assert.Equal(t, okOn(t, d, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "never"), "exited 137")
	okOn(t, d, "rm", "-f", "always", "never")
}

func TestPsFiltersAndFormats(t *testing.T) {
	testutil.RequiresRoot(t)
	ok(t, "run", "--name", "psa", "busybox", "true")
	ok(t, "run", "-d", "--name", "psb", "busybox", "sleep", "100")
	ok(t, "create", "--name", "psc", "busybox", "true")
	rmOnCleanup(t, "psa", "psb", "psc")
	names := func(args ...string) string {
		return ok(t, append([]string{"ps", "--format", "{{.Names}}"}, args...)...)
	}
	assert.Equal(t, names("--filter", "name=ps"), "psb")
	assert.Equal(t, names("-a", "--filter", "name=ps", "--filter", "status=exited"), "psa")
	assert.Equal(t, names("-a", "--filter", "name=ps", "--filter", "status=created"), "psc")
	assert.Equal(t, names("-a", "--filter", "name=ps", "--filter", "since=psa"), "psc\npsb")
	assert.Equal(t, names("-a", "--filter", "name=ps", "--filter", "before=psc"), "psb\npsa")
	assert.Equal(t, names("-a", "--filter", "name=psb", "--filter", "ancestor=busybox"), "psb")
	assert.Equal(t, names("-l"), "psc")
	assert.Equal(t, names("-a", "-n", "2", "--filter", "name=ps"), "psc\npsb")
	table := ok(t, "ps", "--filter", "name=psb", "--format", "table {{.Names}}\t{{.Image}}\t{{.Command}}")
	assert.Assert(t, is.Regexp(`^NAMES +IMAGE +COMMAND\npsb +busybox +"sleep 100"$`, table))
	sized := ok(t, "ps", "-s", "--filter", "name=psb", "--format", "{{.Size}}")
	assert.Assert(t, is.Contains(sized, "virtual"))
}

func TestSystemCommands(t *testing.T) {
	testutil.RequiresRoot(t)
	d := ownDaemon(t)
	okOn(t, d, "run", "--name", "gone", "busybox", "true")
	df := okOn(t, d, "system", "df")
	assert.Assert(t, is.Regexp(`(?m)^Images +1 +1`, df))
	assert.Assert(t, is.Regexp(`(?m)^Containers +1 +0`, df))
	out := okOn(t, d, "system", "prune", "-f")
	assert.Assert(t, is.Contains(out, "Total reclaimed space"))
	assert.Equal(t, okOn(t, d, "ps", "-aq"), "")
	// the predefined networks; no volumes
	assert.Equal(t, okOn(t, d, "network", "ls", "--format", "{{.Name}} {{.Driver}}"), "bridge bridge\nhost host\nnone null")
	assert.Equal(t, okOn(t, d, "volume", "ls", "-q"), "")
	// image events
	since := strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10)
	okOn(t, d, "tag", "busybox", "other:tag")
	okOn(t, d, "rmi", "other:tag")
	until := strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10)
	ev := okOn(t, d, "events", "--since", since, "--until", until, "--filter", "type=image", "--filter", "event=tag", "--filter", "event=untag", "--format", "{{.Type}} {{.Action}}")
	assert.Equal(t, ev, "image tag\nimage untag")
}

// TestNameFiltersAreRegexps: name filters of ps, network ls and volume ls
// are Docker's: regular expressions found anywhere in the name (a
// container's with or without its "/"); network ls's id filter too.
func TestNameFiltersAreRegexps(t *testing.T) {
	testutil.RequiresRoot(t)
	d := shared
	rmOnCleanup(t, "tn-rx-web1")
	okOn(t, d, "create", "--name", "tn-rx-web1", "busybox", "true")
	for _, p := range []string{"^tn-rx-web", "^/tn-rx-web1$", "rx-w.b"} {
		assert.Equal(t, okOn(t, d, "ps", "-a", "--filter", "name="+p, "--format", "{{.Names}}"), "tn-rx-web1", p)
	}
	assert.Equal(t, okOn(t, d, "ps", "-a", "--filter", "name=^rx", "--format", "{{.Names}}"), "")

	newNetwork(t, d, "tn-rx-net")
	assert.Equal(t, okOn(t, d, "network", "ls", "--filter", "name=^tn-rx-net$", "--format", "{{.Name}}"), "tn-rx-net")
	assert.Equal(t, okOn(t, d, "network", "ls", "--filter", "name=^rx", "--format", "{{.Name}}"), "")
	id := okOn(t, d, "network", "inspect", "-f", "{{.Id}}", "tn-rx-net")
	assert.Equal(t, okOn(t, d, "network", "ls", "--filter", "id="+id[3:9], "--format", "{{.Name}}"), "tn-rx-net")

	okOn(t, d, "volume", "create", "tn-rx-vol1")
	t.Cleanup(func() { dockerIn(t, d, nil, "volume", "rm", "tn-rx-vol1") })
	assert.Equal(t, okOn(t, d, "volume", "ls", "--filter", "name=^tn-rx-v.l", "--format", "{{.Name}}"), "tn-rx-vol1")
	assert.Equal(t, okOn(t, d, "volume", "ls", "--filter", "name=^rx", "--format", "{{.Name}}"), "")
}

// TestWorkingDirIsMade: a working directory the image lacks is made (root,
// 0755), for -w and for an image's WORKDIR, as Docker does; a file in its
// place is Docker's error.
func TestWorkingDirIsMade(t *testing.T) {
	testutil.RequiresRoot(t)
	assert.Equal(t, ok(t, "run", "--rm", "-w", "/a/b/c", "busybox", "sh", "-c", "pwd; stat -c '%U %a' ."), "/a/b/c\nroot 755")
	assert.Equal(t, ok(t, "run", "--rm", "-u", "nobody", "-w", "/newdir", "busybox", "pwd"), "/newdir")
	rmOnCleanup(t, "tn-wd")
	ok(t, "create", "--name", "tn-wd", "busybox", "true")
	ok(t, "commit", "-c", "WORKDIR /from/image", "tn-wd", "tn-wd:1")
	t.Cleanup(func() { docker(t, "rmi", "tn-wd:1") })
	assert.Equal(t, ok(t, "run", "--rm", "tn-wd:1", "pwd"), "/from/image")
	fails(t, 125, "Cannot mkdir: /etc/passwd is not a directory", "run", "--rm", "-w", "/etc/passwd", "busybox", "pwd")
}

// TestOOMKilled: a container whose process the kernel's OOM killer ended
// says so in State.OOMKilled; one that was not, does not.
func TestOOMKilled(t *testing.T) {
	testutil.RequiresRoot(t)
	rmOnCleanup(t, "tn-oom", "tn-nooom")
	r := docker(t, "run", "--name", "tn-oom", "-m", "6m", "--memory-swap", "6m", "busybox", "sh", "-c", `x=$(head -c 50000000 /dev/zero | tr "\0" a)`)
	assert.Equal(t, r.Code, 137, r.String())
	assert.Equal(t, ok(t, "inspect", "-f", "{{.State.OOMKilled}}", "tn-oom"), "true")
	ok(t, "run", "--name", "tn-nooom", "-m", "64m", "busybox", "true")
	assert.Equal(t, ok(t, "inspect", "-f", "{{.State.OOMKilled}}", "tn-nooom"), "false")
}

// TestLogDriverAndStopSignal: --log-driver none keeps no log (attached
// output still arrives; logs refuses, as Docker's), json-file is what
// inspect shows by default, and unknown drivers, options, sizes and stop
// signals are refused at create with Docker's messages.
func TestLogDriverAndStopSignal(t *testing.T) {
	testutil.RequiresRoot(t)
	rmOnCleanup(t, "tn-lognone", "tn-logjson")
	assert.Equal(t, ok(t, "run", "--rm", "--log-driver", "none", "busybox", "echo", "attached"), "attached")
	ok(t, "run", "--name", "tn-lognone", "--log-driver", "none", "busybox", "echo", "hi")
	fails(t, 1, "configured logging driver does not support reading", "logs", "tn-lognone")
	assert.Equal(t, ok(t, "inspect", "-f", "{{.LogPath}}|{{.HostConfig.LogConfig.Type}}", "tn-lognone"), "|none")
	ok(t, "create", "--name", "tn-logjson", "busybox", "true")
	assert.Equal(t, ok(t, "inspect", "-f", "{{.HostConfig.LogConfig.Type}}", "tn-logjson"), "json-file")

	fails(t, 125, "logger: no log driver named 'foo' is registered", "run", "--rm", "--log-driver", "foo", "busybox", "true")
	fails(t, 125, "unknown log opt 'foo' for json-file log driver", "run", "--rm", "--log-opt", "foo=bar", "busybox", "true")
	fails(t, 125, "invalid size: 'foo'", "run", "--rm", "--log-opt", "max-size=foo", "busybox", "true")
	fails(t, 125, "Invalid signal: FOO", "run", "--rm", "--stop-signal", "FOO", "busybox", "true")
}
