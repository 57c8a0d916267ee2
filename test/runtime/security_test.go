package runtime_test

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// allowList is what busybox's shell, echo, cat and grep need, plus what
// the runtime itself calls between loading the filter and execve(2). mkdir
// and mkdirat are left out.
var allowList = []string{
	"access", "arch_prctl", "brk", "capget", "capset", "chdir", "clock_gettime", "clock_nanosleep",
	"clone", "clone3", "close", "close_range", "dup", "dup2", "dup3", "epoll_ctl", "epoll_pwait",
	"execve", "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fchdir", "fcntl",
	"fstat", "fstatfs", "futex", "getcwd", "getdents64", "getegid", "geteuid", "getgid", "getgroups",
	"getpgrp", "getpid", "getppid", "getrandom", "getrlimit", "gettid", "getuid", "ioctl", "lseek",
	"lstat", "madvise", "mmap", "mprotect", "munmap", "nanosleep", "newfstatat", "open", "openat",
	"pipe", "pipe2", "poll", "prctl", "pread64", "prlimit64", "read", "readlink", "readlinkat",
	"rseq", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sched_getaffinity", "sched_yield",
	"set_robust_list", "set_tid_address", "setgid", "setgroups", "setpgid", "setresgid", "setresuid",
	"setuid", "sigaltstack", "stat", "statfs", "statx", "tgkill", "uname", "vfork", "wait4", "write",
	"writev",
}

// TestSeccomp loads profiles and checks their effect from inside.
func TestSeccomp(t *testing.T) {
	tests := []struct {
		name   string
		script string
		user   uint32
		sc     *specs.LinuxSeccomp
		want   string
	}{
		{
			name:   "deny list",
			script: `grep Seccomp: /proc/self/status; mkdir /tmp/x; echo "mkdir $?"; touch /tmp/y && echo touched`,
			sc: &specs.LinuxSeccomp{
				DefaultAction: specs.ActAllow,
				Architectures: []specs.Arch{specs.ArchX86_64},
				Syscalls: []specs.LinuxSyscall{
					{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: ptr(uint(1))},
				},
			},
			want: "Seccomp:\t2\nmkdir: can't create directory '/tmp/x': Operation not permitted\nmkdir 1\ntouched\n",
		},
		{
			// Without no_new_privs the filter is loaded while the runtime
			// still has CAP_SYS_ADMIN, before it switches to the user.
			name:   "non-root without no_new_privs",
			script: `id -u; grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; mkdir /tmp/x`,
			user:   1000,
			sc: &specs.LinuxSeccomp{
				DefaultAction: specs.ActAllow,
				Syscalls: []specs.LinuxSyscall{
					{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno},
				},
			},
			want: "1000\nNoNewPrivs:\t0\nSeccomp:\t2\nmkdir: can't create directory '/tmp/x': Operation not permitted\n",
		},
		{
			name:   "errno value",
			script: `mkdir /tmp/x`,
			sc: &specs.LinuxSeccomp{
				DefaultAction: specs.ActAllow,
				Syscalls: []specs.LinuxSyscall{
					{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: ptr(uint(28))},
				},
			},
			want: "mkdir: can't create directory '/tmp/x': No space left on device\n",
		},
		{
			name:   "allow list",
			script: `grep Seccomp: /proc/self/status; echo hello; mkdir /tmp/x`,
			sc: &specs.LinuxSeccomp{
				DefaultAction: specs.ActErrno,
				Architectures: []specs.Arch{specs.ArchX86_64},
				Syscalls:      []specs.LinuxSyscall{{Names: allowList, Action: specs.ActAllow}},
			},
			want: "Seccomp:\t2\nhello\nmkdir: can't create directory '/tmp/x': Operation not permitted\n",
		},
		{
			name:   "argument condition",
			script: `touch /tmp/f; chmod 755 /tmp/f && echo 755 allowed; chmod 777 /tmp/f; stat -c %a /tmp/f`,
			sc: &specs.LinuxSeccomp{
				DefaultAction: specs.ActAllow,
				Syscalls: []specs.LinuxSyscall{
					{Names: []string{"chmod"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 1, Value: 0o777, Op: specs.OpEqualTo}}},
					{Names: []string{"fchmodat", "fchmodat2"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 2, Value: 0o777, Op: specs.OpEqualTo}}},
				},
			},
			want: "755 allowed\nchmod: /tmp/f: Operation not permitted\n755\n",
		},
		{
			name:   "kill",
			script: `mkdir /tmp/x; echo "mkdir $?"`,
			sc: &specs.LinuxSeccomp{
				DefaultAction: specs.ActAllow,
				Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActKillProcess}},
			},
			want: "Bad system call\nmkdir 159\n", // 128 + SIGSYS
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRT(t)
			res := r.run(sh(t, "exec 2>&1; "+tc.script, func(s *specs.Spec) {
				s.Linux.Seccomp = tc.sc
				if tc.user != 0 {
					s.Process.User.UID, s.Process.User.GID = tc.user, tc.user
					s.Process.NoNewPrivileges = false
				}
				withMounts(specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs"})(s)
			}))
			assert.Check(t, is.Equal(res.stdout, tc.want), res)
		})
	}
}

