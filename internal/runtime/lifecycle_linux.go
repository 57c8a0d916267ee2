package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/berth-project/berth/internal/runtime/cgroup"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func (st *State) cgroup() (*cgroup.Manager, error) {
	return cgroup.Load(st.CgroupPaths, nil)
}

// Start runs the user's program in a created container.
func (r *Runtime) Start(id string) error {
	t0 := time.Now()
	defer func() { r.Log.Debug("start: done", "id", id, "elapsed", time.Since(t0)) }()
	st, err := r.Load(id)
	if err != nil {
		return err
	}
	if st.Status != Created {
		return errorf(errdefs.ErrFailedPrecondition, "cannot start a container that has %s", stoppedOr(st.Status))
	}
	dir := r.dir(id)
	conn, err := dialStart(dir)
	if err != nil {
		return fmt.Errorf("start container %s: %w", id, err)
	}
	defer conn.Close()
	os.Remove(filepath.Join(dir, startSocketName))
	// init closes the connection by executing the program; anything it
	// writes first is an error.
	msg, _ := io.ReadAll(conn)
	if len(msg) > 0 {
		return StartFailure(msg)
	}
	if err := runStateHooks("poststart", hooksOf(&specs.Spec{Hooks: st.Hooks}).Poststart, st, Running); err != nil {
		r.Log.Warn("poststart hook failed", "id", id, "err", err)
		return err
	}
	return nil
}

// StartFailure is the error of a start whose init wrote msg instead of
// executing the program. berth's C constructor, which starts containers
// without the Go runtime when it can (internal/runtime/nsenter), hands
// such a message over to the Go runtime for this.
func StartFailure(msg []byte) error {
	if m, err := parseMessage(msg); err == nil && m.Error != "" {
		return errors.New(m.Error)
	}
	return errors.New(string(msg))
}

func stoppedOr(s Status) string {
	if s == Stopped {
		return "stopped"
	}
	return "already been started"
}

// Kill sends a signal to the container's init, or with all to every process
// in its cgroup.
func (r *Runtime) Kill(id string, sig unix.Signal, all bool) error {
	st, err := r.Load(id)
	if err != nil {
		return err
	}
	if st.Status == Stopped {
		return errorf(errdefs.ErrFailedPrecondition, "container %s is not running", id)
	}
	if all {
		cg, err := st.cgroup()
		if err != nil {
			return err
		}
		pids, err := cg.Pids()
		if err != nil {
			return err
		}
		for _, p := range pids {
			unix.Kill(p, sig)
		}
		if sig == unix.SIGKILL && st.Status == Paused {
			cg.Thaw()
		}
		return nil
	}
	if err := unix.Kill(st.Pid, sig); err != nil {
		return fmt.Errorf("kill container %s: %w", id, err)
	}
	if sig == unix.SIGKILL && st.Status == Paused {
		// A frozen process only dies once thawed.
		if cg, err := st.cgroup(); err == nil {
			cg.Thaw()
		}
	}
	return nil
}

// Delete removes a stopped (or, with force, any) container: its processes,
// cgroup and state; then runs the poststop hooks.
func (r *Runtime) Delete(id string, force bool) error {
	_, err := r.DeleteOOMKilled(id, force)
	return err
}

