package runtime

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ExecOpts are the options of `exec`.
type ExecOpts struct {
	Process       *specs.Process
	ConsoleSocket string
	Console       func(*os.File) error
	PidFile       string
	PreserveFDs   int
	IO            IO
	// Launch, when set, starts the intermediate process (see Launcher).
	Launch Launcher
	// Ready, when set, is called once the process has joined the
	// container, just before it is told to run its program: a caller that
	// must be attached to the program's output waits there, so that its
	// attaching overlaps the join. An error stops the exec.
	Ready func() error
}

// Exec starts another process in a running container and returns its PID
// once the program has been executed. The process is a child of the
// caller only if the caller is a child subreaper (it is re-parented when
// the intermediate process exits); `berth runtime exec` without --detach
// makes itself one and waits.
func (r *Runtime) Exec(id string, opts ExecOpts) (int, error) {
	st, err := r.Load(id)
	if err != nil {
		return 0, err
	}
	if st.Status != Running {
		return 0, errorf(errdefs.ErrFailedPrecondition, "cannot exec in a container that is %s", st.Status)
	}
	p := opts.Process
	if err := validateProcess(p); err != nil {
		return 0, errorf(errdefs.ErrInvalidArgument, "invalid process: %v", err)
	}
	if p.Terminal && opts.ConsoleSocket == "" && opts.Console == nil {
		return 0, errorf(errdefs.ErrInvalidArgument, "process.terminal is set but no --console-socket was given")
	}
	cg, err := st.cgroup()
	if err != nil {
		return 0, err
	}
	es, err := r.execSpecOf(st)
	if err != nil {
		return 0, err
	}
	spec := es.spec
	cfg := &initConfig{
		Exec:          true,
		ID:            id,
		Bundle:        st.Bundle,
		Spec:          spec,
		Process:       p,
		PreserveFDs:   opts.PreserveFDs,
		SeccompFilter: es.filter,
	}
	if cfg.plan, err = execPlan(cfg, p, spec); err != nil {
		return 0, err
	}
	if cfg.plan == nil {
		// The Go init gets only what it needs of the container's spec
		// for exec: the personality, and the seccomp filter compiled
		// here. Decoding the whole spec costs a fresh process about a
		// millisecond.
		execSpec := &specs.Spec{}
		if spec.Linux != nil && spec.Linux.Personality != nil {
			execSpec.Linux = &specs.Linux{Personality: spec.Linux.Personality}
		}
		if cfg.RawSpec, err = json.Marshal(execSpec); err != nil {
			return 0, err
		}
	}
	parent, child, err := newSocketPair()
	if err != nil {
		return 0, err
	}
	defer parent.Close()
	sock := syncSocket{parent}
	// the namespace descriptors follow the sync socket (fd 3+preserve)
	join, nsFiles, err := execJoin(st.Pid, st.StartTime, 4+opts.PreserveFDs)
	if err != nil {
		child.Close()
		return 0, err
	}
	defer closeFiles(nsFiles) // the intermediate process has its own copies
	c, err := initCommand(opts.IO, opts.PreserveFDs, child, nil, nsFiles...)
	if err != nil {
		child.Close()
		return 0, err
	}
	if cfg.plan != nil {
		c.Env = append(c.Env, "_BERTH_EXEC=plan")
	}
	cmd, err := launch(opts.Launch, c)
	child.Close()
	if err != nil {
		return 0, fmt.Errorf("start exec: %w", err)
	}
	if err := sendNamespaces(sock, 0, join, nil); err != nil {
		cmd.Kill()
		cmd.Wait()
		return 0, err
	}
	pid, err := r.handshake(sock, cmd, func() (map[string]string, error) { return cg.Paths(), nil }, nil)
	if err != nil {
		return 0, err
	}
	if opts.Ready != nil {
		if err := opts.Ready(); err != nil {
			return 0, err // the process reads end of file and exits
		}
	}
	if err := sendConfig(sock, cfg); err != nil {
		return 0, err
	}
	if err := r.converse(sock, cfg, st, opts.ConsoleSocket, opts.Console); err != nil {
		return 0, err
	}
	if opts.PidFile != "" {
		if err := writePidFile(opts.PidFile, pid); err != nil {
			return pid, err
		}
	}
	return pid, nil
}

// execSpec is what every exec in a container needs of its spec: the spec
// (personality, and the profile) and the compiled seccomp filter. Neither
// changes after create, and decoding the one and compiling the other took
// about half a millisecond of each exec (healthchecks run one every
// interval), so the runtime keeps them for the container's life.
type execSpec struct {
	start  uint64 // the init's start time: a new container may reuse the ID
	spec   *specs.Spec
	filter []byte
}

func (r *Runtime) execSpecOf(st *State) (execSpec, error) {
	r.execMu.Lock()
	es, ok := r.execSpecs[st.ID]
	r.execMu.Unlock()
	if ok && es.start == st.StartTime {
		return es, nil
	}
	spec, err := r.Spec(st)
	if err != nil {
		return execSpec{}, err
	}
	var cfg initConfig
	if _, err := compileSeccomp(&cfg, spec); err != nil {
		return execSpec{}, err
	}
	es = execSpec{start: st.StartTime, spec: spec, filter: cfg.SeccompFilter}
	r.execMu.Lock()
	if r.execSpecs == nil {
		r.execSpecs = map[string]execSpec{}
	}
	r.execSpecs[st.ID] = es
	r.execMu.Unlock()
	return es, nil
}

// forgetExecSpec drops what execSpecOf kept of a deleted container.
func (r *Runtime) forgetExecSpec(id string) {
	r.execMu.Lock()
	delete(r.execSpecs, id)
	r.execMu.Unlock()
}