// TestFileDescriptors checks that nothing the runtime opened reaches the
// container's process.
func TestFileDescriptors(t *testing.T) {
	r := newRT(t)
	res := r.run(sh(t, `ls /proc/self/fd | tr '\n' ' '; echo; readlink /proc/1/cwd; readlink /proc/self/cwd`))
	assert.Equal(t, res.code, 0, res)
	// ls has its own directory open as fd 3.
	assert.Check(t, is.Equal(res.stdout, "0 1 2 3 \n/\n/\n"))
}

func sha256File(t *testing.T, path string) [32]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	assert.NilError(t, err)
	return sha256.Sum256(data)
}

// TestCannotWriteExe tries to write to the executables of the container's
// processes through /proc. The berth binary on the host must be unchanged.
func TestCannotWriteExe(t *testing.T) {
	r := newRT(t)
	before := sha256File(t, berthBin)
	res := r.run(sh(t, `
for p in /proc/self/exe /proc/1/exe; do
	echo pwned >> $p && echo "wrote $p"
	exec 3<$p && echo pwned >> /proc/self/fd/3 && echo "wrote $p through fd"
done
true`))
	assert.Check(t, is.Equal(res.stdout, ""), res)
	assert.Check(t, is.Equal(sha256File(t, berthBin), before), "the berth binary changed")
}

// berthInContainer prepares a bundle in which berth itself can run (it is
// dynamically linked, so the host's C library is bind-mounted in) as
// `/proc/self/exe runtime --log /tmp/fifo state x`, which blocks opening
// the FIFO /tmp/fifo for writing until something reads it. The container's
// process is script.
func berthInContainer(t *testing.T, script string) string {
	t.Helper()
	ro := []string{"rbind", "ro"}
	b := sh(t, script, func(s *specs.Spec) {
		s.Root.Readonly = false
	}, withMounts(
		specs.Mount{Destination: "/lib64", Type: "bind", Source: "/lib64", Options: ro},
		specs.Mount{Destination: "/lib/x86_64-linux-gnu", Type: "bind", Source: "/lib/x86_64-linux-gnu", Options: ro},
	))
	assert.NilError(t, unix.Mkfifo(filepath.Join(b, "rootfs/tmp/fifo"), 0o600))
	return b
}

var berthArgs = []string{"/proc/self/exe", "runtime", "--log", "/tmp/fifo", "state", "x"}

