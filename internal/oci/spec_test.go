// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package oci

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/sys/capability"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/golden"
)

// fakeHost replaces the host probes with a fixed machine: 2 CPUs,
// cgroup v1, every capability the library knows, /dev/null and /dev/fuse,
// and no thermal_throttle directories.
func fakeHost(t *testing.T) {
	t.Helper()
	oldCPU, oldV2, oldAll, oldStat, oldHost, oldThermal := numCPU, cgroup2, allCaps, statDevice, hostDevices, thermalThrottlePaths
	t.Cleanup(func() {
		numCPU, cgroup2, allCaps, statDevice, hostDevices, thermalThrottlePaths = oldCPU, oldV2, oldAll, oldStat, oldHost, oldThermal
	})
	numCPU = func() int { return 2 }
	cgroup2 = func() bool { return false }
	allCaps = func() []string { return capNames(capability.ListKnown()) }
	thermalThrottlePaths = func() []string { return nil }
	devs := map[string][3]int64{"/dev/null": {1, 3, 0o666}, "/dev/fuse": {10, 229, 0o666}, "/dev/sda": {8, 0, 0o660}}
	statDevice = func(p, containerPath string) (specs.LinuxDevice, error) {
		d, ok := devs[p]
		if !ok {
			return specs.LinuxDevice{}, &os.PathError{Op: "stat", Path: p, Err: fs.ErrNotExist}
		}
		typ := "c"
		if p == "/dev/sda" {
			typ = "b"
		}
		mode, zero := fs.FileMode(d[2]), uint32(0)
		return specs.LinuxDevice{Type: typ, Path: containerPath, Major: d[0], Minor: d[1], FileMode: &mode, UID: &zero, GID: &zero}, nil
	}
	hostDevices = func() ([]specs.LinuxDevice, error) {
		var out []specs.LinuxDevice
		for _, p := range []string{"/dev/fuse", "/dev/null"} {
			d, _ := statDevice(p, p)
			out = append(out, d)
		}
		return out, nil
	}
}

// fakeRootfs makes a root filesystem with only /etc/passwd and /etc/group.
func fakeRootfs(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	assert.NilError(t, os.MkdirAll(filepath.Join(dir, "etc"), 0o755))
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\n" +
			"user:x:1000:1000:user:/home/user:/bin/sh\n" +
			"www:x:33:33:www:/var/www:/bin/false\n",
		"etc/group": "root:x:0:\ntty:x:5:\nuser:x:1000:\nwww:x:33:\naudio:x:29:user\nvideo:x:44:user,www\n",
	}
	for p, c := range files {
		assert.NilError(t, os.WriteFile(filepath.Join(dir, p), []byte(c), 0o644))
	}
	return dir
}

var busyboxImage = &ocispec.ImageConfig{
	Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
	Cmd: []string{"sh"},
}

const testID = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"

// input is `docker run -it busybox` before any flag is applied.
func input(rootfs string) Input {
	dir := "/var/lib/berth/containers/" + testID
	return Input{
		ID:             testID,
		Config:         &container.Config{Image: "busybox", Hostname: "c0ffee00c0ff", Tty: true, OpenStdin: true},
		Host:           &container.HostConfig{NetworkMode: "bridge"},
		Image:          busyboxImage,
		Rootfs:         rootfs,
		HostsPath:      dir + "/hosts",
		ResolvConfPath: dir + "/resolv.conf",
		HostnamePath:   dir + "/hostname",
		NetNSPath:      "/run/berth/netns/" + testID[:12],
		NamespacePath: func(kind, ref string) (string, error) {
			if ref != "x" {
				return "", errdefs.ErrNotFound
			}
			return "/proc/4242/ns/" + kind, nil
		},
		InitPath: "/usr/libexec/berth/docker-init",
	}
}

func ptr[T any](v T) *T { return &v }

