// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package integration drives a `berth daemon` that each test starts on a
// temporary root and socket through the Engine API Go client
// (github.com/moby/moby/client), against real registries started on
// 127.0.0.1.
package integration

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/moby/moby/client"

	"github.com/berth-project/berth/internal/testutil"
)

var berthBin string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if os.Geteuid() == 0 {
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

// startDaemon starts a berth daemon for t (stopped, unmounted and removed
// when t ends) and returns a client of it.
func startDaemon(t *testing.T) (*testutil.Daemon, *client.Client) {
	t.Helper()
	testutil.RequiresRoot(t)
	d, err := testutil.NewDaemon(berthBin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Cleanup)
	// The harness names a config file; an empty one is the defaults.
	if err := os.WriteFile(filepath.Join(d.Dir, "daemon.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("daemon log:\n%s", d.Log())
		}
	})
	c, err := client.New(client.WithHost(d.Host), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return d, c
}

// busyboxTar returns a busybox root filesystem (testutil.BusyboxRootfs)
// as an uncompressed tar.
func busyboxTar(t *testing.T) []byte {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "rootfs")
	testutil.BusyboxRootfs(t, dir)
	out, err := exec.Command("tar", "-C", dir, "-cf", "-", ".").Output()
	if err != nil {
		t.Fatalf("tar busybox: %v", err)
	}
	return out
}

// fileTar returns a tar holding one file.
func fileTar(t *testing.T, name, content string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte(content))
	tw.Close()
	return buf.Bytes()
}

func ctx(t *testing.T) context.Context { return t.Context() }