// DeleteOOMKilled is Delete that also says whether the kernel's OOM
// killer killed a process of the container during its run: its cgroup
// counts them until it is removed here.
func (r *Runtime) DeleteOOMKilled(id string, force bool) (oomKilled bool, _ error) {
	t0 := time.Now()
	defer func() { r.Log.Debug("delete: done", "id", id, "elapsed", time.Since(t0)) }()
	r.forgetExecSpec(id)
	st, err := r.Load(id)
	if err != nil {
		if errdefs.IsNotFound(err) && force {
			// A create that was killed before it saved the state leaves
			// a directory without state.json: nothing else is known of it.
			return false, os.RemoveAll(r.dir(id))
		}
		return false, err
	}
	cg, cgErr := st.cgroup()
	switch st.Status {
	case Stopped:
	case Created:
		// The program never ran: nothing of the user's is lost.
		r.killAll(st, cg)
	default:
		if !force {
			return false, errorf(errdefs.ErrFailedPrecondition, "cannot delete container %s that is not stopped: %s", id, st.Status)
		}
		r.killAll(st, cg)
	}
	if cgErr == nil {
		if n, err := cg.OOMKillCount(); err == nil {
			oomKilled = n > 0
		}
		if err := cg.Destroy(); err != nil {
			return oomKilled, fmt.Errorf("remove cgroup of %s: %w", id, err)
		}
	}
	if err := os.RemoveAll(r.dir(id)); err != nil {
		return oomKilled, err
	}
	if err := runStateHooks("poststop", hooksOf(&specs.Spec{Hooks: st.Hooks}).Poststop, st, Stopped); err != nil {
		r.Log.Warn("poststop hook failed", "id", id, "err", err)
	}
	return oomKilled, nil
}

func (r *Runtime) killAll(st *State, cg *cgroup.Manager) {
	if cg != nil {
		if pids, err := cg.Pids(); err == nil {
			for _, p := range pids {
				unix.Kill(p, unix.SIGKILL)
			}
		}
		cg.Thaw()
	}
	if processAlive(st.Pid, st.StartTime) {
		unix.Kill(st.Pid, unix.SIGKILL)
	}
	waitGone(st.Pid, 5*time.Second)
	if cg != nil {
		// Wait for the cgroup to empty so it can be removed.
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			pids, err := cg.Pids()
			if err != nil || len(pids) == 0 {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// List returns the state of every container under the root, by ID.
func (r *Runtime) List() ([]*State, error) {
	entries, err := os.ReadDir(r.Root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*State
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		st, err := r.Load(e.Name())
		if err != nil {
			continue
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Pause freezes every process of a running container.
func (r *Runtime) Pause(id string) error {
	st, cg, err := r.loadRunning(id)
	if err != nil {
		return err
	}
	if st.Status != Running {
		return errorf(errdefs.ErrFailedPrecondition, "container %s is not running", id)
	}
	return cg.Freeze()
}

// Resume thaws a paused container.
func (r *Runtime) Resume(id string) error {
	st, cg, err := r.loadRunning(id)
	if err != nil {
		return err
	}
	if st.Status != Paused {
		return errorf(errdefs.ErrFailedPrecondition, "container %s is not paused", id)
	}
	return cg.Thaw()
}

// Pids lists the processes in the container's cgroup.
func (r *Runtime) Pids(id string) ([]int, error) {
	_, cg, err := r.loadRunning(id)
	if err != nil {
		return nil, err
	}
	return cg.Pids()
}

// Update changes the resource limits of a live container and records them.
func (r *Runtime) Update(id string, res *specs.LinuxResources) error {
	st, cg, err := r.loadRunning(id)
	if err != nil {
		return err
	}
	live := res
	if len(res.Devices) > 0 {
		// Device rules replace the ones in force: keep the defaults.
		live = withDefaultDevices(res)
	}
	if err := cg.Set(live); err != nil {
		return fmt.Errorf("update container %s: %w", id, err)
	}
	spec, err := r.Spec(st)
	if err != nil {
		return err
	}
	spec.Linux.Resources = res
	return r.saveSpec(id, spec)
}

// Stats reads the container's cgroup statistics.
func (r *Runtime) Stats(id string) (*cgroups.Stats, error) {
	_, cg, err := r.loadRunning(id)
	if err != nil {
		return nil, err
	}
	return cg.Stats()
}

func (r *Runtime) loadRunning(id string) (*State, *cgroup.Manager, error) {
	st, err := r.Load(id)
	if err != nil {
		return nil, nil, err
	}
	if st.Status == Stopped {
		return nil, nil, errorf(errdefs.ErrFailedPrecondition, "container %s is not running", id)
	}
	cg, err := st.cgroup()
	if err != nil {
		return nil, nil, err
	}
	return st, cg, nil
}
