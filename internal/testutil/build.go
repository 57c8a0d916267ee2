package testutil

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// BuildBerth builds cmd/berth into a new temporary directory for a test
// binary's TestMain and returns the binary's path and a function that
// removes it. pkg is the path of cmd/berth relative to the test's
// directory, such as "../../cmd/berth".
func BuildBerth(pkg string) (bin string, remove func(), err error) {
	dir, err := os.MkdirTemp("", "berth-test-bin-")
	if err != nil {
		return "", nil, err
	}
	remove = func() { os.RemoveAll(dir) }
	bin = filepath.Join(dir, "berth")
	// Built as `make build` builds it: static, so that it also runs inside
	// containers (the daemon bind-mounts it there for --init), with the
	// init binary embedded (cmd/berth/initbin.go).
	initBin := filepath.Join(pkg, "berth-init")
	build := func(out, pkg, tags string) *exec.Cmd {
		cmd := exec.Command("go", "build", "-trimpath", "-tags", tags, "-ldflags", "-extldflags -static", "-o", out, pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if cc, err := exec.LookPath("musl-gcc"); err == nil {
			cmd.Env = append(cmd.Env, "CC="+cc) // as the Makefile does
		}
		return cmd
	}
	// Test binaries of several packages may build at once: the files in
	// cmd/berth are replaced by rename, never rewritten in place (the
	// builds are reproducible, so they are the same anyway).
	initPkg := filepath.Join(pkg, "../../internal/runtime/initexe")
	tmpInit := filepath.Join(dir, "berth-init")
	if out, err := build(tmpInit, initPkg, "netgo,osusergo").CombinedOutput(); err != nil {
		remove()
		return "", nil, fmt.Errorf("build berth-init: %v\n%s", err, out)
	}
	data, err := os.ReadFile(tmpInit)
	if err != nil {
		remove()
		return "", nil, err
	}
	sum := sha256.Sum256(data)
	if err := replaceFile(initBin, data); err != nil {
		remove()
		return "", nil, err
	}
	if err := replaceFile(initBin+".sha256", []byte(hex.EncodeToString(sum[:])+"  berth-init\n")); err != nil {
		remove()
		return "", nil, err
	}
	// berth's C constructor executes the runtime binary for runtime
	// commands: it finds the file by these (see cmd/berth/initbin.go).
	header := fmt.Sprintf("const char berth_runtime_sum[] = \"%x\";\nconst long berth_runtime_size = %d;\n", sum, len(data))
	if err := replaceFile(filepath.Join(pkg, "berth-init.h"), []byte(header)); err != nil {
		remove()
		return "", nil, err
	}
	cmd := build(bin, pkg, "netgo,osusergo,berth_initbin")
	if out, err := cmd.CombinedOutput(); err != nil {
		remove()
		return "", nil, fmt.Errorf("build berth: %v\n%s", err, out)
	}
	return bin, remove, nil
}

// replaceFile writes data to path by temporary file and rename, unless
// path already holds exactly data.
func replaceFile(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
