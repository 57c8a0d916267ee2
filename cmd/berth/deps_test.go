package main

import (
	"os/exec"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/golden"
)

func goListDeps(t *testing.T, pkg string, flags ...string) []string {
	t.Helper()
	args := append(append([]string{"list", "-e", "-deps"}, flags...), "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg)
	out, err := exec.Command("go", args...).Output()
	assert.NilError(t, err)
	return strings.Fields(string(out))
}

// TestDeps keeps the full list of berth's non-standard dependencies in
// testdata/TestDeps/deps.txt, so a new module shows up in review. After a
// deliberate change: go test ./cmd/berth -run TestDeps -update.
func TestDeps(t *testing.T) {
	got := strings.Join(goListDeps(t, "."), "\n") + "\n"
	golden.Assert(t, got, "TestDeps/deps.txt")
}

// TestRuntimeDeps enforces STYLE.md's rule for the code that runs in every
// container start: no HTTP, gRPC, bbolt or CLI framework. The runtime's
// binary (initexe) also has the runtime's command line, and so cobra, but
// nothing else of the kind.
func TestRuntimeDeps(t *testing.T) {
	forbidden := []string{"net/http", "google.golang.org/grpc", "go.etcd.io/bbolt", "github.com/spf13/cobra"}
	for _, pkg := range []string{"../../internal/runtime", "../../internal/runtime/nsenter", "../../internal/runtime/initexe"} {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		assert.NilError(t, err)
		deps := strings.Fields(string(out))
		for _, f := range forbidden {
			if strings.HasSuffix(pkg, "/initexe") && f == "github.com/spf13/cobra" {
				continue
			}
			assert.Assert(t, !is.Contains(deps, f)().Success(), "%s must not depend on %s", pkg, f)
		}
	}
}

// TestInitDeps keeps the init binary's dependencies (it starts in every
// container and exec) in testdata/TestInitDeps/deps.txt: what it links is
// what each container start pays for.
func TestInitDeps(t *testing.T) {
	got := strings.Join(goListDeps(t, "../../internal/runtime/initexe"), "\n") + "\n"
	golden.Assert(t, got, "TestInitDeps/deps.txt")
}

// TestCLIDeps keeps the engine out of the berth that `make build` makes
// (tag berth_engine): its Go code is the CLI, and every package it links
// is initialised at every start of every CLI command. The engine is a
// binary of its own in it (engine_exec.go).
func TestCLIDeps(t *testing.T) {
	deps := goListDeps(t, ".", "-tags", "berth_engine")
	for _, d := range deps {
		for _, f := range []string{"/internal/daemon", "/internal/runtime", "/internal/monitor", "/internal/image", "/internal/builder", "/internal/network", "/internal/engine", "go.etcd.io/bbolt", "github.com/moby/buildkit", "github.com/google/go-containerregistry",
			// the client speaks HTTP/1.1 itself (internal/cli/client/http1.go)
			"net/http", "crypto/tls"} {
			if d == "github.com/berth-project/berth/internal/runtime/nsenter" || d == "github.com/berth-project/berth/internal/engine/mode" {
				continue // the C constructor; the choice of mode
			}
			assert.Check(t, !strings.Contains(d, f), "the CLI links %s", d)
		}
	}
	golden.Assert(t, strings.Join(deps, "\n")+"\n", "TestCLIDeps/deps.txt")
}