// TestSpecGolden builds specs for realistic `docker run` flag sets and
// compares them with testdata/TestSpecGolden/<name>.golden (go test
// -update rewrites them). The seccomp syscall list, which depends on the
// kernel version, is checked for presence and left out of the files.
func TestSpecGolden(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Input)
	}{
		{"busybox-sh", func(*Input) {}},
		{"user-1000-1000", func(in *Input) { in.Config.User = "1000:1000" }},
		{"user-name-group-add", func(in *Input) {
			in.Config.User = "user"
			in.Host.GroupAdd = []string{"www", "4000"}
		}},
		{"privileged", func(in *Input) { in.Host.Privileged = true }},
		{"cap-add-net-admin-cap-drop-all", func(in *Input) {
			in.Host.CapAdd = []string{"NET_ADMIN"}
			in.Host.CapDrop = []string{"ALL"}
		}},
		{"read-only-tmpfs-run", func(in *Input) {
			in.Host.ReadonlyRootfs = true
			in.Host.Tmpfs = map[string]string{"/run": ""}
			ms, err := Mounts(in.Host, nil)
			assert.NilError(t, err)
			in.Mounts = ms
		}},
		{"memory-cpus-pids", func(in *Input) {
			in.Host.Memory = 64 << 20
			in.Host.NanoCPUs = 5e8
			in.Host.PidsLimit = ptr(int64(50))
		}},
		{"ipc-host-pid-container", func(in *Input) {
			in.Host.IpcMode = "host"
			in.Host.PidMode = "container:x"
		}},
		{"init", func(in *Input) { in.Host.Init = ptr(true) }},
		{"no-new-privileges-seccomp-unconfined", func(in *Input) {
			in.Host.SecurityOpt = []string{"no-new-privileges", "seccomp=unconfined"}
		}},
		{"ulimit-nofile", func(in *Input) {
			in.Host.Ulimits = []*container.Ulimit{{Name: "nofile", Soft: 100, Hard: 200}}
		}},
		{"device-fuse", func(in *Input) {
			in.Host.Devices = []container.DeviceMapping{{PathOnHost: "/dev/fuse", PathInContainer: "/dev/fuse", CgroupPermissions: "rwm"}}
		}},
		{"network-host-uts-host", func(in *Input) {
			in.Host.NetworkMode = "host"
			in.Host.UTSMode = "host"
		}},
		{"network-container-none-ipc", func(in *Input) {
			in.Host.NetworkMode = "container:x"
			in.Host.IpcMode = "none"
		}},
		{"entrypoint-env-workdir", func(in *Input) {
			in.Config.Entrypoint = []string{"/bin/echo"}
			in.Config.Env = []string{"FOO=bar", "PATH=/bin"}
			in.Config.WorkingDir = "/tmp/../srv"
			in.Config.Tty = false
			in.Image = &ocispec.ImageConfig{Env: []string{"FOO=image", "LANG=C.UTF-8"}, Cmd: []string{"sh"}, WorkingDir: "/app", User: "www"}
		}},
		{"volumes-sysctls-shm", func(in *Input) {
			in.Host.Binds = []string{"/srv/data:/data:ro", "cache:/var/cache"}
			in.Host.Mounts = []mount.Mount{{Type: mount.TypeTmpfs, Target: "/scratch", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 1 << 20, Mode: 0o1777}}}
			in.Host.Sysctls = map[string]string{"net.core.somaxconn": "1024", "kernel.shmmax": "1000000"}
			in.Host.ShmSize = 128 << 20
			in.Host.CgroupParent = "/custom"
			in.Host.OomScoreAdj = 500
			in.Host.Annotations = map[string]string{"org.example/owner": "team"}
			in.HostRlimitNofile = 524288
			ms, err := Mounts(in.Host, func(m mount.Mount) (string, error) {
				return "/var/lib/berth/volumes/" + m.Source + "/_data", nil
			})
			assert.NilError(t, err)
			in.Mounts = ms
		}},
		{"cgroupns-private-swap-unlimited", func(in *Input) {
			in.Host.CgroupnsMode = "private"
			in.Host.Memory = 32 << 20
			in.Host.MemorySwap = -1
			in.Host.CPUShares = 512
			in.Host.CpusetCpus = "0-1"
			in.Host.BlkioWeight = 300
			in.Host.OomKillDisable = ptr(true)
		}},
	}
	fakeHost(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := input(fakeRootfs(t))
			tc.mutate(&in)
			s, err := Spec(in)
			assert.NilError(t, err)
			s.Root.Path = "/rootfs"
			if s.Linux.Seccomp != nil {
				assert.Check(t, len(s.Linux.Seccomp.Syscalls) > 0)
				s.Linux.Seccomp.Syscalls = nil
			}
			data, err := json.MarshalIndent(s, "", "\t")
			assert.NilError(t, err)
			golden.Assert(t, string(data)+"\n", filepath.Join(t.Name(), "..", tc.name+".golden"))
		})
	}
}

