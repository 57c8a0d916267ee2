package runtime_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// statusFields picks lines of /proc/self/status out of out, by name.
func statusFields(out string, names ...string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		for _, n := range names {
			if k == n {
				m[k] = strings.TrimSpace(v)
			}
		}
	}
	return m
}

// TestProcess checks the process section of the spec from inside.
func TestProcess(t *testing.T) {
	tests := []struct {
		name   string
		script string
		mutate func(*specs.Spec)
		check  func(t *testing.T, res result)
	}{
		{
			name:   "args env cwd",
			script: `echo "$0|$1|$2"; echo "$GREETING"; pwd`,
			mutate: func(s *specs.Spec) {
				s.Process.Args = append(s.Process.Args, "zero", "one", "two words")
				s.Process.Env = append(s.Process.Env, "GREETING=hello world")
				s.Process.Cwd = "/home/user"
			},
			check: func(t *testing.T, res result) {
				assert.Check(t, is.Equal(res.stdout, "zero|one|two words\nhello world\n/home/user\n"))
			},
		},
		{
			name:   "user and groups",
			script: `cat /proc/self/status; id -un; echo "HOME=$HOME"`,
			mutate: func(s *specs.Spec) {
				s.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{5, 65534}}
			},
			check: func(t *testing.T, res result) {
				f := statusFields(res.stdout, "Uid", "Gid", "Groups")
				assert.Check(t, is.DeepEqual(f, map[string]string{
					"Uid": "1000\t1000\t1000\t1000", "Gid": "1000\t1000\t1000\t1000", "Groups": "5 65534",
				}))
				assert.Check(t, strings.HasSuffix(res.stdout, "\nuser\nHOME=/home/user\n"), res.stdout)
			},
		},
		{
			name:   "umask",
			script: `umask; touch /tmp/f; stat -c %a /tmp/f`,
			mutate: func(s *specs.Spec) {
				s.Process.User.Umask = ptr(uint32(0o027))
				s.Root.Readonly = false
			},
			check: func(t *testing.T, res result) {
				assert.Check(t, is.Equal(res.stdout, "0027\n640\n"))
			},
		},
		{
			name:   "no_new_privs",
			script: `grep NoNewPrivs /proc/self/status`,
			mutate: func(s *specs.Spec) { s.Process.NoNewPrivileges = true },
			check: func(t *testing.T, res result) {
				assert.Check(t, is.Equal(res.stdout, "NoNewPrivs:\t1\n"))
			},
		},
		{
			name:   "new privileges allowed",
			script: `grep NoNewPrivs /proc/self/status`,
			mutate: func(s *specs.Spec) { s.Process.NoNewPrivileges = false },
			check: func(t *testing.T, res result) {
				assert.Check(t, is.Equal(res.stdout, "NoNewPrivs:\t0\n"))
			},
		},
		{
			name:   "rlimits",
			script: `ulimit -n; ulimit -Hn; grep 'open files' /proc/self/limits; grep 'core file' /proc/self/limits`,
			mutate: func(s *specs.Spec) {
				s.Process.Rlimits = []specs.POSIXRlimit{
					{Type: "RLIMIT_NOFILE", Soft: 512, Hard: 1024},
					{Type: "RLIMIT_CORE", Soft: 0, Hard: 4096},
				}
			},
			check: func(t *testing.T, res result) {
				lines := strings.Split(res.stdout, "\n")
				assert.Assert(t, len(lines) >= 4, res)
				assert.Check(t, is.Equal(lines[0], "512"))
				assert.Check(t, is.Equal(lines[1], "1024"))
				assert.Check(t, is.DeepEqual(strings.Fields(lines[2]), []string{"Max", "open", "files", "512", "1024", "files"}))
				assert.Check(t, is.DeepEqual(strings.Fields(lines[3]), []string{"Max", "core", "file", "size", "0", "4096", "bytes"}))
			},
		},
		{
			name:   "oom_score_adj",
			script: `cat /proc/self/oom_score_adj`,
			mutate: func(s *specs.Spec) { s.Process.OOMScoreAdj = ptr(500) },
			check: func(t *testing.T, res result) {
				assert.Check(t, is.Equal(res.stdout, "500\n"))
			},
		},
		{
			name:   "sysctl",
			script: `cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shm_rmid_forced /proc/sys/kernel/msgmax`,
			mutate: func(s *specs.Spec) {
				s.Linux.Sysctl = map[string]string{
					"net.ipv4.ip_forward":    "1",
					"kernel.shm_rmid_forced": "1",
					"kernel.msgmax":          "4096",
				}
			},
			check: func(t *testing.T, res result) {
				assert.Check(t, is.Equal(res.stdout, "1\n1\n4096\n"))
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRT(t)
			res := r.run(sh(t, tc.script, tc.mutate))
			assert.Equal(t, res.code, 0, res)
			tc.check(t, res)
		})
	}
	// The sysctls were set in the container's namespaces only.
	for path, host := range map[string]string{"/proc/sys/kernel/shm_rmid_forced": "0\n"} {
		data, err := os.ReadFile(path)
		assert.NilError(t, err)
		assert.Check(t, is.Equal(string(data), host), path)
	}
}

