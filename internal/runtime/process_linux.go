package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/berth-project/berth/internal/runtime/seccomp"
	"github.com/moby/sys/user"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

var rlimitNames = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK": unix.RLIMIT_STACK,
}

// execProcess turns the calling thread into the container's program:
// limits, working directory, identity, capabilities, no_new_privs,
// seccomp, then execve(2). It only returns on failure.
func execProcess(cfg *initConfig, p *specs.Process) error {
	if cfg.Exec {
		// A container's init gets its rlimits from the runtime at create.
		if err := setRlimits(0, p.Rlimits); err != nil {
			return err
		}
	}
	if err := setPersonality(cfg.Spec); err != nil {
		return err
	}
	if err := setIOPriority(p.IOPriority); err != nil {
		return err
	}
	if err := setScheduler(p.Scheduler); err != nil {
		return err
	}
	if cfg.Spec.Linux != nil && !cfg.Exec {
		if err := setMemoryPolicy(cfg.Spec.Linux.MemoryPolicy); err != nil {
			return err
		}
	}
	if a := p.ExecCPUAffinity; a != nil {
		if err := setAffinity(a.Final); err != nil {
			return err
		}
	}
	if !cfg.Exec && !cfg.NoNewKeyring {
		// A session keyring of its own, so the container cannot read or
		// use the keys of the host session it was started from.
		if _, err := unix.KeyctlJoinSessionKeyring(cfg.ID); err != nil && !errors.Is(err, unix.ENOSYS) {
			return fmt.Errorf("join session keyring: %w", err)
		}
	}
	if p.User.Umask != nil {
		unix.Umask(int(*p.User.Umask))
	}
	env := p.Env
	if !hasEnv(env, "HOME") {
		env = append(env, "HOME="+homeDir(int(p.User.UID)))
	}
	if err := unix.Chdir(p.Cwd); err != nil {
		return fmt.Errorf("chdir to cwd (%q) set in config.json: %w", p.Cwd, err)
	}
	// A working directory getcwd(2) cannot name from the container's root
	// lies outside it (reached through a leaked descriptor, say): refuse,
	// with runc's words, as any directory it cannot name at all.
	if _, err := unix.Getwd(); errors.Is(err, unix.ENOENT) {
		return errors.New(errCwdOutside)
	} else if err != nil {
		return fmt.Errorf("failed to verify if current working directory is safe: %w", err)
	}
	path := cfg.Path
	if path == "" {
		var err error
		if path, err = lookPath(p.Args[0], env); err != nil {
			return err
		}
	}
	caps := cfg.caps
	if caps == nil {
		var err error
		if caps, err = newCapabilities(p.Capabilities); err != nil {
			return err
		}
	}
	// while still root, and before a seccomp profile could refuse it
	if err := ownStdio(p.User.UID); err != nil {
		return err
	}
	if err := caps.dropBounding(); err != nil {
		return err
	}
	filter := cfg.seccomp // compiled by the runtime (compileSeccomp)
	// Without no_new_privs, installing a filter needs CAP_SYS_ADMIN, which
	// the process may be about to lose: load it now.
	if filter != nil && !p.NoNewPrivileges {
		if err := filter.Install(); err != nil {
			return fmt.Errorf("load seccomp profile: %w", err)
		}
	}
	if err := setIdentity(p.User); err != nil {
		return err
	}
	if err := caps.apply(); err != nil {
		return err
	}
	if p.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("set no_new_privs: %w", err)
		}
	}
	if p.NoNewPrivileges && filter != nil {
		if err := filter.Install(); err != nil {
			return fmt.Errorf("load seccomp profile: %w", err)
		}
	}
	if err := closeExtraFDs(3 + cfg.PreserveFDs); err != nil {
		return err
	}
	err := unix.Exec(path, p.Args, env)
	return fmt.Errorf("exec %s: %w", p.Args[0], err)
}

const errCwdOutside = "current working directory is outside of container mount namespace root -- possible container breakout detected"

// compileSeccomp compiles spec's seccomp profile, if it has one, into
// cfg.SeccompFilter: init installs that program and never decodes or
// compiles the profile itself (in a fresh process that costs about half a
// millisecond for Docker's default profile). It reports whether there was
// a profile.
func compileSeccomp(cfg *initConfig, spec *specs.Spec) (bool, error) {
	if spec.Linux == nil || spec.Linux.Seccomp == nil {
		return false, nil
	}
	key, err := json.Marshal(spec.Linux.Seccomp)
	if err != nil {
		return false, fmt.Errorf("load seccomp profile: %w", err)
	}
	if prog, ok := compiledFilters.get(string(key)); ok {
		cfg.SeccompFilter = prog
		return true, nil
	}
	f, err := seccomp.Prepare(spec.Linux.Seccomp)
	if err != nil {
		return false, fmt.Errorf("load seccomp profile: %w", err)
	}
	if cfg.SeccompFilter, err = f.MarshalBinary(); err != nil {
		return false, err
	}
	compiledFilters.put(string(key), cfg.SeccompFilter)
	return true, nil
}

// compiledFilters keeps the programs compileSeccomp made, by the profile's
// JSON: the daemon's runtime compiles the same default profile for every
// container and exec, which took about 120 µs and 1,600 allocations each
// time (a quarter of the daemon's allocations in a `run --rm`). The
// programs are never changed once made.
var compiledFilters filterCache

type filterCache struct {
	mu sync.Mutex
	m  map[string][]byte
}

// filterCacheSize bounds the cache; it starts over when full (profiles
// other than the default are rare).
const filterCacheSize = 16

