package runtime_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// withResources sets the container's resources, keeping the default
// device rules.
func withResources(set func(*specs.LinuxResources)) func(*specs.Spec) {
	return func(s *specs.Spec) {
		if s.Linux.Resources == nil {
			s.Linux.Resources = &specs.LinuxResources{}
		}
		set(s.Linux.Resources)
	}
}

// TestCgroupLimits sets limits and reads them back from the container's
// own cgroup files (this host is a cgroup v1 hybrid, and the container has
// a cgroup namespace, so its cgroup is at /sys/fs/cgroup/<controller>).
func TestCgroupLimits(t *testing.T) {
	tests := []struct {
		name string
		set  func(*specs.LinuxResources)
		want map[string]string // file under /sys/fs/cgroup → content
	}{
		{
			name: "memory",
			set: func(r *specs.LinuxResources) {
				r.Memory = &specs.LinuxMemory{Limit: ptr(int64(16 << 20)), Swap: ptr(int64(32 << 20)), Reservation: ptr(int64(8 << 20))}
			},
			want: map[string]string{
				"memory/memory.limit_in_bytes":       "16777216",
				"memory/memory.memsw.limit_in_bytes": "33554432",
				"memory/memory.soft_limit_in_bytes":  "8388608",
			},
		},
		{
			name: "cpu",
			set: func(r *specs.LinuxResources) {
				r.CPU = &specs.LinuxCPU{Shares: ptr(uint64(512)), Quota: ptr(int64(50000)), Period: ptr(uint64(100000))}
			},
			want: map[string]string{
				"cpu/cpu.shares":        "512",
				"cpu/cpu.cfs_quota_us":  "50000",
				"cpu/cpu.cfs_period_us": "100000",
			},
		},
		{
			name: "cpuset",
			set:  func(r *specs.LinuxResources) { r.CPU = &specs.LinuxCPU{Cpus: "0", Mems: "0"} },
			want: map[string]string{"cpuset/cpuset.cpus": "0", "cpuset/cpuset.mems": "0"},
		},
		{
			name: "pids",
			set:  func(r *specs.LinuxResources) { r.Pids = &specs.LinuxPids{Limit: ptr(int64(42))} },
			want: map[string]string{"pids/pids.max": "42"},
		},
		{
			name: "blkio throttle",
			set: func(r *specs.LinuxResources) {
				r.BlockIO = &specs.LinuxBlockIO{
					ThrottleReadBpsDevice:   []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 254, Minor: 0}, Rate: 1 << 20}},
					ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 254, Minor: 0}, Rate: 100}},
				}
			},
			want: map[string]string{
				"blkio/blkio.throttle.read_bps_device":   "254:0 1048576",
				"blkio/blkio.throttle.write_iops_device": "254:0 100",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRT(t)
			var files []string
			for f := range tc.want {
				files = append(files, f)
			}
			script := ""
			for _, f := range files {
				script += "echo \"" + f + "=$(cat /sys/fs/cgroup/" + f + ")\"\n"
			}
			res := r.run(sh(t, script, withResources(tc.set)))
			assert.Equal(t, res.code, 0, res)
			got := map[string]string{}
			for _, l := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
				k, v, _ := strings.Cut(l, "=")
				got[k] = v
			}
			assert.Check(t, is.DeepEqual(got, tc.want), res)
		})
	}
}

// TestBlkioWeight sets a proportional block I/O weight. On this host the
// file is blkio.bfq.weight (BFQ scheduler); with CFQ it is blkio.weight.
// Only non-root cgroups have it.
func TestBlkioWeight(t *testing.T) {
	r := newRT(t)
	res := r.run(sh(t, `cat /sys/fs/cgroup/blkio/blkio.bfq.weight 2>/dev/null || cat /sys/fs/cgroup/blkio/blkio.weight`,
		withResources(func(r *specs.LinuxResources) {
			r.BlockIO = &specs.LinuxBlockIO{Weight: ptr(uint16(300))}
		})))
	assert.Equal(t, res.code, 0, res)
	assert.Check(t, is.Equal(res.stdout, "300\n"), res)
}

