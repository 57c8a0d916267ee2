// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package interop_test proves that images move both ways between berth's
// image store and a real Docker 20.10 (Debian's docker.io) through image
// archives: `docker save` → Store.Load → a container run by berth's
// runtime, and Store.Import → Store.Save → `docker load` → `docker run`.
//
// Each run starts its own private dockerd (see dockerd_test.go) and stops
// it, by PID, when the test ends. The test runs only with BERTH_INTEROP=1
// (`make interop`, which .ci/run calls after the drop-in check has
// installed docker.io); under a plain `go test ./...` it skips.
package interop_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/berth-project/berth/internal/testutil"
)

var (
	berthBin string
	// cgroupParent holds the containers berth's runtime runs here.
	cgroupParent = fmt.Sprintf("/berth-interop-%d", os.Getpid())
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if os.Geteuid() == 0 && os.Getenv("BERTH_INTEROP") == "1" {
		bin, remove, err := testutil.BuildBerth("../../cmd/berth")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer remove()
		berthBin = bin
	}
	return m.Run()
}