// TestRuntimeBinaryIsSealed attacks the runtime binary the way
// CVE-2019-5736 did: a process in the container gets hold of a berth
// process's executable through /proc/<pid>/exe and writes to it, while
// berth runs and after it has exited. Neither may succeed, because berth
// executes containers from a sealed copy; the binary on the host must be
// unchanged. The runtime runs with BERTH_INIT=self, so that the sealed
// binary is berth itself, whose runtime mode the attack runs inside the
// container (the embedded init binary has no such mode to block in).
func TestRuntimeBinaryIsSealed(t *testing.T) {
	before := sha256File(t, berthBin)
	t.Cleanup(func() {
		assert.Check(t, is.Equal(sha256File(t, berthBin), before), "the berth binary on the host changed")
	})

	t.Run("container process", func(t *testing.T) {
		// The container's own process is berth (started through
		// /proc/self/exe); another process writes to /proc/1/exe.
		r := newRT(t)
		r.env = []string{"BERTH_INIT=self"}
		b := berthInContainer(t, "")
		spec := readSpec(t, b)
		spec.Process.Args = berthArgs
		writeSpec(t, b, spec)
		id := r.started(b)
		res := r.exec(id, "sh", "-c", `exec 2>&1
cat /proc/1/cmdline | tr '\0' ' '; echo
echo pwned >> /proc/1/exe && echo wrote exe
exec 3</proc/1/exe && echo opened exe
echo pwned >> /proc/self/fd/3 && echo wrote through fd
true`)
		assert.Check(t, is.Contains(res.stdout, strings.Join(berthArgs, " ")), res)
		assert.Check(t, is.Contains(res.stdout, "opened exe"), res)
		assert.Check(t, !strings.Contains(res.stdout, "wrote"), res)
	})

	t.Run("exec process after it exited", func(t *testing.T) {
		// An exec'd berth process blocks; a detached shell opens its
		// executable, lets it finish, waits until no berth process of the
		// runtime runs any more (so the kernel no longer refuses writes to
		// an executing binary), and writes through the descriptor it kept.
		r := newRT(t)
		r.env = []string{"BERTH_INIT=self"}
		b := berthInContainer(t, "sleep 1000")
		id := r.started(b)
		r.ok(append([]string{"exec", "--detach", id}, berthArgs...)...)
		r.ok("exec", "--detach", id, "sh", "-c", `exec >/tmp/out 2>&1
for d in /proc/[0-9]*; do [ ${d#/proc/} = $$ ] || { grep -q fifo $d/cmdline 2>/dev/null && p=${d#/proc/}; }; done
echo "berth is pid $p"
exec 3</proc/$p/exe && echo opened exe
cat /tmp/fifo >/dev/null
while readlink /proc/$p/exe >/dev/null 2>&1; do sleep 0.1; done
sleep 1
echo pwned >> /proc/self/fd/3 && echo wrote through fd
touch /tmp/done`)
		done := filepath.Join(b, "rootfs/tmp/done")
		waitFor(t, "the attacking shell", func() bool {
			reap()
			_, err := os.Stat(done)
			return err == nil
		})
		out, err := os.ReadFile(filepath.Join(b, "rootfs/tmp/out"))
		assert.NilError(t, err)
		assert.Check(t, is.Contains(string(out), "opened exe"))
		assert.Check(t, !strings.Contains(string(out), "wrote"), string(out))
	})
}

// TestCwdThroughDescriptors gives the process /proc/self/fd/N as its
// working directory, for every descriptor init may hold: none may be a
// directory of the host (the pattern of CVE-2024-21626; the host's v2
// cgroup directory was one). The process either fails to start or runs
// inside the container's root, where ".." stops at "/".
func TestCwdThroughDescriptors(t *testing.T) {
	r := newRT(t)
	id := r.started(sh(t, `sleep 1000`))
	const probe = `cd ../../../../../../../..; stat -c %d:%i .; stat -c %d:%i /`
	check := func(what string, res result) {
		t.Helper()
		if res.code != 0 {
			return
		}
		lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
		assert.Check(t, len(lines) == 2 && lines[0] == lines[1], "%s: left the container's root: %v", what, res)
	}
	for n := 3; n <= 12; n++ {
		cwd := "/proc/self/fd/" + strconv.Itoa(n)
		for _, stage := range []string{"plan", "go"} {
			r.env = []string{"BERTH_EXEC_STAGE=" + stage}
			check("exec ("+stage+") in "+cwd, r.cmd("", "exec", "--cwd", cwd, id, "sh", "-c", probe))
		}
		r.env = nil
		check("run in "+cwd, r.run(sh(t, probe, func(s *specs.Spec) { s.Process.Cwd = cwd })))
	}
}

