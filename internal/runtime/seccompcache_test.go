package runtime

import (
	"bytes"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"gotest.tools/v3/assert"
)

// TestCompiledFilters compiles a profile twice (the second time from the
// cache, the same program), then one that differs in a single action,
// which must get a program of its own.
func TestCompiledFilters(t *testing.T) {
	profile := func(action specs.LinuxSeccompAction) *specs.Spec {
		return &specs.Spec{Linux: &specs.Linux{Seccomp: &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Architectures: []specs.Arch{specs.ArchX86_64},
			Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: action}},
		}}}
	}
	compile := func(s *specs.Spec) []byte {
		t.Helper()
		var cfg initConfig
		has, err := compileSeccomp(&cfg, s)
		assert.NilError(t, err)
		assert.Assert(t, has)
		return cfg.SeccompFilter
	}
	first := compile(profile(specs.ActErrno))
	again := compile(profile(specs.ActErrno))
	assert.Assert(t, bytes.Equal(first, again))
	assert.Assert(t, &first[0] == &again[0], "the second compile did not come from the cache")
	other := compile(profile(specs.ActKill))
	assert.Assert(t, !bytes.Equal(first, other), "a different profile got the same program")

	for i := range filterCacheSize + 1 { // the cache starts over, and still answers
		s := profile(specs.ActErrno)
		s.Linux.Seccomp.Syscalls[0].Names = []string{"mkdir", []string{"rmdir", "unlink", "link", "chmod", "chown", "rename", "mknod", "symlink", "truncate", "utime", "access", "stat", "lstat", "open", "creat", "readlink", "statfs"}[i]}
		compile(s)
	}
	assert.Assert(t, len(compiledFilters.m) <= filterCacheSize)
	assert.Assert(t, bytes.Equal(compile(profile(specs.ActErrno)), first))
}
