package runtime_test

import (
	"bytes"
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

// TestExec runs processes in a running container with the options of
// `exec`, through both of init's ways to run them: the C stage
// (nsenter/execstage.c, the default where it can) and the Go init
// (BERTH_EXEC_STAGE=go). Both must give the same output, status and errors.
func TestExec(t *testing.T) {
	r := newRT(t)
	id := r.started(sh(t, `sleep 1000`, func(s *specs.Spec) {
		s.Hostname = "exec-host"
		s.Process.Env = append(s.Process.Env, "FROM_SPEC=spec")
	}))

	processFile := func(p specs.Process) string {
		t.Helper()
		f := filepath.Join(t.TempDir(), "process.json")
		data, err := json.Marshal(p)
		assert.NilError(t, err)
		assert.NilError(t, os.WriteFile(f, data, 0o644))
		return f
	}
	umask := uint32(0o027)
	many := []string{id, "sh", "-c", `echo $#`, "sh"}
	for i := 0; i < 5000; i++ {
		many = append(many, strconv.Itoa(i))
	}
	caps := []string{"CAP_NET_RAW", "CAP_CHOWN"}
	tests := []struct {
		name     string
		args     []string
		wantOut  string
		wantErr  string // in stderr
		wantCode int
	}{
		{name: "exit code", args: []string{id, "sh", "-c", "echo out; echo err >&2; exit 3"}, wantOut: "out\n", wantErr: "err", wantCode: 3},
		{name: "env", args: []string{"-e", "FOO=bar", "-e", "FROM_SPEC=override", id, "sh", "-c", `echo "$FOO $FROM_SPEC"`}, wantOut: "bar override\n"},
		{name: "spec env", args: []string{id, "sh", "-c", `echo "$FROM_SPEC"`}, wantOut: "spec\n"},
		{name: "cwd", args: []string{"--cwd", "/tmp", id, "pwd"}, wantOut: "/tmp\n"},
		// a session and process group of its own (pid = pgrp = session)
		{name: "own session", args: []string{id, "sh", "-c", `read -r pid c s pp pg sid x < /proc/self/stat; [ "$pid" = "$pg" ] && [ "$pid" = "$sid" ] && echo own`}, wantOut: "own\n"},
		{name: "user", args: []string{"-u", "1000:1000", id, "sh", "-c", "id -u; id -g; echo $HOME"}, wantOut: "1000\n1000\n/home/user\n"},
		{name: "user not in passwd", args: []string{"-u", "4242:4242", id, "sh", "-c", "id -u; echo $HOME"}, wantOut: "4242\n/\n"},
		{name: "additional gids", args: []string{"-u", "1000:1000", "-g", "5", id, "grep", "Groups", "/proc/self/status"}, wantOut: "Groups:\t5 \n"},
		{name: "process file", args: []string{"--process", processFile(specs.Process{
			Args: []string{"sh", "-c", `echo "$FROM_FILE"; pwd; id -u; id -g; exit 4`},
			Env:  []string{"PATH=/bin", "FROM_FILE=file"},
			Cwd:  "/home/user",
			User: specs.User{UID: 1000, GID: 1000},
		}), id}, wantOut: "file\n/home/user\n1000\n1000\n", wantCode: 4},
		{name: "limits, umask and ambient capabilities", args: []string{"--process", processFile(specs.Process{
			Args:    []string{"sh", "-c", `ulimit -n; umask; grep -E '^Cap(Eff|Amb)' /proc/self/status`},
			Env:     []string{"PATH=/bin"},
			Cwd:     "/",
			User:    specs.User{UID: 1000, GID: 1000, Umask: &umask},
			Rlimits: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 200}},
			Capabilities: &specs.LinuxCapabilities{
				Bounding: caps, Effective: caps, Permitted: caps, Inheritable: caps, Ambient: caps,
			},
		}), id}, wantOut: "100\n0027\nCapEff:\t0000000000002001\nCapAmb:\t0000000000002001\n"},
		{name: "same namespaces", args: []string{id, "sh", "-c", "hostname; ps -o pid,comm | grep -w 1"}, wantOut: "exec-host\n    1 sleep\n"},
		{name: "stdin", args: []string{id, "cat"}, wantOut: ""},
		{name: "many arguments", args: many, wantOut: "5000\n"},
		{name: "not found", args: []string{id, "no-such-program"}, wantCode: 1,
			wantErr: `exec: "no-such-program": executable file not found in $PATH`},
		{name: "not executable", args: []string{id, "/etc/passwd"}, wantCode: 1,
			wantErr: `exec: "/etc/passwd": permission denied`},
		{name: "no such path", args: []string{id, "/no/such"}, wantCode: 1,
			wantErr: `exec: "/no/such": stat /no/such: no such file or directory`},
		{name: "no such cwd", args: []string{"--cwd", "/no/such", id, "true"}, wantCode: 1,
			wantErr: `chdir to cwd ("/no/such") set in config.json: no such file or directory`},
		{name: "empty PATH", args: []string{"--process", processFile(specs.Process{
			Args: []string{"true"}, Env: []string{"PATH="}, Cwd: "/",
		}), id}, wantCode: 1, wantErr: `exec: "true": executable file not found in $PATH`},
		{name: "NUL in an argument", args: []string{"--process", processFile(specs.Process{
			Args: []string{"echo", "a\x00b"}, Env: []string{"PATH=/bin"}, Cwd: "/",
		}), id}, wantCode: 1, wantErr: `exec echo: invalid argument`},
		{name: "rlimit above the hard limit", args: []string{"--process", processFile(specs.Process{
			Args:    []string{"true"},
			Cwd:     "/",
			Rlimits: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1 << 40, Hard: 1 << 40}},
		}), id}, wantCode: 1, wantErr: "set RLIMIT_NOFILE to 1099511627776:1099511627776: operation not permitted (the host's hard limit is"},
	}
	for _, stage := range []string{"plan", "go"} {
		t.Run(stage, func(t *testing.T) {
			r.env = []string{"BERTH_EXEC_STAGE=" + stage}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					res := r.cmd("", append([]string{"exec"}, tc.args...)...)
					assert.Check(t, is.Equal(res.code, tc.wantCode), res)
					assert.Check(t, is.Equal(res.stdout, tc.wantOut), res)
					if tc.wantErr != "" {
						assert.Check(t, is.Contains(res.stderr, tc.wantErr))
					} else {
						assert.Check(t, is.Equal(res.stderr, ""))
					}
				})
			}
			t.Run("stdin piped", func(t *testing.T) {
				res := r.cmd("piped\n", "exec", id, "cat")
				assert.Check(t, is.Equal(res.code, 0), res)
				assert.Check(t, is.Equal(res.stdout, "piped\n"))
			})
		})
	}
	r.env = nil
	// The container's own process is still there.
	assert.Check(t, is.Contains(r.ok("state", id), `"status": "running"`))
}

