package testutil

import (
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
	// containers (the daemon bind-mounts it there for --init).
	cmd := exec.Command("go", "build", "-trimpath", "-tags", "netgo,osusergo", "-ldflags", "-extldflags -static", "-o", bin, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		remove()
		return "", nil, fmt.Errorf("build berth: %v\n%s", err, out)
	}
	return bin, remove, nil
}
