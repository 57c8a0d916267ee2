// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package testutil_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/berth-project/berth/internal/testutil"
)

func TestBusyboxRootfs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rootfs")
	testutil.BusyboxRootfs(t, dir)

	for _, cmd := range []string{"bin/sh", "bin/cat", "sbin/ip", "usr/bin/env", "usr/sbin/chroot"} {
		target, err := filepath.EvalSymlinks(filepath.Join(dir, cmd))
		assert.NilError(t, err, cmd)
		assert.Equal(t, target, filepath.Join(dir, "bin/busybox"), cmd)
	}
	fi, err := os.Lstat(filepath.Join(dir, "bin/busybox"))
	assert.NilError(t, err)
	assert.Assert(t, fi.Mode().IsRegular(), "bin/busybox must be a copy")

	fi, err = os.Stat(filepath.Join(dir, "tmp"))
	assert.NilError(t, err)
	assert.Equal(t, fi.Mode().Perm()|fi.Mode()&os.ModeSticky, os.ModeSticky|0o777)

	passwd, err := os.ReadFile(filepath.Join(dir, "etc/passwd"))
	assert.NilError(t, err)
	assert.Check(t, is.Contains(string(passwd), "root:x:0:0:"))
	assert.Check(t, is.Contains(string(passwd), "user:x:1000:1000:"))
	assert.Check(t, is.Contains(string(passwd), "nobody:x:65534:65534:"))
}

func TestNewBundle(t *testing.T) {
	bundle := testutil.NewBundle(t, testutil.WithArgs("true"), func(s *specs.Spec) {
		s.Hostname = "probe"
	})
	data, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	assert.NilError(t, err)
	var spec specs.Spec
	assert.NilError(t, json.Unmarshal(data, &spec))
	assert.Check(t, !spec.Process.Terminal)
	assert.Check(t, is.DeepEqual(spec.Process.Args, []string{"true"}))
	assert.Check(t, is.Equal(spec.Hostname, "probe"))
	assert.Check(t, is.Equal(spec.Root.Path, "rootfs"))
}

// TestNewBundleRunsInRunc checks that the bundle and runtime.DefaultSpec
// are a working pair, using Debian's runc as the reference runtime.
func TestNewBundleRunsInRunc(t *testing.T) {
	testutil.RequiresRoot(t)
	runc, err := exec.LookPath("runc")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("runc is missing in CI: .ci/run should have installed it")
		}
		t.Skip("runc is not installed (apt-get install runc)")
	}
	bundle := testutil.NewBundle(t, testutil.WithArgs("sh", "-c",
		`echo "hello from $(hostname)"; id -u; cat /proc/self/status | grep ^CapEff; touch /x 2>/dev/null || echo read-only`))

	id := fmt.Sprintf("berth-testutil-%d", os.Getpid())
	out, err := exec.Command(runc, "--root", t.TempDir(), "run", "--bundle", bundle, id).CombinedOutput()
	assert.NilError(t, err, string(out))
	assert.Equal(t, string(out), "hello from berth\n0\nCapEff:\t0000000020000420\nread-only\n")
}
