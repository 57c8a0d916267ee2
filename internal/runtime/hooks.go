package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// runHooks runs OCI hooks in order, each with the container's state on its
// standard input, as the runtime spec's "POSIX-platform Hooks" section says.
// The first failure stops the sequence.
func runHooks(kind string, hooks []specs.Hook, state []byte) error {
	for _, h := range hooks {
		if err := runHook(h, state); err != nil {
			return fmt.Errorf("%s hook %s: %w", kind, h.Path, err)
		}
	}
	return nil
}

// runStateHooks runs hooks with st's state as status, encoding the state
// only if there is a hook to read it.
func runStateHooks(kind string, hooks []specs.Hook, st *State, status Status) error {
	if len(hooks) == 0 {
		return nil
	}
	return runHooks(kind, hooks, hookState(st, status))
}

func runHook(h specs.Hook, state []byte) error {
	ctx := context.Background()
	if h.Timeout != nil && *h.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, h.Path)
	cmd.Args = h.Args
	if len(cmd.Args) == 0 {
		cmd.Args = []string{h.Path}
	}
	cmd.Env = h.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Stdin = bytes.NewReader(state)
	// A hook whose children keep its output open must not hold the
	// runtime past its timeout.
	cmd.WaitDelay = time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		return fmt.Errorf("timed out after %ds", *h.Timeout)
	}
	if err != nil {
		if out.Len() > 0 {
			return fmt.Errorf("%w: %s", err, bytes.TrimSpace(out.Bytes()))
		}
		return err
	}
	return nil
}

// hookState is the JSON document hooks read on stdin.
func hookState(st *State, status Status) []byte {
	data, _ := json.Marshal(specs.State{
		Version:     specs.Version,
		ID:          st.ID,
		Status:      specs.ContainerState(status),
		Pid:         st.Pid,
		Bundle:      st.Bundle,
		Annotations: st.Annotations,
	})
	return data
}

func hooksOf(s *specs.Spec) *specs.Hooks {
	if s.Hooks == nil {
		return &specs.Hooks{}
	}
	return s.Hooks
}
