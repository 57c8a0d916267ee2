// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package testutil

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/runtime"
)

// BusyboxPath is where Debian's busybox-static puts its binary. .ci/run
// installs the package.
const BusyboxPath = "/bin/busybox"

// applets lists busybox's applets once per test binary: running busybox
// is the only slow part of building a root filesystem.
var applets = sync.OnceValues(func() ([]string, error) {
	out, err := exec.Command(BusyboxPath, "--list").Output()
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(out)), nil
})

// RequiresBusybox skips the test when /bin/busybox is missing, except in
// CI (CI=true), where a missing busybox is a broken setup and fails the
// test.
func RequiresBusybox(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(BusyboxPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing in CI: .ci/run should have installed busybox-static: %v", BusyboxPath, err)
		}
		t.Skipf("%s is missing: install busybox-static (apt-get install busybox-static) to run this test", BusyboxPath)
	}
}

// BusyboxRootfs builds a busybox root filesystem in dir, creating dir if
// needed: a copy of /bin/busybox in bin/ with a symlink per applet, sbin,
// usr/bin and usr/sbin pointing at bin, the usual empty directories, and
// /etc/passwd and /etc/group with root, user (1000) and nobody (65534).
// hack/mkbusybox.sh makes the same layout from the command line.
func BusyboxRootfs(t testing.TB, dir string) {
	t.Helper()
	RequiresBusybox(t)
	names, err := applets()
	if err != nil {
		t.Fatalf("busybox --list: %v", err)
	}
	if err := writeBusyboxRootfs(dir, names); err != nil {
		t.Fatalf("busybox rootfs in %s: %v", dir, err)
	}
}

func writeBusyboxRootfs(dir string, names []string) error {
	dirs := []struct {
		path string
		mode os.FileMode
	}{
		{"bin", 0o755}, {"dev", 0o755}, {"proc", 0o755}, {"sys", 0o755},
		{"etc", 0o755}, {"home/user", 0o755}, {"usr", 0o755},
		{"tmp", os.ModeSticky | 0o777}, {"root", 0o700},
	}
	for _, d := range dirs {
		p := filepath.Join(dir, d.path)
		if err := os.MkdirAll(p, 0o755); err != nil {
			return err
		}
		// Chmod, not MkdirAll's mode: the umask would clear the sticky bit.
		if err := os.Chmod(p, d.mode); err != nil {
			return err
		}
	}
	if err := os.Lchown(filepath.Join(dir, "home/user"), 1000, 1000); err != nil && os.Geteuid() == 0 {
		return err
	}
	// Copy, never link: a container may write to its root filesystem.
	if err := copyFile(BusyboxPath, filepath.Join(dir, "bin/busybox"), 0o755); err != nil {
		return err
	}
	for _, name := range names {
		if name == "busybox" {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", name)); err != nil {
			return err
		}
	}
	links := map[string]string{"sbin": "bin", "usr/bin": "../bin", "usr/sbin": "../bin"}
	for path, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, path)); err != nil {
			return err
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\n" +
			"user:x:1000:1000:user:/home/user:/bin/sh\n" +
			"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group": "root:x:0:\ntty:x:5:\nuser:x:1000:\nnogroup:x:65534:\n",
	}
	for path, content := range files {
		if err := os.WriteFile(filepath.Join(dir, path), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// NewBundle makes an OCI bundle in a fresh t.TempDir(): a busybox rootfs/
// and a config.json from runtime.DefaultSpec() with terminal off, changed
// by each mutate in turn. It returns the bundle directory.
//
// Tests inside package runtime cannot use it (testutil imports runtime);
// they go in package runtime_test instead.
func NewBundle(t testing.TB, mutate ...func(*specs.Spec)) string {
	t.Helper()
	bundle := t.TempDir()
	BusyboxRootfs(t, filepath.Join(bundle, "rootfs"))
	spec := runtime.DefaultSpec()
	spec.Process.Terminal = false
	for _, m := range mutate {
		m(spec)
	}
	data, err := json.MarshalIndent(spec, "", "\t")
	if err != nil {
		t.Fatalf("config.json: %v", err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o644); err != nil {
		t.Fatalf("config.json: %v", err)
	}
	return bundle
}

// WithArgs sets the container process's command line.
func WithArgs(args ...string) func(*specs.Spec) {
	return func(s *specs.Spec) { s.Process.Args = args }
}

// WriteBusyboxRootfs is BusyboxRootfs for a TestMain, which has no
// testing.TB: it fails instead of skipping when busybox is missing.
func WriteBusyboxRootfs(dir string) error {
	names, err := applets()
	if err != nil {
		return fmt.Errorf("busybox --list: %w (is busybox-static installed? make deps)", err)
	}
	return writeBusyboxRootfs(dir, names)
}
