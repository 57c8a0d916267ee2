// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package oci

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"golang.org/x/sys/unix"
	"gotest.tools/v3/assert"

	"github.com/berth-project/berth/internal/runtime"
	_ "github.com/berth-project/berth/internal/runtime/nsenter"
	"github.com/berth-project/berth/internal/testutil"
)

// cgroupParent holds the cgroups of this test binary's containers.
var cgroupParent = fmt.Sprintf("/berth-oci-test-%d", os.Getpid())

// TestMain lets the test binary act as `berth init`: the runtime starts
// its own executable (this binary) as the container's first process.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		runtime.InitMain()
		return
	}
	// The container's process is re-parented to this process when the
	// runtime's intermediate process exits, so that the test can reap it.
	unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	code := m.Run()
	testutil.KillCgroup(cgroupParent)
	testutil.RemoveCgroup(cgroupParent)
	os.Exit(code)
}

// TestSpecRuns runs specs built by Spec with berth's runtime and checks,
// from inside each container, what it got.
func TestSpecRuns(t *testing.T) {
	testutil.RequiresRoot(t)
	testutil.RequiresBusybox(t)
	tests := []struct {
		name   string
		script string
		mutate func(*Input)
		want   string
	}{
		{
			name:   "user",
			script: "id",
			mutate: func(in *Input) {
				in.Config.User = "1000:1000"
				in.Host.GroupAdd = []string{"tty"}
			},
			want: "uid=1000(user) gid=1000(user) groups=5(tty),1000(user)\n",
		},
		{
			name:   "cap-drop all",
			script: "grep -E '^Cap(Eff|Bnd):' /proc/self/status",
			mutate: func(in *Input) { in.Host.CapDrop = []string{"ALL"} },
			want:   "CapEff:\t0000000000000000\nCapBnd:\t0000000000000000\n",
		},
		{
			name:   "default caps",
			script: "grep -E '^CapEff:' /proc/self/status",
			want:   "CapEff:\t00000000a80425fb\n",
		},
		{
			name:   "hostname and files",
			script: "hostname; cat /etc/hostname; echo $HOSTNAME; grep -c berthtest /etc/hosts",
			want:   "berthtest\nberthtest\nberthtest\n1\n",
		},
		{
			name:   "read-only with tmpfs",
			script: "touch /x 2>/dev/null || echo ro; touch /run/y && echo rw; grep -c . /proc/self/status >/dev/null; cat /proc/sys/net/ipv4/ip_unprivileged_port_start",
			mutate: func(in *Input) {
				in.Host.ReadonlyRootfs = true
				in.Host.Tmpfs = map[string]string{"/run": "size=1m"}
				ms, err := Mounts(in.Host, nil)
				assert.NilError(t, err)
				in.Mounts = ms
			},
			want: "ro\nrw\n0\n",
		},
		{
			name:   "limits",
			script: "ulimit -n; ulimit -Hn; grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status",
			mutate: func(in *Input) {
				in.Host.Ulimits = []*container.Ulimit{{Name: "nofile", Soft: 100, Hard: 200}}
				in.Host.PidsLimit = ptr(int64(50))
				in.Host.Memory = 64 << 20
				in.Host.SecurityOpt = []string{"no-new-privileges"}
			},
			want: "100\n200\nNoNewPrivs:\t1\nSeccomp:\t2\n",
		},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			rootfs := filepath.Join(dir, "rootfs")
			testutil.BusyboxRootfs(t, rootfs)
			for name, content := range map[string]string{
				"hostname": "berthtest\n",
				"hosts":    "127.0.0.1\tlocalhost\n127.0.1.1\tberthtest\n",
			} {
				assert.NilError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
			}
			in := Input{
				ID:           fmt.Sprintf("oci-test-%d-%d", os.Getpid(), i),
				Config:       &container.Config{Cmd: []string{"sh", "-c", tc.script}, Hostname: "berthtest"},
				Host:         &container.HostConfig{NetworkMode: "none"},
				Rootfs:       rootfs,
				HostnamePath: filepath.Join(dir, "hostname"),
				HostsPath:    filepath.Join(dir, "hosts"),
				CgroupParent: cgroupParent,
			}
			if tc.mutate != nil {
				tc.mutate(&in)
			}
			s, err := Spec(in)
			assert.NilError(t, err)
			assert.Equal(t, run(t, in.ID, s), tc.want)
		})
	}
}

// run runs spec s as container id to completion and returns its output.
func run(t *testing.T, id string, s any) string {
	t.Helper()
	bundle := t.TempDir()
	data, err := json.MarshalIndent(s, "", "\t")
	assert.NilError(t, err)
	assert.NilError(t, os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o644))
	out, err := os.Create(filepath.Join(t.TempDir(), "out"))
	assert.NilError(t, err)
	defer out.Close()

	rt := runtime.New(t.TempDir(), nil)
	st, err := rt.Create(runtime.CreateOpts{ID: id, Bundle: bundle, IO: runtime.IO{Stdin: nil, Stdout: out, Stderr: out}})
	assert.NilError(t, err)
	t.Cleanup(func() {
		if err := rt.Delete(id, true); err != nil {
			t.Logf("delete %s: %v", id, err)
		}
	})
	assert.NilError(t, rt.Start(id))
	waitExit(t, st.Pid)
	got, err := os.ReadFile(out.Name())
	assert.NilError(t, err)
	return strings.ReplaceAll(string(got), "\r\n", "\n")
}

// waitExit reaps the container's process, re-parented to this subreaper.
func waitExit(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var ws unix.WaitStatus
		wpid, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		if wpid == pid || err != nil {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("container process %d did not exit", pid)
}
