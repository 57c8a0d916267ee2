package runtime

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

func TestValidateID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"abc", true},
		{"a-b_c.d+e", true},
		{"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", true},
		{"", false},
		{".", false},
		{"..", false},
		{"../x", false},
		{"a/b", false},
		{"a b", false},
		{"a\x00b", false},
	} {
		err := ValidateID(tc.id)
		assert.Equal(t, err == nil, tc.ok, "id %q: %v", tc.id, err)
	}
}

func validSpec() *specs.Spec {
	s := DefaultSpec()
	s.Process.Terminal = false
	return s
}

func TestValidateSpec(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*specs.Spec)
		want   string
	}{
		{"default spec", func(*specs.Spec) {}, ""},
		{"no root", func(s *specs.Spec) { s.Root = nil }, "root.path is required"},
		{"no process", func(s *specs.Spec) { s.Process = nil }, "process is required"},
		{"no args", func(s *specs.Spec) { s.Process.Args = nil }, "process.args must not be empty"},
		{"relative cwd", func(s *specs.Spec) { s.Process.Cwd = "tmp" }, "must be an absolute path"},
		{"bad rlimit", func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_BOGUS"}}
		}, `unknown rlimit "RLIMIT_BOGUS"`},
		{"no linux", func(s *specs.Spec) { s.Linux = nil }, "linux section is required"},
		{"bad namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
		}, `unknown namespace type "bogus"`},
		{"duplicate namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.PIDNamespace})
		}, `namespace "pid" listed twice`},
		{"relative mount", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "tmp", Type: "tmpfs"})
		}, `mount destination "tmp" is not absolute`},
		{"maps without userns", func(s *specs.Spec) {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{HostID: 1000, Size: 1}}
		}, "require a user namespace"},
		{"userns without maps", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		}, "needs uidMappings and gidMappings"},
		{"hostname without uts", func(s *specs.Spec) {
			var keep []specs.LinuxNamespace
			for _, ns := range s.Linux.Namespaces {
				if ns.Type != specs.UTSNamespace {
					keep = append(keep, ns)
				}
			}
			s.Linux.Namespaces = keep
		}, "hostname requires a new uts namespace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := validSpec()
			tc.mutate(s)
			err := ValidateSpec(s)
			if tc.want == "" {
				assert.NilError(t, err)
				return
			}
			assert.Assert(t, is.ErrorContains(err, tc.want))
			assert.Assert(t, is.ErrorContains(err, "invalid config.json"))
		})
	}
}

func TestParseMountOptions(t *testing.T) {
	for _, tc := range []struct {
		opts  []string
		flags uintptr
		prop  []uintptr
		data  string
	}{
		{[]string{"nosuid", "noexec", "nodev", "ro"}, unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV | unix.MS_RDONLY, nil, ""},
		{[]string{"ro", "rw"}, 0, nil, ""},
		{[]string{"rbind", "rprivate"}, unix.MS_BIND | unix.MS_REC, []uintptr{unix.MS_PRIVATE | unix.MS_REC}, ""},
		{[]string{"nosuid", "mode=755", "size=65536k"}, unix.MS_NOSUID, nil, "mode=755,size=65536k"},
		{[]string{"newinstance", "ptmxmode=0666"}, 0, nil, "newinstance,ptmxmode=0666"},
		{[]string{"rro", "tmpcopyup"}, unix.MS_RDONLY, nil, ""},
		{[]string{"strictatime", "shared"}, unix.MS_STRICTATIME, []uintptr{unix.MS_SHARED}, ""},
	} {
		flags, prop, data := parseMountOptions(tc.opts)
		assert.Equal(t, flags, tc.flags, "%v", tc.opts)
		assert.DeepEqual(t, prop, tc.prop)
		assert.Equal(t, data, tc.data, "%v", tc.opts)
	}
}

func TestNsEnv(t *testing.T) {
	join, flags, err := nsEnv([]specs.LinuxNamespace{
		{Type: specs.PIDNamespace},
		{Type: specs.NetworkNamespace, Path: "/proc/self/ns/net"},
		{Type: specs.MountNamespace},
	})
	assert.NilError(t, err)
	assert.Equal(t, join, "net=/proc/self/ns/net")
	assert.Equal(t, flags, unix.CLONE_NEWPID|unix.CLONE_NEWNS)

	_, _, err = nsEnv([]specs.LinuxNamespace{{Type: specs.NetworkNamespace, Path: "/nonexistent/ns"}})
	assert.Assert(t, is.ErrorContains(err, "network namespace path"))
	_, _, err = nsEnv([]specs.LinuxNamespace{{Type: specs.NetworkNamespace, Path: "/a;user=/b"}})
	assert.Assert(t, is.ErrorContains(err, "contains ';'"))
}

func TestWithDefaultDevices(t *testing.T) {
	major := int64(4)
	res := &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}, {Allow: true, Type: "c", Major: &major, Access: "r"}}}
	out := withDefaultDevices(res)
	assert.Equal(t, len(out.Devices), 2+len(allowedDevices))
	assert.Equal(t, out.Devices[0].Allow, false, "the spec's rules come first")
	assert.Equal(t, len(res.Devices), 2, "the input is not changed")
	assert.Equal(t, len(withDefaultDevices(nil).Devices), len(allowedDevices))
}
