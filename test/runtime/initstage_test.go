package runtime_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// TestInitStage checks which init builds a created container. For a spec
// nsenter/initstage.c can carry out, the container's process never
// starts the Go runtime: it waits for `start` with one thread. The Go
// init (several threads) builds it when BERTH_INIT_STAGE=go asks for it,
// which is how CI runs this suite a second time, or when the spec needs
// what only the Go init does (a hook). Either way the program then runs.
func TestInitStage(t *testing.T) {
	goByDefault := os.Getenv("BERTH_INIT_STAGE") == "go"
	for name, tc := range map[string]struct {
		env    []string
		mutate func(*specs.Spec)
		goInit bool
	}{
		"default":              {goInit: goByDefault},
		"BERTH_INIT_STAGE=go":  {env: []string{"BERTH_INIT_STAGE=go"}, goInit: true},
		"createContainer hook": {mutate: func(s *specs.Spec) { s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: "/bin/true"}}} }, goInit: true},
		"user namespace":       {goInit: true},
		"a device":             {mutate: withDevice, goInit: goByDefault},
	} {
		t.Run(name, func(t *testing.T) {
			r := newRT(t)
			r.env = tc.env
			out := t.TempDir()
			traversable(t, out)
			assert.NilError(t, os.Chmod(out, 0o777))
			mutate := []func(*specs.Spec){withMounts(specs.Mount{Destination: "/out", Type: "bind", Source: out, Options: []string{"rbind", "rw"}})}
			if tc.mutate != nil {
				mutate = append(mutate, tc.mutate)
			}
			script := "echo ran > /out/ran"
			b := sh(t, script, mutate...)
			if name == "user namespace" {
				b = userNSBundle(t, script, mutate...)
			}
			id := containerID(t)
			r.ok("create", "--bundle", b, id)
			var st struct{ Pid int }
			assert.NilError(t, json.Unmarshal([]byte(r.ok("state", id)), &st))
			tasks, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(st.Pid), "task"))
			assert.NilError(t, err)
			if tc.goInit {
				assert.Check(t, len(tasks) > 1, "the Go init has threads; %d", len(tasks))
			} else {
				assert.Check(t, is.Len(tasks, 1), "initstage.c has one thread")
			}
			r.ok("start", id)
			r.waitStatus(id, "stopped")
			ran, err := os.ReadFile(filepath.Join(out, "ran"))
			assert.NilError(t, err)
			assert.Check(t, is.Equal(string(ran), "ran\n"))
		})
	}
}

func withDevice(s *specs.Spec) {
	s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{Path: "/dev/mynull", Type: "c", Major: 1, Minor: 3})
}