func (c *filterCache) get(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	prog, ok := c.m[key]
	return prog, ok
}

func (c *filterCache) put(key string, prog []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= filterCacheSize {
		c.m = make(map[string][]byte)
	}
	c.m[key] = prog
}

// ownStdio gives the process's user its standard streams, as runc does:
// a terminal's slave (made by root in the container's devpts) must belong
// to the user, or the program cannot open its own tty by name (ssh, sudo
// and script check it). Only the owner changes; the group (tty) stays.
// What is already the user's, /dev/null, and what cannot be changed (a
// read-only /dev, an owner outside a user namespace) are left alone.
func ownStdio(uid uint32) error {
	for fd := 0; fd <= 2; fd++ {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			if errors.Is(err, unix.EBADF) {
				continue
			}
			return fmt.Errorf("fstat stdio %d: %w", fd, err)
		}
		if st.Uid == uid || st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == unix.Mkdev(1, 3) {
			continue
		}
		err := unix.Fchown(fd, int(uid), int(st.Gid))
		if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EROFS) {
			return fmt.Errorf("chown stdio %d: %w", fd, err)
		}
	}
	return nil
}

// setIdentity switches to the process's user. PR_SET_KEEPCAPS keeps the
// permitted set across setuid(2) so the capabilities can still be applied
// afterwards. The raw syscalls change only this thread, which is the one
// that will call execve.
func setIdentity(u specs.User) error {
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl keepcaps: %w", err)
	}
	groups := make([]int, 0, len(u.AdditionalGids))
	for _, g := range u.AdditionalGids {
		groups = append(groups, int(g))
	}
	if err := unix.Setgroups(groups); err != nil && !(len(groups) == 0 && errors.Is(err, unix.EPERM)) {
		return fmt.Errorf("setgroups: %w", err)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(u.GID), uintptr(u.GID), uintptr(u.GID)); e != 0 {
		return fmt.Errorf("setgid %d: %w", u.GID, e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(u.UID), uintptr(u.UID), uintptr(u.UID)); e != 0 {
		return fmt.Errorf("setuid %d: %w", u.UID, e)
	}
	return unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0)
}

// closeExtraFDs marks every descriptor from min up close-on-exec, so that
// nothing the runtime opened reaches the container's program (the class of
// CVE-2024-21626).
func closeExtraFDs(min int) error {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("list fds: %w", err)
	}
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd < min {
			continue
		}
		unix.CloseOnExec(fd)
	}
	return nil
}

func hasEnv(env []string, key string) bool {
	for _, e := range env {
		if strings.HasPrefix(e, key+"=") {
			return true
		}
	}
	return false
}

func homeDir(uid int) string {
	users, err := user.ParsePasswdFileFilter("/etc/passwd", func(u user.User) bool { return u.Uid == uid })
	if err == nil && len(users) > 0 && users[0].Home != "" {
		return users[0].Home
	}
	return "/"
}

// lookPath finds the program the way execvp(3) would, with the
// container's PATH.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		if err := executable(name); err != nil {
			return "", fmt.Errorf("exec: %q: %w", name, err)
		}
		return name, nil
	}
	pathEnv := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			pathEnv = v
		}
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if executable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH", name)
}

func executable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return unix.EACCES
	}
	return nil
}

func setPersonality(s *specs.Spec) error {
	if s.Linux == nil || s.Linux.Personality == nil {
		return nil
	}
	var persona uintptr
	switch s.Linux.Personality.Domain {
	case specs.PerLinux:
		persona = 0x0000
	case specs.PerLinux32:
		persona = 0x0008
	default:
		return fmt.Errorf("unknown personality domain %q", s.Linux.Personality.Domain)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_PERSONALITY, persona, 0, 0); e != 0 {
		return fmt.Errorf("personality %s: %w", s.Linux.Personality.Domain, e)
	}
	return nil
}

// ioPriorityClasses are the classes of ioprio_set(2).
var ioPriorityClasses = map[specs.IOPriorityClass]uintptr{
	specs.IOPRIO_CLASS_RT:   1,
	specs.IOPRIO_CLASS_BE:   2,
	specs.IOPRIO_CLASS_IDLE: 3,
}

func setIOPriority(p *specs.LinuxIOPriority) error {
	if p == nil {
		return nil
	}
	class, ok := ioPriorityClasses[p.Class]
	if !ok {
		return fmt.Errorf("unknown I/O priority class %q", p.Class)
	}
	const whoProcess = 1
	if _, _, e := unix.RawSyscall(unix.SYS_IOPRIO_SET, whoProcess, 0, class<<13|uintptr(p.Priority)); e != 0 {
		return fmt.Errorf("ioprio_set %s %d: %w", p.Class, p.Priority, e)
	}
	return nil
}

// setRlimits applies the process's rlimits to pid (0: the caller) with
// prlimit(2). Raising a hard limit above the runtime's own needs
// CAP_SYS_RESOURCE, which the host may withhold: that is an error naming
// the host's limit.
func setRlimits(pid int, rlimits []specs.POSIXRlimit) error {
	for _, r := range rlimits {
		lim := unix.Rlimit{Cur: r.Soft, Max: r.Hard}
		if err := unix.Prlimit(pid, rlimitNames[r.Type], &lim, nil); err != nil {
			var cur unix.Rlimit
			unix.Prlimit(0, rlimitNames[r.Type], nil, &cur)
			return fmt.Errorf("set %s to %d:%d: %w (the host's hard limit is %d)", r.Type, r.Soft, r.Hard, err, cur.Max)
		}
	}
	return nil
}
