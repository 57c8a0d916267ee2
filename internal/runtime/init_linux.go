package runtime

import (
	"encoding/json"
	"path/filepath"
	"strings"

	"errors"
	"fmt"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"os"
	goruntime "runtime"
	"strconv"
	"time"

	"github.com/berth-project/berth/internal/runtime/seccomp"
	"golang.org/x/sys/unix"
)

// InitMain is `berth init`: the process that becomes the container. It
// runs after nsenter.c has put it in its namespaces, and never returns.
//
// Capabilities, no_new_privs, seccomp and the uid are per-thread
// attributes, and execve(2) keeps those of the calling thread, so all of
// init's work happens on one locked OS thread.
func InitMain() {
	mainEntered = time.Now()
	goruntime.LockOSThread()
	fd, err := strconv.Atoi(os.Getenv("_BERTH_SYNCFD"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "berth init must be started by the berth runtime")
		os.Exit(2)
	}
	// Nothing that init inherits may survive into the container's program.
	unix.CloseOnExec(fd)
	sock := syncSocket{os.NewFile(uintptr(fd), "sync")}
	var listener *os.File
	if lfd, err := strconv.Atoi(os.Getenv("_BERTH_LISTENFD")); err == nil {
		unix.CloseOnExec(lfd)
		listener = os.NewFile(uintptr(lfd), "start-listener")
	}
	if efd, err := strconv.Atoi(os.Getenv("_BERTH_EXEFD")); err == nil {
		unix.Close(efd) // the sealed binary this process was executed from
	}
	for _, k := range []string{"_BERTH_SYNCFD", "_BERTH_LISTENFD", "_BERTH_EXEFD", "_BERTH_INIT"} {
		os.Unsetenv(k)
	}
	report := sock
	err = runInit(sock, listener, &report)
	// Only failures come back here; execve does not return.
	report.send(message{Type: msgError, Error: err.Error()})
	os.Exit(1)
}

// mainEntered is when init's main started, for --debug timings.
var mainEntered time.Time

func runInit(sock syncSocket, listener *os.File, report *syncSocket) error {
	m, _, ok, err := sock.recv()
	if err != nil {
		return err
	}
	if !ok || m.Type != msgConfig || m.Config == nil {
		return errors.New("init: no configuration received")
	}
	cfg := m.Config
	if err := json.Unmarshal(cfg.RawSpec, &cfg.Spec); err != nil {
		return fmt.Errorf("init: decode spec: %w", err)
	}
	if cfg.Process == nil {
		cfg.Process = cfg.Spec.Process
	}
	if len(cfg.SeccompFilter) > 0 {
		if cfg.seccomp, err = seccomp.UnmarshalFilter(cfg.SeccompFilter); err != nil {
			return err
		}
	}
	if cfg.NewCgroupNS {
		// nsenter.c put this process in the container's cgroup before it
		// forked; the namespace made now is rooted there. Namespaces are
		// per-thread: this locked thread is the one that mounts the cgroup
		// filesystem and executes the program.
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return fmt.Errorf("unshare cgroup namespace: %w", err)
		}
	}
	if a := cfg.Process.ExecCPUAffinity; a != nil {
		if err := setAffinity(a.Initial); err != nil {
			return err
		}
	}
	if cfg.Exec {
		if err := setupTerminal(sock, cfg.Process, false); err != nil {
			return err
		}
		return execProcess(cfg, cfg.Process)
	}
	if err := buildContainer(sock, cfg); err != nil {
		return err
	}
	// A program that cannot be found fails create, not start. (A relative
	// path with a slash depends on the working directory: that waits.)
	if name := cfg.Process.Args[0]; !strings.Contains(name, "/") || filepath.IsAbs(name) {
		path, err := lookPath(name, cfg.Process.Env)
		if err != nil {
			return err
		}
		cfg.Path = path
	}
	// So are capabilities the host cannot grant; resolving them now also
	// leaves less for start to do.
	caps, err := newCapabilities(cfg.Process.Capabilities)
	if err != nil {
		return err
	}
	cfg.caps = caps
	if err := sock.send(message{Type: msgReady}); err != nil {
		return err
	}
	sock.f.Close()
	if listener == nil {
		return errors.New("init: no start socket")
	}
	// Wait for `start`. Its connection carries any error from here on and
	// is closed by execve, which tells `start` that the program runs.
	nfd, _, err := unix.Accept4(int(listener.Fd()), unix.SOCK_CLOEXEC)
	if err != nil {
		return fmt.Errorf("accept start: %w", err)
	}
	listener.Close()
	conn := syncSocket{os.NewFile(uintptr(nfd), "start")}
	*report = conn
	if err := runHooks("startContainer", hooksOf(cfg.Spec).StartContainer, withStatus(cfg.State, Created)); err != nil {
		return err
	}
	return execProcess(cfg, cfg.Process)
}