func ptr[T any](v T) *T { return &v }

// TestCapabilities sets the five capability sets and reads them back from
// /proc/self/status. For a process running as root, execve(2) makes the
// permitted and effective sets the union of the bounding, inheritable and
// ambient sets; for another user, the permitted and effective sets are the
// ambient set (see capabilities(7), "Transformation of capabilities during
// execve()").
func TestCapabilities(t *testing.T) {
	const (
		chown  = 1 << 0  // CAP_CHOWN
		kill   = 1 << 5  // CAP_KILL
		netRaw = 1 << 13 // CAP_NET_RAW
	)
	caps := func(names ...string) []string { return names }
	tests := []struct {
		name string
		uid  uint32
		caps *specs.LinuxCapabilities
		want [5]uint64 // CapInh, CapPrm, CapEff, CapBnd, CapAmb
	}{
		{
			name: "all sets",
			caps: &specs.LinuxCapabilities{
				Bounding:    caps("CAP_NET_RAW", "CAP_CHOWN"),
				Effective:   caps("CAP_NET_RAW", "CAP_CHOWN"),
				Permitted:   caps("CAP_NET_RAW", "CAP_CHOWN"),
				Inheritable: caps("CAP_NET_RAW", "CAP_CHOWN"),
				Ambient:     caps("CAP_NET_RAW", "CAP_CHOWN"),
			},
			want: [5]uint64{chown | netRaw, chown | netRaw, chown | netRaw, chown | netRaw, chown | netRaw},
		},
		{
			name: "non-root with ambient",
			uid:  1000,
			caps: &specs.LinuxCapabilities{
				Bounding:    caps("CAP_NET_RAW", "CAP_CHOWN", "CAP_KILL"),
				Effective:   caps("CAP_NET_RAW", "CAP_CHOWN"),
				Permitted:   caps("CAP_NET_RAW", "CAP_CHOWN"),
				Inheritable: caps("CAP_NET_RAW", "CAP_CHOWN"),
				Ambient:     caps("CAP_NET_RAW"),
			},
			want: [5]uint64{chown | netRaw, netRaw, netRaw, chown | kill | netRaw, netRaw},
		},
		{
			// what `runc spec` writes: ambient without inheritable, which
			// the kernel refuses to raise; runc goes on without them
			name: "ambient not inheritable",
			caps: &specs.LinuxCapabilities{
				Bounding:  caps("CAP_NET_RAW", "CAP_KILL"),
				Effective: caps("CAP_NET_RAW", "CAP_KILL"),
				Permitted: caps("CAP_NET_RAW", "CAP_KILL"),
				Ambient:   caps("CAP_NET_RAW", "CAP_KILL"),
			},
			want: [5]uint64{0, kill | netRaw, kill | netRaw, kill | netRaw, 0},
		},
		{
			name: "non-root without ambient",
			uid:  1000,
			caps: &specs.LinuxCapabilities{
				Bounding:  caps("CAP_NET_RAW", "CAP_CHOWN"),
				Effective: caps("CAP_NET_RAW", "CAP_CHOWN"),
				Permitted: caps("CAP_NET_RAW", "CAP_CHOWN"),
			},
			want: [5]uint64{0, 0, 0, chown | netRaw, 0},
		},
		{
			name: "empty",
			caps: &specs.LinuxCapabilities{},
			want: [5]uint64{0, 0, 0, 0, 0},
		},
		{
			name: "none",
			want: [5]uint64{0, 0, 0, 0, 0},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRT(t)
			res := r.run(sh(t, `cat /proc/self/status`, func(s *specs.Spec) {
				s.Process.Capabilities = tc.caps
				s.Process.User.UID, s.Process.User.GID = tc.uid, tc.uid
			}))
			assert.Equal(t, res.code, 0, res)
			got := statusFields(res.stdout, "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")
			want := map[string]string{}
			for i, n := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"} {
				want[n] = fmt.Sprintf("%016x", tc.want[i])
			}
			assert.Check(t, is.DeepEqual(got, want))
		})
	}
}