// TestMemoryLimitOOM runs a memory hog under a 16 MiB limit: the kernel
// kills it, and run reports 137 (128 + SIGKILL).
func TestMemoryLimitOOM(t *testing.T) {
	r := newRT(t)
	b := sh(t, "", withResources(func(r *specs.LinuxResources) {
		r.Memory = &specs.LinuxMemory{Limit: ptr(int64(16 << 20)), Swap: ptr(int64(16 << 20))}
	}), func(s *specs.Spec) {
		// tail buffers a "line" of /dev/zero that never ends.
		s.Process.Args = []string{"tail", "/dev/zero"}
	})
	res := r.run(b)
	assert.Check(t, is.Equal(res.code, 137), res)
}

// TestPidsLimit runs a fork loop under a limit of 5 processes.
func TestPidsLimit(t *testing.T) {
	r := newRT(t)
	res := r.run(sh(t, `for i in $(seq 20); do sleep 1 & done; echo forked`, withResources(func(r *specs.LinuxResources) {
		r.Pids = &specs.LinuxPids{Limit: ptr(int64(5))}
	})))
	assert.Check(t, is.Contains(res.stderr, "can't fork"), res)
}

// TestPauseResume freezes and thaws a running container.
func TestPauseResume(t *testing.T) {
	r := newRT(t)
	b := sh(t, `while :; do sleep 0.05; done`)
	id := r.started(b)
	freezer := filepath.Join(cgroupDir(t, b, "freezer"), "freezer.state")

	r.ok("pause", id)
	assert.Check(t, is.Contains(r.ok("state", id), `"status": "paused"`))
	data, err := os.ReadFile(freezer)
	assert.NilError(t, err)
	assert.Check(t, is.Equal(string(data), "FROZEN\n"))
	assert.Check(t, is.Contains(r.ok("list"), "paused"))

	r.ok("resume", id)
	assert.Check(t, is.Contains(r.ok("state", id), `"status": "running"`))
	data, err = os.ReadFile(freezer)
	assert.NilError(t, err)
	assert.Check(t, is.Equal(string(data), "THAWED\n"))
	res := r.exec(id, "echo", "alive")
	assert.Check(t, is.Equal(res.stdout, "alive\n"), res)

	res = r.cmd("", "resume", id)
	assertOneLineError(t, res, "not paused")
}

// TestUpdate changes the limits of a running container, with flags and
// with a resources file; fields the update leaves out keep their values.
func TestUpdate(t *testing.T) {
	r := newRT(t)
	b := sh(t, `sleep 1000`, withResources(func(r *specs.LinuxResources) {
		r.Memory = &specs.LinuxMemory{Limit: ptr(int64(16 << 20))}
		r.Pids = &specs.LinuxPids{Limit: ptr(int64(100))}
	}))
	id := r.started(b)
	read := func(controller, file string) string {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(cgroupDir(t, b, controller), file))
		assert.NilError(t, err)
		return strings.TrimSpace(string(data))
	}

	r.ok("update", "--memory", "32m", id)
	assert.Check(t, is.Equal(read("memory", "memory.limit_in_bytes"), "33554432"))
	res := r.exec(id, "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes")
	assert.Check(t, is.Equal(res.stdout, "33554432\n"), res)
	assert.Check(t, is.Equal(read("pids", "pids.max"), "100"))

	resources := filepath.Join(t.TempDir(), "resources.json")
	assert.NilError(t, os.WriteFile(resources, []byte(`{"pids": {"limit": 42}, "cpu": {"shares": 256}}`), 0o644))
	r.ok("update", "-r", resources, id)
	assert.Check(t, is.Equal(read("pids", "pids.max"), "42"))
	assert.Check(t, is.Equal(read("cpu", "cpu.shares"), "256"))
	assert.Check(t, is.Equal(read("memory", "memory.limit_in_bytes"), "33554432"))

}

