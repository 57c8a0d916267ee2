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
	Spec        *specs.Spec       `json:"spec"`
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
		return fmt.Errorf("invalid container id %q: %w", id, errdefs.ErrInvalidArgument)
	}
	return nil
}

func (r *Runtime) dir(id string) string { return filepath.Join(r.Root, id) }

func (r *Runtime) saveState(st *State) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	dir := r.dir(st.ID)
	tmp, err := os.CreateTemp(dir, ".state-")
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
	return os.Rename(tmp.Name(), filepath.Join(dir, "state.json"))
}

// Load reads a container's state and fills in its current status.
func (r *Runtime) Load(id string) (*State, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(r.dir(id), "state.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("container %s does not exist: %w", id, errdefs.ErrNotFound)
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
