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
//
// It is built as `make build` builds it, with the same flags (so the same
// bytes: the embedded binaries written to /run/berth are shared, not one
// more of each per test build): static, so that it also runs inside
// containers (the daemon bind-mounts the engine there for --init), the
// runtime's binary embedded in the engine's, and the engine's in berth (see
// the Makefile).
func BuildBerth(pkg string) (bin string, remove func(), err error) {
	dir, err := os.MkdirTemp("", "berth-test-bin-")
	if err != nil {
		return "", nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	// The runtime's binary, into internal/engineexe with its header.
	initHeader, err := buildEmbedded(dir, filepath.Join(pkg, "../../internal/runtime/initexe"), "netgo,osusergo",
		filepath.Join(pkg, "../../internal/engineexe/berth-init"), "runtime")
	if err != nil {
		return "", nil, err
	}
	if err := replaceFile(filepath.Join(pkg, "../../internal/engineexe/berth-init.h"), initHeader); err != nil {
		return "", nil, err
	}
	// The engine's, into cmd/berth: its header also names the runtime's.
	engineHeader, err := buildEmbedded(dir, filepath.Join(pkg, "../../internal/engineexe"), "netgo,osusergo,berth_initbin",
		filepath.Join(pkg, "berth-engine"), "engine")
	if err != nil {
		return "", nil, err
	}
	if err := replaceFile(filepath.Join(pkg, "berth-engine.h"), append(initHeader, engineHeader...)); err != nil {
		return "", nil, err
	}
	bin = filepath.Join(dir, "berth")
	if out, err := goBuild(bin, pkg, "netgo,osusergo,berth_engine").CombinedOutput(); err != nil {
		return "", nil, fmt.Errorf("build berth: %v\n%s", err, out)
	}
	return bin, func() { os.RemoveAll(dir) }, nil
}

func goBuild(out, pkg, tags string) *exec.Cmd {
	cmd := exec.Command("go", "build", "-trimpath", "-tags", tags, "-ldflags", "-s -w -extldflags -static", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if cc, err := exec.LookPath("musl-gcc"); err == nil {
		cmd.Env = append(cmd.Env, "CC="+cc) // as the Makefile does
	}
	return cmd
}

// buildEmbedded builds the binary of pkg for embedding at dest, with
// dest.sha256 beside it, and returns the C definitions of its sum and size
// (berth_<name>_sum, berth_<name>_size) for a header. Test binaries of
// several packages may build at once: the files are replaced by rename,
// never rewritten in place (the builds are reproducible, so they are the
// same anyway).
func buildEmbedded(tmpDir, pkg, tags, dest, name string) ([]byte, error) {
	tmp := filepath.Join(tmpDir, filepath.Base(dest))
	if out, err := goBuild(tmp, pkg, tags).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build %s: %v\n%s", filepath.Base(dest), err, out)
	}
	data, err := os.ReadFile(tmp)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	if err := replaceFile(dest, data); err != nil {
		return nil, err
	}
	if err := replaceFile(dest+".sha256", []byte(hex.EncodeToString(sum[:])+"  "+filepath.Base(dest)+"\n")); err != nil {
		return nil, err
	}
	return fmt.Appendf(nil, "const char berth_%s_sum[] = \"%x\";\nconst long berth_%s_size = %d;\n", name, sum, name, len(data)), nil
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
