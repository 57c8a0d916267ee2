// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

//go:build linux && amd64

// An external test package: testutil imports the runtime, which imports
// this package.
package seccomp_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/berth-project/berth/internal/runtime/seccomp"
	"github.com/berth-project/berth/internal/testutil"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"gotest.tools/v3/assert"
)

// childEnv names the variable that turns the test binary into the child
// of TestLoad. A filter cannot be removed once loaded, so it is loaded in
// a separate process.
const childEnv = "BERTH_SECCOMP_TEST_CHILD"

// childConfig is what TestLoad passes to its child.
type childConfig struct {
	Dir         string
	Flags       []specs.LinuxSeccompFlag
	OtherThread bool // run the checks on another thread than the one that loaded the filter
}

func TestMain(m *testing.M) {
	if v, ok := os.LookupEnv(childEnv); ok {
		if err := loadChild(v); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestLoad(t *testing.T) {
	testutil.RequiresRoot(t)
	tests := []struct {
		name string
		cfg  childConfig
	}{
		{name: "calling thread", cfg: childConfig{}},
		{name: "tsync other thread", cfg: childConfig{Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_TSYNC"}, OtherThread: true}},
		{name: "log and spec allow", cfg: childConfig{Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Dir = t.TempDir()
			env, err := json.Marshal(tc.cfg)
			assert.NilError(t, err)

			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"="+string(env))
			out, err := cmd.CombinedOutput()
			assert.NilError(t, err, string(out))

			_, err = os.Stat(filepath.Join(tc.cfg.Dir, "denied"))
			assert.Assert(t, errors.Is(err, os.ErrNotExist), "mkdir got through the filter: %v", err)
			_, err = os.Stat(filepath.Join(tc.cfg.Dir, "allowed"))
			assert.NilError(t, err)
		})
	}
}

// loadChild runs in the child process: it loads a filter and checks from
// the inside that the kernel applies it.
func loadChild(env string) error {
	var c childConfig
	if err := json.Unmarshal([]byte(env), &c); err != nil {
		return err
	}
	// The filter attaches to this thread (and, with TSYNC, to all of the
	// process's threads), so the goroutine must not move.
	runtime.LockOSThread()

	// seccomp(2) refuses an unprivileged filter unless no_new_privs is set;
	// berth init sets it the same way before loading the profile.
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set no_new_privs: %w", err)
	}
	const atFdcwd = 0xffffffff_ffffff9c // AT_FDCWD (-100) as a 64-bit register
	err := seccomp.Load(&specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Flags:         c.Flags,
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno},
			{Names: []string{"symlink", "symlinkat"}, Action: specs.ActErrno, ErrnoRet: errnoRet(unix.ENOSYS)},
			// Both halves of both arguments must reach the filter where
			// the compiler expects them.
			{Names: []string{"fchmodat", "fchmodat2"}, Action: specs.ActErrno, ErrnoRet: errnoRet(unix.EACCES), Args: []specs.LinuxSeccompArg{
				{Index: 0, Value: atFdcwd, Op: specs.OpEqualTo},
				{Index: 2, Value: 0o700, Op: specs.OpEqualTo},
			}},
		},
	})
	if err != nil {
		return err
	}
	if !c.OtherThread {
		return checkFilter(c.Dir)
	}
	errc := make(chan error)
	go func() {
		// The main goroutine holds its thread, so this one runs on
		// another; it exits locked and the thread is discarded.
		runtime.LockOSThread()
		errc <- checkFilter(c.Dir)
	}()
	return <-errc
}

func checkFilter(dir string) error {
	if err := os.Mkdir(filepath.Join(dir, "denied"), 0o755); !errors.Is(err, unix.EPERM) {
		return fmt.Errorf("mkdir: got %v, want EPERM", err)
	}
	if err := os.Symlink("allowed", filepath.Join(dir, "link")); !errors.Is(err, unix.ENOSYS) {
		return fmt.Errorf("symlink: got %v, want ENOSYS", err)
	}
	file := filepath.Join(dir, "allowed")
	if err := os.WriteFile(file, []byte("ok\n"), 0o644); err != nil {
		return err
	}
	if err := os.Chmod(file, 0o700); !errors.Is(err, unix.EACCES) {
		return fmt.Errorf("chmod 0700: got %v, want EACCES", err)
	}
	if err := os.Chmod(file, 0o600); err != nil {
		return err
	}
	if _, err := os.ReadDir(dir); err != nil {
		return err
	}
	return nil
}

func errnoRet(errno unix.Errno) *uint {
	v := uint(errno)
	return &v
}