// buildContainer does everything that `create` promises: the root
// filesystem, hooks, hostname, sysctls, limits and the terminal.
func buildContainer(sock syncSocket, cfg *initConfig) error {
	s := cfg.Spec
	// With --debug the runtime logs how long init's steps take, counted
	// from the start of init's main (after the Go runtime started).
	trace := func(what string) {
		if cfg.Debug {
			sock.send(message{Type: msgLog, Error: fmt.Sprintf("%s after %v", what, time.Since(mainEntered))})
		}
	}
	trace("config decoded")
	if err := prepareRootfs(cfg); err != nil {
		return err
	}
	trace("rootfs prepared")
	defer trace("container built")
	if h := hooksOf(s); len(h.Prestart) > 0 || len(h.CreateRuntime) > 0 {
		if err := sock.send(message{Type: msgHooks}); err != nil {
			return err
		}
		m, _, ok, err := sock.recv()
		if err != nil {
			return err
		}
		if !ok || m.Type != msgHooksDone {
			return errors.New("init: hooks failed in the runtime")
		}
	}
	if err := runHooks("createContainer", hooksOf(s).CreateContainer, cfg.State); err != nil {
		return err
	}
	trace("hooks run")
	if err := enterRootfs(cfg); err != nil {
		return err
	}
	trace("root pivoted")
	// The working directory can be under a mount (a volume, a tmpfs)
	// that covers the one the daemon made in the image: make it in the
	// container's root, root's and 0755, as runc does.
	if cwd := cfg.Process.Cwd; cwd != "" && !strings.ContainsRune(cwd, 0) {
		if err := os.MkdirAll(cwd, 0o755); err != nil {
			return fmt.Errorf("make the working directory: %w", err)
		}
	}
	if err := setupTerminal(sock, cfg.Process, true); err != nil {
		return err
	}
	if cfg.NewUTS {
		if s.Hostname != "" {
			if err := unix.Sethostname([]byte(s.Hostname)); err != nil {
				return fmt.Errorf("sethostname: %w", err)
			}
		}
		if s.Domainname != "" {
			if err := unix.Setdomainname([]byte(s.Domainname)); err != nil {
				return fmt.Errorf("setdomainname: %w", err)
			}
		}
	}
	for k, v := range s.Linux.Sysctl {
		if err := writeSysctl(k, v); err != nil {
			return err
		}
	}
	// Sysctls go in before finishRootfs makes /proc/sys read-only.
	if err := finishRootfs(cfg); err != nil {
		return err
	}
	if s.Process.OOMScoreAdj != nil {
		if err := os.WriteFile("/proc/self/oom_score_adj", []byte(strconv.Itoa(*s.Process.OOMScoreAdj)), 0); err != nil {
			return fmt.Errorf("set oom_score_adj to %d: %w (the host refuses it)", *s.Process.OOMScoreAdj, err)
		}
	}
	return nil
}

// withStatus returns a hook state document with another status.
func withStatus(state []byte, status Status) []byte {
	var st specs.State
	if err := json.Unmarshal(state, &st); err != nil {
		return state
	}
	st.Status = specs.ContainerState(status)
	data, err := json.Marshal(st)
	if err != nil {
		return state
	}
	return data
}