// TestCapabilityIsEffective checks that a granted capability works and a
// dropped one does not: chown needs CAP_CHOWN.
func TestCapabilityIsEffective(t *testing.T) {
	tests := []struct {
		name string
		caps []string
		want string
	}{
		{name: "granted", caps: []string{"CAP_CHOWN"}, want: "1000\n"},
		{name: "dropped", caps: []string{"CAP_KILL"}, want: "0\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRT(t)
			res := r.run(sh(t, `touch /tmp/f; chown 1000 /tmp/f 2>/dev/null; stat -c %u /tmp/f`, func(s *specs.Spec) {
				s.Root.Readonly = false
				s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: tc.caps, Effective: tc.caps, Permitted: tc.caps}
			}))
			assert.Equal(t, res.code, 0, res)
			assert.Check(t, is.Equal(res.stdout, tc.want))
		})
	}
}

// TestProcessRefused checks settings that the host does not allow: the
// runtime must fail with a clear error, run nothing and leave nothing.
// The runtime runs without CAP_SYS_RESOURCE here, so it can neither raise
// a hard limit above its own nor lower oom_score_adj.
func TestProcessRefused(t *testing.T) {
	var host unix.Rlimit
	assert.NilError(t, unix.Getrlimit(unix.RLIMIT_NOFILE, &host))
	tests := []struct {
		name   string
		mutate func(*specs.Spec)
		want   string
	}{
		{
			name: "nofile above the host's hard limit",
			mutate: func(s *specs.Spec) {
				s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: host.Max + 1000}}
			},
			want: "RLIMIT_NOFILE",
		},
		{
			name:   "negative oom_score_adj",
			mutate: func(s *specs.Spec) { s.Process.OOMScoreAdj = ptr(-500) },
			want:   "oom_score_adj",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "negative oom_score_adj" && canLowerOOMScoreAdj() {
				t.Fatal("this host lets the runtime lower oom_score_adj; the test expects it not to")
			}
			r := newRT(t)
			mounts := hostMounts(t)
			b := sh(t, `echo the program ran`, tc.mutate)
			id := containerID(t)
			res := r.cmd("", "run", "--bundle", b, id)
			assertOneLineError(t, res, tc.want)
			assert.Check(t, is.Equal(res.stdout, ""))
			r.assertNoLeftovers(id, readSpec(t, b).Linux.CgroupsPath, mounts)
		})
	}
}

// canLowerOOMScoreAdj tells whether this process may set a negative
// oom_score_adj (it needs CAP_SYS_RESOURCE), by trying on a child.
func canLowerOOMScoreAdj() bool {
	f, err := os.OpenFile("/proc/self/oom_score_adj", os.O_RDWR, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	old, _ := io.ReadAll(f)
	if _, err := f.WriteAt([]byte("-1"), 0); err != nil {
		return false
	}
	f.WriteAt(bytes.TrimSpace(old), 0)
	return true
}

// consoleSocket listens on a unix socket for one pty master (the
// --console-socket protocol) and copies everything read from it. output
// waits until the pty is hung up (every slave closed) and returns it, with
// the terminal's CRLF turned back into LF.
func consoleSocket(t *testing.T) (path string, output func() string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	assert.NilError(t, err)
	t.Cleanup(func() { l.Close() })
	done := make(chan struct{})
	var out bytes.Buffer
	var recvErr error
	go func() {
		defer close(done)
		c, err := l.AcceptUnix()
		if err != nil {
			recvErr = err
			return
		}
		defer c.Close()
		oob := make([]byte, unix.CmsgSpace(4))
		_, oobn, _, _, err := c.ReadMsgUnix(make([]byte, 4096), oob)
		if err != nil {
			recvErr = err
			return
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) != 1 {
			recvErr = fmt.Errorf("no SCM_RIGHTS message: %v", err)
			return
		}
		fds, err := unix.ParseUnixRights(&msgs[0])
		if err != nil || len(fds) != 1 {
			recvErr = fmt.Errorf("no fd in SCM_RIGHTS: %v", err)
			return
		}
		master := os.NewFile(uintptr(fds[0]), "pty-master")
		defer master.Close()
		_, err = io.Copy(&out, master)
		// EIO is how a pty master reports that the slave side is closed.
		if err != nil && !errors.Is(err, unix.EIO) {
			recvErr = err
		}
	}()
	return path, func() string {
		t.Helper()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("the pty was never hung up")
		}
		assert.NilError(t, recvErr)
		return strings.ReplaceAll(out.String(), "\r\n", "\n")
	}
}