// TestExecDetach starts a process with --detach and --pid-file: the pid
// file names a live host process that is in the container's namespaces
// and cgroup.
func TestExecDetach(t *testing.T) {
	r := newRT(t)
	b := sh(t, `sleep 1000`)
	id := r.started(b)
	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	r.ok("exec", "--detach", "--pid-file", pidFile, id, "sleep", "999")

	data, err := os.ReadFile(pidFile)
	assert.NilError(t, err)
	pid, err := strconv.Atoi(string(data))
	assert.NilError(t, err, "pid file: %q", data)
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	assert.NilError(t, err)
	assert.Check(t, is.Equal(string(cmdline), "sleep\x00999\x00"))

	initPid := statePid(t, r, id)
	for _, ns := range []string{"pid", "mnt", "net", "ipc", "uts", "cgroup"} {
		assert.Check(t, is.Equal(nsInode(t, pid, ns), nsInode(t, initPid, ns)), "%s namespace", ns)
	}
	procs, err := os.ReadFile(filepath.Join(cgroupDir(t, b, "pids"), "cgroup.procs"))
	assert.NilError(t, err)
	assert.Check(t, is.Contains(strings.Fields(string(procs)), strconv.Itoa(pid)))

	res := r.exec(id, "ps", "-o", "comm,args")
	assert.Check(t, is.Contains(res.stdout, "sleep 999"))

	// The process was re-parented to this test process (a subreaper):
	// reap it, or the container's init cannot finish exiting.
	assert.NilError(t, unix.Kill(pid, unix.SIGKILL))
	_, err = unix.Wait4(pid, nil, 0, nil)
	assert.NilError(t, err)
}

func statePid(t *testing.T, r *rt, id string) int {
	t.Helper()
	var st struct {
		Pid int `json:"pid"`
	}
	assert.NilError(t, json.Unmarshal([]byte(r.ok("state", id)), &st))
	return st.Pid
}

func nsInode(t *testing.T, pid int, ns string) uint64 {
	t.Helper()
	var st unix.Stat_t
	assert.NilError(t, unix.Stat(fmt.Sprintf("/proc/%d/ns/%s", pid, ns), &st))
	return st.Ino
}