// TestPs lists the container's processes.
func TestPs(t *testing.T) {
	r := newRT(t)
	id := r.started(sh(t, `sleep 998 & sleep 999`))
	initPid := statePid(t, r, id)

	var pids []int
	out := r.ok("ps", "--format", "json", id)
	assert.NilError(t, json.Unmarshal([]byte(out), &pids), out)
	assert.Check(t, is.Len(pids, 2), out)
	assert.Check(t, is.Contains(pids, initPid))
	for _, p := range pids {
		cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/cmdline")
		assert.NilError(t, err)
		assert.Check(t, strings.HasPrefix(string(cmdline), "sleep\x00"), "pid %d: %q", p, cmdline)
	}

	table := strings.Split(strings.TrimSpace(r.ok("ps", id)), "\n")
	assert.Assert(t, len(table) == 3, "ps: %q", table)
	assert.Check(t, is.Contains(strings.Fields(table[0]), "PID"))
	for _, l := range table[1:] {
		assert.Check(t, is.Contains(l, " sleep 99"))
	}
}

// TestDeviceRules checks the device cgroup. The runtime always allows the
// default devices (null, zero, full, random, urandom, tty, ptmx, pts,
// tun), after the spec's rules, as runc does; other devices follow the
// spec's rules. /dev/fuse is opened because opening it needs no
// capability.
func TestDeviceRules(t *testing.T) {
	tests := []struct {
		name  string
		rules []specs.LinuxDeviceCgroup
		want  string
	}{
		{
			name:  "deny all",
			rules: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
			want:  "fuse: Operation not permitted\nzero ok\nnull ok\n",
		},
		{
			name: "deny all, allow fuse",
			rules: []specs.LinuxDeviceCgroup{
				{Allow: false, Access: "rwm"},
				{Allow: true, Type: "c", Major: ptr(int64(10)), Minor: ptr(int64(229)), Access: "rw"},
			},
			want: "fuse ok\nzero ok\nnull ok\n",
		},
		{
			name: "deny all, allow fuse read-only",
			rules: []specs.LinuxDeviceCgroup{
				{Allow: false, Access: "rwm"},
				{Allow: true, Type: "c", Major: ptr(int64(10)), Minor: ptr(int64(229)), Access: "r"},
			},
			want: "fuse: Operation not permitted\nzero ok\nnull ok\n",
		},
		{
			name:  "deny null and zero",
			rules: []specs.LinuxDeviceCgroup{{Allow: false, Type: "c", Major: ptr(int64(1)), Access: "rwm"}},
			want:  "fuse: Operation not permitted\nzero ok\nnull ok\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRT(t)
			res := r.run(sh(t, `exec 2>&1
(exec 3<>/dev/fuse) 2>/dev/null && echo fuse ok || echo "fuse: $( (exec 3<>/dev/fuse) 2>&1 | sed 's/.*: //')"
head -c1 /dev/zero >/dev/null && echo zero ok
echo x >/dev/null && echo null ok`, func(s *specs.Spec) {
				s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229, FileMode: ptr(os.FileMode(0o666))})
				s.Linux.Resources = &specs.LinuxResources{Devices: tc.rules}
			}))
			assert.Check(t, is.Equal(res.stdout, tc.want), res)
		})
	}
}

// TestUpdateKeepsDefaultDevices updates a container whose spec denies all
// devices (the default spec): the devices the runtime always allows (null,
// zero, ...) must stay usable, as they do with runc.
func TestUpdateKeepsDefaultDevices(t *testing.T) {
	r := newRT(t)
	id := r.started(sh(t, `sleep 1000`, withResources(func(r *specs.LinuxResources) {
		r.Memory = &specs.LinuxMemory{Limit: ptr(int64(16 << 20))}
	})))
	script := "echo x > /dev/null && head -c 3 /dev/zero | wc -c"
	res := r.exec(id, "sh", "-c", script)
	assert.Assert(t, is.Equal(res.stdout, "3\n"), res)

	r.ok("update", "--memory", "32m", id)
	res = r.exec(id, "sh", "-c", script)
	assert.Check(t, is.Equal(res.stdout, "3\n"), res)
}

// TestKillPaused sends SIGKILL to a paused container's init. On cgroup v1
// a frozen process only dies once thawed, so the runtime thaws the cgroup
// after sending SIGKILL, as runc does; the container then stops.
func TestKillPaused(t *testing.T) {
	r := newRT(t)
	id := r.started(sh(t, `sleep 1000`))
	r.ok("pause", id)
	r.ok("kill", id, "KILL")
	r.waitStatus(id, "stopped")
}