// TestSpecErrors checks Docker's error texts for configurations that
// cannot run.
func TestSpecErrors(t *testing.T) {
	fakeHost(t)
	tests := []struct {
		name   string
		mutate func(*Input)
		want   string
		class  error
	}{
		{"no command", func(in *Input) { in.Image = nil }, "No command specified", errdefs.ErrInvalidArgument},
		{"empty entrypoint drops image cmd", func(in *Input) { in.Config.Entrypoint = []string{""} }, "No command specified", errdefs.ErrInvalidArgument},
		{"security opt without value", func(in *Input) { in.Host.SecurityOpt = []string{"foo"} }, `invalid --security-opt 1: "foo"`, errdefs.ErrInvalidArgument},
		{"unknown security opt", func(in *Input) { in.Host.SecurityOpt = []string{"foo=bar"} }, `invalid --security-opt 2: "foo=bar"`, errdefs.ErrInvalidArgument},
		{"bad no-new-privileges", func(in *Input) { in.Host.SecurityOpt = []string{"no-new-privileges=maybe"} }, `invalid --security-opt 2: "no-new-privileges=maybe"`, errdefs.ErrInvalidArgument},
		{"bad seccomp json", func(in *Input) { in.Host.SecurityOpt = []string{"seccomp={"} }, "Decoding seccomp profile failed: unexpected end of JSON input", errdefs.ErrInvalidArgument},
		{"memory too small", func(in *Input) { in.Host.Memory = 4 << 20 }, "Minimum memory limit allowed is 6MB", errdefs.ErrInvalidArgument},
		{"swap below memory", func(in *Input) {
			in.Host.Memory = 64 << 20
			in.Host.MemorySwap = 32 << 20
		}, "Minimum memoryswap limit should be larger than memory limit, see usage", errdefs.ErrInvalidArgument},
		{"swap without memory", func(in *Input) { in.Host.MemorySwap = 64 << 20 }, "You should always set the Memory limit when using Memoryswap limit, see usage", errdefs.ErrInvalidArgument},
		{"reservation above memory", func(in *Input) {
			in.Host.Memory = 64 << 20
			in.Host.MemoryReservation = 128 << 20
		}, "Minimum memory limit can not be less than memory reservation limit, see usage", errdefs.ErrInvalidArgument},
		{"too many cpus", func(in *Input) { in.Host.NanoCPUs = 3e9 }, "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available", errdefs.ErrInvalidArgument},
		{"cpus and period", func(in *Input) {
			in.Host.NanoCPUs = 1e9
			in.Host.CPUPeriod = 50000
		}, "Conflicting options: Nano CPUs and CPU Period cannot both be set", errdefs.ErrInvalidArgument},
		{"cpus and quota", func(in *Input) {
			in.Host.NanoCPUs = 1e9
			in.Host.CPUQuota = 50000
		}, "Conflicting options: Nano CPUs and CPU Quota cannot both be set", errdefs.ErrInvalidArgument},
		{"cpu period", func(in *Input) { in.Host.CPUPeriod = 10 }, "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)", errdefs.ErrInvalidArgument},
		{"cpuset", func(in *Input) { in.Host.CpusetCpus = "0-x" }, "Invalid value 0-x for cpuset cpus: invalid format: 0-x", errdefs.ErrInvalidArgument},
		{"blkio weight", func(in *Input) { in.Host.BlkioWeight = 5 }, "Range of blkio weight is from 10 to 1000", errdefs.ErrInvalidArgument},
		{"swappiness", func(in *Input) { in.Host.MemorySwappiness = ptr(int64(101)) }, "Invalid value: 101, valid memory swappiness range is 0-100", errdefs.ErrInvalidArgument},
		{"oom score", func(in *Input) { in.Host.OomScoreAdj = 1001 }, "Invalid value 1001, range for oom score adj is [-1000, 1000]", errdefs.ErrInvalidArgument},
		{"ulimit soft above hard", func(in *Input) {
			in.Host.Ulimits = []*container.Ulimit{{Name: "nofile", Soft: 200, Hard: 100}}
		}, "invalid ulimit nofile=200:100: ulimit soft limit must be less than or equal to hard limit: 200 > 100", errdefs.ErrInvalidArgument},
		{"ulimit type", func(in *Input) {
			in.Host.Ulimits = []*container.Ulimit{{Name: "nofiles", Soft: 1, Hard: 1}}
		}, "invalid ulimit nofiles=1:1: invalid ulimit type: nofiles", errdefs.ErrInvalidArgument},
		{"unknown capability", func(in *Input) { in.Host.CapAdd = []string{"FOO"} }, `unknown capability: "CAP_FOO"`, errdefs.ErrInvalidArgument},
		{"restart policy", func(in *Input) { in.Host.RestartPolicy = container.RestartPolicy{Name: "sometimes"} }, "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'", errdefs.ErrInvalidArgument},
		{"auto remove with restart", func(in *Input) {
			in.Host.AutoRemove = true
			in.Host.RestartPolicy = container.RestartPolicy{Name: "always"}
		}, "can't create 'AutoRemove' container with restart policy", errdefs.ErrInvalidArgument},
		{"ipc mode", func(in *Input) { in.Host.IpcMode = "bogus" }, "invalid IPC mode: bogus", errdefs.ErrInvalidArgument},
		{"pid mode", func(in *Input) { in.Host.PidMode = "container:" }, "invalid PID mode: container:", errdefs.ErrInvalidArgument},
		{"uts mode", func(in *Input) { in.Host.UTSMode = "container:x" }, "invalid UTS mode: container:x", errdefs.ErrInvalidArgument},
		{"cgroupns mode", func(in *Input) { in.Host.CgroupnsMode = "shared" }, "invalid cgroup namespace mode: shared", errdefs.ErrInvalidArgument},
		{"shm size", func(in *Input) { in.Host.ShmSize = -1 }, "SHM size can not be less than 0", errdefs.ErrInvalidArgument},
		{"sysctl outside namespaces", func(in *Input) { in.Host.Sysctls = map[string]string{"kernel.panic": "1"} }, `sysctl "kernel.panic" is not in a separate kernel namespace`, errdefs.ErrInvalidArgument},
		{"net sysctl with host network", func(in *Input) {
			in.Host.NetworkMode = "host"
			in.Host.Sysctls = map[string]string{"net.core.somaxconn": "1"}
		}, `sysctl "net.core.somaxconn" not allowed in host network namespace`, errdefs.ErrInvalidArgument},
		{"ipc sysctl with host ipc", func(in *Input) {
			in.Host.IpcMode = "host"
			in.Host.Sysctls = map[string]string{"kernel.shmmax": "1"}
		}, `sysctl "kernel.shmmax" is not allowed in the hosts ipc namespace`, errdefs.ErrInvalidArgument},
		{"tmpfs on root", func(in *Input) { in.Host.Tmpfs = map[string]string{"/": ""} }, "invalid specification: destination can't be '/'", errdefs.ErrInvalidArgument},
		{"relative workdir", func(in *Input) { in.Config.WorkingDir = "srv" }, "the working directory 'srv' is invalid, it needs to be an absolute path", errdefs.ErrInvalidArgument},
		{"unknown user", func(in *Input) { in.Config.User = "nobody" }, "unable to find user nobody: no matching entries in passwd file", errdefs.ErrInvalidArgument},
		{"unknown group-add", func(in *Input) { in.Host.GroupAdd = []string{"wheel"} }, "unable to find group wheel: no matching entries in group file", errdefs.ErrInvalidArgument},
		{"missing device", func(in *Input) {
			in.Host.Devices = []container.DeviceMapping{{PathOnHost: "/dev/nope", CgroupPermissions: "rwm"}}
		}, `error gathering device information while adding custom device "/dev/nope": stat /dev/nope: file does not exist`, errdefs.ErrInvalidArgument},
		{"device mode", func(in *Input) {
			in.Host.Devices = []container.DeviceMapping{{PathOnHost: "/dev/fuse", CgroupPermissions: "rwx"}}
		}, "invalid device mode: rwx", errdefs.ErrInvalidArgument},
		{"device cgroup rule", func(in *Input) { in.Host.DeviceCgroupRules = []string{"c 1:3"} }, "invalid device cgroup rule format: 'c 1:3'", errdefs.ErrInvalidArgument},
		{"unknown container namespace", func(in *Input) { in.Host.PidMode = "container:y" }, "not found", errdefs.ErrNotFound},
		{"init without binary", func(in *Input) {
			in.Host.Init = ptr(true)
			in.InitPath = ""
		}, "--init: no init binary is configured: failed precondition", errdefs.ErrFailedPrecondition},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := input(fakeRootfs(t))
			tc.mutate(&in)
			_, err := Spec(in)
			assert.Error(t, err, tc.want)
			assert.Check(t, errors.Is(err, tc.class), "error %v is not %v", err, tc.class)
		})
	}
}