// TestExecTerminal gives an exec'd process a pty through --console-socket.
func TestExecTerminal(t *testing.T) {
	r := newRT(t)
	id := r.started(sh(t, `sleep 1000`))
	for _, stage := range []string{"plan", "go"} {
		r.env = []string{"BERTH_EXEC_STAGE=" + stage}
		sock, output := consoleSocket(t)
		res := r.cmd("", "exec", "--tty", "--console-socket", sock, id, "sh", "-c",
			`tty; [ -t 0 ] && [ -t 1 ] && echo stdio-is-tty; [ "$(cut -d' ' -f6 /proc/$$/stat)" = $$ ] && echo session-leader`)
		assert.Equal(t, res.code, 0, "%s: %v", stage, res)
		out := output()
		lines := strings.Split(out, "\n")
		assert.Assert(t, len(lines) == 4, "%s: output %q", stage, out)
		assert.Check(t, is.Regexp(`^/dev/pts/\d+$`, lines[0]))
		assert.Check(t, is.Equal(lines[1], "stdio-is-tty"))
		assert.Check(t, is.Equal(lines[2], "session-leader"))
	}
}

// TestExecUserNamespace execs into a container with a user namespace.
func TestExecUserNamespace(t *testing.T) {
	r := newRT(t)
	id := r.started(userNSBundle(t, `sleep 1000`))
	for _, stage := range []string{"plan", "go"} {
		r.env = []string{"BERTH_EXEC_STAGE=" + stage}
		res := r.exec(id, "sh", "-c", "cat /proc/self/uid_map; id -u; ps -o pid,comm | grep -w 1")
		assert.Equal(t, res.code, 0, "%s: %v", stage, res)
		assert.Check(t, is.DeepEqual(strings.Fields(res.stdout), []string{"0", "100000", "65536", "0", "1", "sleep"}))

		res = r.cmd("", "exec", "-u", "1000:1000", id, "id", "-u")
		assert.Equal(t, res.code, 0, "%s: %v", stage, res)
		assert.Check(t, is.Equal(res.stdout, "1000\n"))
	}
}

// TestExecSecurity checks an exec'd process like the container's own: it
// gets the spec's capabilities, seccomp filter and no_new_privs, and no
// stray file descriptors.
func TestExecSecurity(t *testing.T) {
	r := newRT(t)
	id := r.started(sh(t, `sleep 1000`, func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno}},
		}
		withMounts(specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"})(s)
	}))
	for _, stage := range []string{"plan", "go"} {
		r.env = []string{"BERTH_EXEC_STAGE=" + stage}
		res := r.exec(id, "sh", "-c", `exec 2>&1; ls /proc/self/fd | tr '\n' ' '; echo; readlink /proc/self/cwd
grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status; mkdir /tmp/x`)
		assert.Check(t, is.Equal(res.stdout, "0 1 2 3 \n/\nCapEff:\t0000000020000420\nCapBnd:\t0000000020000420\nNoNewPrivs:\t1\nSeccomp:\t2\n"+
			"mkdir: can't create directory '/tmp/x': Operation not permitted\n"), "%s: %v", stage, res)
	}
}

// waitFor polls cond for up to ten seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestExecHome: without HOME in the environment, an exec gets the home of
// the first /etc/passwd entry for its uid (lines trimmed), "/" when that
// entry has none or the file cannot be read as moby/sys/user reads it
// (a line over 64 KiB), through both stages.
func TestExecHome(t *testing.T) {
	r := newRT(t)
	dir := t.TempDir()
	traversable(t, dir)
	passwd := filepath.Join(dir, "passwd")
	assert.NilError(t, os.WriteFile(passwd, []byte("root:x:0:0:root:/root:/bin/sh\n"+
		"  first:x:4300:4300::/home/first:/bin/sh  \nsecond:x:4300:4300::/home/second:/bin/sh\n"+
		"nohome:x:4301:4301:::/bin/sh\n"), 0o644))
	id := r.started(sh(t, `sleep 1000`, withMounts(specs.Mount{Destination: "/etc/passwd", Type: "bind", Source: passwd, Options: []string{"bind", "ro"}})))
	home := func(uid string) string {
		t.Helper()
		res := r.cmd("", "exec", "-u", uid, id, "sh", "-c", `echo $HOME`)
		assert.Equal(t, res.code, 0, res)
		return strings.TrimSpace(res.stdout)
	}
	for _, stage := range []string{"plan", "go"} {
		r.env = []string{"BERTH_EXEC_STAGE=" + stage}
		assert.Check(t, is.Equal(home("4300"), "/home/first"), stage)
		assert.Check(t, is.Equal(home("4301"), "/"), stage)
	}
	// a line over 64 KiB: the file cannot be read, HOME is "/"
	f, err := os.OpenFile(passwd, os.O_APPEND|os.O_WRONLY, 0)
	assert.NilError(t, err)
	_, err = f.Write(bytes.Repeat([]byte("x"), 70000))
	assert.NilError(t, err)
	assert.NilError(t, f.Close())
	for _, stage := range []string{"plan", "go"} {
		r.env = []string{"BERTH_EXEC_STAGE=" + stage}
		assert.Check(t, is.Equal(home("4300"), "/"), stage)
	}
	r.env = nil
}