// TestTerminal gives the container a pty through --console-socket.
func TestTerminal(t *testing.T) {
	r := newRT(t)
	sock, output := consoleSocket(t)
	b := sh(t, `tty; [ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo stdio-is-tty; stty size; ls -l /dev/console | cut -c1`, func(s *specs.Spec) {
		s.Process.Terminal = true
		s.Process.ConsoleSize = &specs.Box{Height: 30, Width: 100}
	})
	res := r.cmd("", "run", "--console-socket", sock, "--bundle", b, containerID(t))
	assert.Equal(t, res.code, 0, res)
	assert.Check(t, is.Equal(output(), "/dev/pts/0\nstdio-is-tty\n30 100\nc\n"))
}

// TestSysctlOutsideNamespace asks for sysctls that the container's
// namespaces do not isolate: writing them would change the host. The
// runtime must refuse them, as runc does ("sysctl ... is not in a separate
// kernel namespace"). Each sysctl is set to the host's current value, so
// that a runtime that wrongly writes it changes nothing.
func TestSysctlOutsideNamespace(t *testing.T) {
	tests := []struct {
		name   string
		key    string
		mutate func(*specs.Spec)
	}{
		{name: "not namespaced", key: "vm.overcommit_ratio"},
		{name: "ipc without ipc namespace", key: "kernel.msgmax", mutate: withoutNamespace(specs.IPCNamespace)},
		{name: "net without network namespace", key: "net.ipv4.ip_forward", mutate: withoutNamespace(specs.NetworkNamespace)},
		{name: "net in the host's network namespace by path", key: "net.ipv4.ip_forward", mutate: withNamespace(specs.NetworkNamespace, "/proc/self/ns/net")},
		{name: "ipc in the host's IPC namespace by path", key: "kernel.msgmax", mutate: withNamespace(specs.IPCNamespace, "/proc/self/ns/ipc")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRT(t)
			path := filepath.Join("/proc/sys", strings.ReplaceAll(tc.key, ".", "/"))
			data, err := os.ReadFile(path)
			assert.NilError(t, err)
			host := strings.TrimSpace(string(data))
			mounts := hostMounts(t)
			b := sh(t, `echo the program ran`, func(s *specs.Spec) {
				s.Linux.Sysctl = map[string]string{tc.key: host}
				if tc.mutate != nil {
					tc.mutate(s)
				}
			})
			id := containerID(t)
			res := r.cmd("", "create", "--bundle", b, id)
			assertOneLineError(t, res, tc.key)
			r.assertNoLeftovers(id, readSpec(t, b).Linux.CgroupsPath, mounts)
			data, err = os.ReadFile(path)
			assert.NilError(t, err)
			assert.Check(t, is.Equal(strings.TrimSpace(string(data)), host))
		})
	}
}

// withoutNamespace removes a namespace from the spec: the container shares
// the host's.
func withoutNamespace(typ specs.LinuxNamespaceType) func(*specs.Spec) {
	return func(s *specs.Spec) {
		var keep []specs.LinuxNamespace
		for _, ns := range s.Linux.Namespaces {
			if ns.Type != typ {
				keep = append(keep, ns)
			}
		}
		s.Linux.Namespaces = keep
	}
}
