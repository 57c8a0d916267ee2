package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Status is a container's lifecycle state as the OCI runtime spec names it,
// plus "paused" as runc reports it.
type Status string

const (
	Creating Status = "creating"
	Created  Status = "created"
	Running  Status = "running"
	Paused   Status = "paused"
	Stopped  Status = "stopped"
)

const stateVersion = 1

// State is what the runtime records about a container in state.json. The
// first fields match runc's `state` output.
type State struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      Status            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations,omitempty"`

	// berth's own fields.
	Version     int               `json:"berthStateVersion"`
	StartTime   uint64            `json:"initStartTime"`
	CgroupPaths map[string]string `json:"cgroupPaths,omitempty"`
	// Hooks are kept here, the rest of the spec in config.json beside this
	// file: most commands need only the state, and decoding a whole spec
	// costs more than the rest of `state` put together.
	Hooks *specs.Hooks `json:"hooks,omitempty"`

	spec *specs.Spec
}

// Spec returns the container's configuration, read on first use.
func (r *Runtime) Spec(st *State) (*specs.Spec, error) {
	if st.spec != nil {
		return st.spec, nil
	}
	data, err := os.ReadFile(filepath.Join(r.dir(st.ID), "config.json"))
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", st.ID, err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("container %s: corrupt config.json: %w", st.ID, err)
	}
	st.spec = &s
	return st.spec, nil
}

func (r *Runtime) saveSpec(id string, s *specs.Spec) error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return r.saveRawSpec(id, data)
}

func (r *Runtime) saveRawSpec(id string, data []byte) error {
	return atomicWrite(filepath.Join(r.dir(id), "config.json"), data)
}

// ValidateID checks a container ID the way runc does: letters, digits and
// "_+-.", not "." or "..", so that it is always a plain directory name.
func ValidateID(id string) error {
	ok := id != "" && id != "." && id != ".." && len(id) <= 1024
	for _, c := range id {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '_' || c == '+' || c == '-' || c == '.':
		default:
			ok = false
		}
	}
	if !ok {
		return errorf(errdefs.ErrInvalidArgument, "invalid container id %q", id)
	}
	return nil
}

func (r *Runtime) dir(id string) string { return filepath.Join(r.Root, id) }

func (r *Runtime) saveState(st *State) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return atomicWrite(filepath.Join(r.dir(st.ID), "state.json"), data)
}

// atomicWrite writes a file through a temporary file in the same directory
// and a rename, so a reader (or a crash) never sees half of it.
func atomicWrite(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Load reads a container's state and fills in its current status.
func (r *Runtime) Load(id string) (*State, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(r.dir(id), "state.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, errorf(errdefs.ErrNotFound, "container %s does not exist", id)
	}
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("container %s: corrupt state: %w", id, err)
	}
	st.Status = r.status(&st)
	return &st, nil
}

// status derives the lifecycle state from the live system.
func (r *Runtime) status(st *State) Status {
	if st.Pid <= 0 || !processAlive(st.Pid, st.StartTime) {
		return Stopped
	}
	if _, err := os.Lstat(filepath.Join(r.dir(st.ID), startSocketName)); err == nil {
		return Created
	}
	if cg, err := st.cgroup(); err == nil {
		if frozen, _ := cg.Frozen(); frozen {
			return Paused
		}
	}
	return Running
}