// TestValidateHostConfigMatchesSpec checks that what Spec refuses for
// the host config alone, ValidateHostConfig refuses at create already.
func TestValidateHostConfig(t *testing.T) {
	fakeHost(t)
	assert.NilError(t, ValidateHostConfig(nil))
	assert.NilError(t, ValidateHostConfig(&container.HostConfig{}))
	err := ValidateHostConfig(&container.HostConfig{Resources: container.Resources{Memory: 1}})
	assert.Error(t, err, "Minimum memory limit allowed is 6MB")
	assert.Check(t, errdefs.IsInvalidArgument(err))
}

func TestValidateRestartPolicy(t *testing.T) {
	tests := []struct {
		policy container.RestartPolicy
		want   string
	}{
		{container.RestartPolicy{}, ""},
		{container.RestartPolicy{Name: "no"}, ""},
		{container.RestartPolicy{Name: "always"}, ""},
		{container.RestartPolicy{Name: "unless-stopped"}, ""},
		{container.RestartPolicy{Name: "on-failure"}, ""},
		{container.RestartPolicy{Name: "on-failure", MaximumRetryCount: 3}, ""},
		{container.RestartPolicy{Name: "on-failure", MaximumRetryCount: -1}, "invalid restart policy: maximum retry count cannot be negative"},
		{container.RestartPolicy{Name: "always", MaximumRetryCount: 3}, "invalid restart policy: maximum retry count can only be used with 'on-failure'"},
		{container.RestartPolicy{Name: "no", MaximumRetryCount: -2}, "invalid restart policy: maximum retry count can only be used with 'on-failure' and cannot be negative"},
		{container.RestartPolicy{Name: "never"}, "invalid restart policy: unknown policy 'never'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"},
	}
	for _, tc := range tests {
		err := ValidateRestartPolicy(tc.policy)
		if tc.want == "" {
			assert.Check(t, err, "%+v", tc.policy)
			continue
		}
		assert.Check(t, is.Error(err, tc.want), "%+v", tc.policy)
		assert.Check(t, errdefs.IsInvalidArgument(err))
	}
}
