package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/berth-project/berth/internal/runtime/cgroup"
	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Runtime manages the containers whose state lives under Root.
type Runtime struct {
	Root string
	Log  *slog.Logger

	// execSpecs keeps, per container, what every exec needs of its spec
	// (see execSpec); guarded by execMu.
	execMu    sync.Mutex
	execSpecs map[string]execSpec
}

// New returns a runtime keeping its state under root.
func New(root string, log *slog.Logger) *Runtime {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runtime{Root: root, Log: log}
}

// IO is the standard I/O a container's process gets. Nil means the
// caller's own.
type IO struct {
	Stdin, Stdout, Stderr *os.File
}

// CreateOpts are the options of `create` and `run`.
type CreateOpts struct {
	ID     string
	Bundle string
	// ConsoleSocket is the path of a unix socket that receives the pty
	// master when process.terminal is set.
	ConsoleSocket string
	// Console, when set instead, receives the pty master directly.
	Console func(*os.File) error
	PidFile string
	NoPivot bool
	// NoNewKeyring keeps the caller's session keyring.
	NoNewKeyring bool
	PreserveFDs  int
	IO           IO
	// Launch, when set, starts the intermediate process (see Launcher).
	Launch Launcher
	// Spec, when set, is the bundle's config.json already decoded, and
	// RawSpec its bytes: the daemon, which made the spec, saves Create
	// reading and decoding it again (about 130 µs and 700 allocations
	// for Docker's default spec). Create keeps it and does not change it.
	Spec    *specs.Spec
	RawSpec []byte
}

const startSocketName = "start.sock"