// TestMaskNeedsTheNullDevice gives the container a /dev from the host
// whose null is a symlink to /proc/sys/kernel/core_pattern. Masking
// /proc/kcore with a bind of that "/dev/null" would make a writable window
// onto the host's core_pattern (CVE-2025-31133 in runc): create refuses.
func TestMaskNeedsTheNullDevice(t *testing.T) {
	for name, tc := range map[string]struct {
		make func(path string) error
		err  string
	}{
		"symlink":      {func(p string) error { return os.Symlink("/proc/sys/kernel/core_pattern", p) }, "open /dev/null: too many levels of symbolic links"},
		"regular file": {func(p string) error { return os.WriteFile(p, nil, 0o666) }, "/dev/null is not the null device"},
	} {
		t.Run(name, func(t *testing.T) {
			r := newRT(t)
			dev := t.TempDir()
			traversable(t, dev)
			assert.NilError(t, tc.make(filepath.Join(dev, "null")))
			res := r.run(sh(t, `cat /proc/kcore`,
				withMounts(specs.Mount{Destination: "/dev", Type: "bind", Source: dev, Options: []string{"rbind", "rw"}}),
				func(s *specs.Spec) { s.Linux.MaskedPaths = []string{"/proc/kcore"} }))
			assert.Check(t, res.code != 0, res)
			assert.Check(t, is.Contains(res.stderr, "mask /proc/kcore: "+tc.err), res)
		})
	}
}

// TestReadonlyPathIsRecursive: a read-only path stays read-only in the
// mounts under it too.
func TestReadonlyPathIsRecursive(t *testing.T) {
	r := newRT(t)
	data := t.TempDir()
	traversable(t, data)
	res := r.run(sh(t, `touch /data/top 2>/dev/null && echo top-writable; touch /data/sub/below 2>/dev/null && echo sub-writable; echo done`,
		withMounts(
			specs.Mount{Destination: "/data", Type: "bind", Source: data, Options: []string{"rbind", "rw"}},
			specs.Mount{Destination: "/data/sub", Type: "tmpfs", Source: "tmpfs"}),
		func(s *specs.Spec) { s.Linux.ReadonlyPaths = append(s.Linux.ReadonlyPaths, "/data") }))
	assert.Equal(t, res.code, 0, res)
	assert.Check(t, is.Equal(res.stdout, "done\n"))
}

// TestInitNotDumpable: until it executes the container's program, init is
// not dumpable, so no process in the container can ptrace it or take its
// descriptors; the program is dumpable again (its /proc files belong to
// it, which tools in the container rely on). In a user namespace that
// shows in the owner of init's /proc files: root while not dumpable, the
// mapped root once the program runs. (There, becoming the namespace's
// root already made init non-dumpable; nsenter.c now makes every init and
// exec so from its start, which a test cannot observe for a root-owned
// process.)
func TestInitNotDumpable(t *testing.T) {
	r := newRT(t)
	id := containerID(t)
	r.ok("create", "--bundle", userNSBundle(t, `sleep 1000`), id)
	pid := statePid(t, r, id)
	owner := func() uint32 {
		var st unix.Stat_t
		assert.NilError(t, unix.Stat("/proc/"+strconv.Itoa(pid)+"/status", &st))
		return st.Uid
	}
	assert.Check(t, is.Equal(owner(), uint32(0)), "init before start")
	r.ok("start", id)
	r.waitStatus(id, "running")
	assert.Check(t, is.Equal(owner(), uint32(userNSHostID)), "the program after execve")
}