// Create builds the container up to the point where only the user's
// program remains to be executed. The container is then "created".
func (r *Runtime) Create(opts CreateOpts) (st *State, retErr error) {
	if err := ValidateID(opts.ID); err != nil {
		return nil, err
	}
	t0 := time.Now()
	// Opening the sealed binary (a private overlay mount) needs nothing
	// from the spec: start it now.
	go sealedExe()
	bundle, err := filepath.Abs(opts.Bundle)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(r.Root, 0o711); err != nil {
		return nil, err
	}
	dir := r.dir(opts.ID)
	if err := os.Mkdir(dir, 0o711); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, errorf(errdefs.ErrAlreadyExists, "container with id %s already exists", opts.ID)
		}
		return nil, err
	}
	var (
		initPid int
		cmd     Child // the intermediate process, until the handshake reaps it
		cg      *cgroup.Manager
		cgWait  = func() error { return nil }
	)
	defer func() {
		if retErr == nil {
			return
		}
		if cmd != nil {
			cmd.Kill()
			cmd.Wait()
		}
		cgWait()
		if initPid > 0 {
			unix.Kill(initPid, unix.SIGKILL)
			waitGone(initPid, time.Second)
		}
		if cg == nil {
			// cgroup.New refused the path, or was never called.
		} else if err := cg.Destroy(); err != nil {
			r.Log.Debug("destroy cgroup after failed create", "id", opts.ID, "err", err)
		}
		os.RemoveAll(dir)
	}()

	rawSpec := opts.RawSpec
	if opts.Spec == nil {
		if rawSpec, err = readSpec(bundle); err != nil {
			return nil, err
		}
	}
	// The cgroup is made (and its limits set) in the background while
	// init makes its namespaces; cgWait waits for it. It starts only once
	// the state directory is ours, so a duplicate ID can never touch
	// another container's cgroup.
	cgStarted := false
	startCgroup := func(path string, res *specs.LinuxResources) {
		cgStarted = true
		cgDone := make(chan error, 1)
		go func() {
			m, err := cgroup.New(opts.ID, path, withoutPids(withDefaultDevices(res)))
			if err == nil {
				cg = m
				err = m.Create()
			}
			r.Log.Debug("create: cgroup ready", "id", opts.ID, "elapsed", time.Since(t0))
			cgDone <- err
		}()
		cgWait = sync.OnceValue(func() error { return <-cgDone })
	}

	// The fields that init's fork waits for (namespaces, cgroup) are
	// decoded on their own when they can be (specEarly): the cgroup is
	// then made while init is executed, and init makes its namespaces
	// while the whole spec is decoded and checked. A fresh process takes
	// about a millisecond for that decode (encoding/json learns each of
	// the spec's types on first use). A new user namespace needs the whole
	// spec first (its id maps).
	var (
		early   earlySpec
		earlyOK bool
	)
	if s := opts.Spec; s != nil {
		if s.Linux != nil {
			early, earlyOK = earlySpec{s.Linux.Namespaces, s.Linux.TimeOffsets, s.Linux.CgroupsPath, s.Linux.Resources}, true
		}
	} else {
		early, earlyOK = specEarly(rawSpec)
	}
	earlyOK = earlyOK && namespacesValid(early.Namespaces) && !hasUserNS(early.Namespaces)
	if earlyOK {
		startCgroup(early.CgroupsPath, early.Resources)
	}

	// init is started before the spec is decoded: executing it overlaps
	// with the decoding. It waits for its namespaces (sendNamespaces).
	listener, err := listenStart(dir)
	if err != nil {
		return nil, err
	}
	defer listener.Close()
	parent, child, err := newSocketPair()
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	sock := syncSocket{parent}
	c, err := initCommand(opts.IO, opts.PreserveFDs, child, listener)
	if err != nil {
		child.Close()
		return nil, err
	}
	started, err := launch(opts.Launch, c)
	child.Close()
	if err != nil {
		return nil, fmt.Errorf("start init: %w", err)
	}
	cmd = started
	r.Log.Debug("create: init started", "id", opts.ID, "elapsed", time.Since(t0))

	// handshake sends init its namespaces and drives nsenter.c in the
	// background; the fork waits until release says the whole spec passed
	// its checks, so that a bad spec never gets a container process.
	type forked struct {
		pid int
		err error
	}
	var (
		forkDone chan forked
		release  func(error)
	)
	handshake := func(newFlags int, join string, offsets map[string]specs.LinuxTimeOffset, maps func(int) error) error {
		if err := sendNamespaces(sock, newFlags, join, offsets); err != nil {
			return err
		}
		checks := make(chan error, 1)
		release = func(err error) {
			select {
			case checks <- err:
			default:
			}
		}
		forkDone = make(chan forked, 1)
		go func(cmd Child) {
			pid, err := r.handshake(sock, cmd, func() (map[string]string, error) {
				if err := <-checks; err != nil {
					return nil, err
				}
				if err := cgWait(); err != nil {
					return nil, err
				}
				return cg.Paths(), nil
			}, maps)
			forkDone <- forked{pid, err}
		}(cmd)
		return nil
	}
	// Deferred after the socket's Close, so run before it.
	defer func() {
		if forkDone != nil && retErr != nil {
			release(retErr) // the handshake fails, which kills init
			if f := <-forkDone; f.err == nil {
				initPid = f.pid
			}
			cmd = nil // reaped by the handshake
		}
	}()
	if earlyOK {
		if join, newFlags, err := nsEnv(early.Namespaces); err == nil {
			if err := handshake(newFlags, join, early.TimeOffsets, nil); err != nil {
				return nil, err
			}
		}
	}

	spec := opts.Spec
	if spec != nil {
		err = ValidateSpec(spec)
	} else {
		spec, err = parseSpec(bundle, rawSpec)
	}
	if err != nil {
		return nil, err
	}
	r.Log.Debug("create: spec loaded", "id", opts.ID, "elapsed", time.Since(t0))
	rootfs := spec.Root.Path
	if !filepath.IsAbs(rootfs) {
		rootfs = filepath.Join(bundle, rootfs)
	}
	if fi, err := os.Stat(rootfs); err != nil || !fi.IsDir() {
		return nil, errorf(errdefs.ErrInvalidArgument, "rootfs %s is not a directory", rootfs)
	}
	if spec.Process.Terminal && opts.ConsoleSocket == "" && opts.Console == nil {
		return nil, errorf(errdefs.ErrInvalidArgument, "process.terminal is set but no --console-socket was given")
	}
	if !spec.Process.Terminal && opts.ConsoleSocket != "" {
		return nil, errorf(errdefs.ErrInvalidArgument, "--console-socket given but process.terminal is false")
	}
	join, newFlags, err := nsEnv(spec.Linux.Namespaces)
	if err != nil {
		return nil, errorf(errdefs.ErrInvalidArgument, "%v", err)
	}
	if !cgStarted {
		startCgroup(spec.Linux.CgroupsPath, spec.Linux.Resources)
	}
	if forkDone == nil {
		var maps func(int) error
		if newFlags&unix.CLONE_NEWUSER != 0 {
			maps = func(pid int) error { return writeIDMaps(pid, spec) }
		}
		if err := handshake(newFlags, join, spec.Linux.TimeOffsets, maps); err != nil {
			return nil, err
		}
	}
	release(nil)
	cfg := &initConfig{
		ID:           opts.ID,
		Bundle:       bundle,
		Rootfs:       rootfs,
		RawSpec:      rawSpec,
		Spec:         spec,
		Process:      spec.Process,
		NoPivot:      opts.NoPivot,
		NoNewKeyring: opts.NoNewKeyring,
		Debug:        r.Log.Enabled(context.Background(), slog.LevelDebug),
		PreserveFDs:  opts.PreserveFDs,
		NewUTS:       newFlags&unix.CLONE_NEWUTS != 0,
		NewCgroupNS:  newFlags&unix.CLONE_NEWCGROUP != 0,
	}
	// Made while nsenter.c forks: the plan for initstage.c, or nil for
	// the Go init.
	if cfg.plan, err = initPlan(cfg); err != nil {
		return nil, err
	}
	f := <-forkDone
	forkDone = nil
	cmd = nil // reaped by the handshake
	if f.err != nil {
		return nil, f.err
	}
	pid := f.pid
	initPid = pid
	r.Log.Debug("create: init forked", "id", opts.ID, "pid", pid, "plan", cfg.plan != nil, "elapsed", time.Since(t0))
	_, startTime, err := procStat(pid)
	if err != nil {
		return nil, fmt.Errorf("init exited early: %w", err)
	}
	st = &State{
		OCIVersion:  specs.Version,
		ID:          opts.ID,
		Pid:         pid,
		Status:      Creating,
		Bundle:      bundle,
		Rootfs:      rootfs,
		Created:     time.Now().UTC(),
		Owner:       "",
		Annotations: spec.Annotations,
		Version:     stateVersion,
		StartTime:   startTime,
		Hooks:       spec.Hooks,
		CgroupPaths: cg.Paths(),
		spec:        spec,
	}
	// Before init's sysctls, which may name the devices.
	if err := moveNetDevices(pid, spec.Linux.NetDevices); err != nil {
		return nil, err
	}
	// The plan goes now: init builds the container while the state is
	// saved below. The Go init is told to start its runtime ("g") and
	// gets its configuration once the state is saved.
	if cfg.plan != nil {
		if err := sendConfig(sock, cfg); err != nil {
			return nil, err
		}
	} else if err := unix.Sendmsg(int(sock.f.Fd()), []byte("g"), nil, nil, 0); err != nil {
		return nil, fmt.Errorf("tell init to start its Go runtime: %w", err)
	}
	// Record the process and cgroup at once, so that if this create is
	// killed from here on, `delete --force` still finds what to remove.
	// Nothing in the state changes after this; the status is derived.
	if err := r.saveRawSpec(opts.ID, rawSpec); err != nil {
		return nil, err
	}
	if err := r.saveState(st); err != nil {
		return nil, err
	}
	if cfg.plan == nil {
		if spec.Hooks != nil {
			cfg.State = hookState(st, Creating)
		}
		if err := seccompForInit(cfg); err != nil {
			return nil, err
		}
		cfg.Process = nil // the spec's, which init decodes
		if err := sendConfig(sock, cfg); err != nil {
			return nil, err
		}
	}
	if err := r.converse(sock, cfg, st, opts.ConsoleSocket, opts.Console); err != nil {
		return nil, err
	}
	// init is ready, with all the threads it will have: only now are the
	// pids limit and the rlimits set, so that they bind the container's
	// program and not the runtime's own start-up (as in runc).
	if res := spec.Linux.Resources; res != nil && res.Pids != nil {
		if err := cg.Set(&specs.LinuxResources{Pids: res.Pids}); err != nil {
			return nil, err
		}
	}
	if err := setRlimits(pid, spec.Process.Rlimits); err != nil {
		return nil, err
	}
	r.Log.Debug("create: init ready", "id", opts.ID, "elapsed", time.Since(t0))
	// The state was saved before the pid file is written: whoever watches
	// the pid file may ask for the state as soon as it appears.
	if opts.PidFile != "" {
		if err := writePidFile(opts.PidFile, pid); err != nil {
			return nil, err
		}
	}
	st.Status = Created
	r.Log.Debug("create: done", "id", opts.ID, "elapsed", time.Since(t0))
	return st, nil
}

// seccompForInit compiles the spec's seccomp profile here, while init
// starts (compileSeccomp), and sends init a spec without the profile.
func seccompForInit(cfg *initConfig) error {
	if has, err := compileSeccomp(cfg, cfg.Spec); err != nil || !has {
		return err
	}
	trimmed, linux := *cfg.Spec, *cfg.Spec.Linux
	linux.Seccomp = nil
	trimmed.Linux = &linux
	var err error
	cfg.RawSpec, err = json.Marshal(&trimmed)
	return err
}

func writePidFile(path string, pid int) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// waitGone polls until pid has exited or timeout passes.
func waitGone(pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		state, _, err := procStat(pid)
		if err != nil || state == 'Z' || state == 'X' {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
}
