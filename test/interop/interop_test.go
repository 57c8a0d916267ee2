// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package interop_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-project/berth/internal/image"
	"github.com/berth-project/berth/internal/runtime"
	"github.com/berth-project/berth/internal/snapshot"
	"github.com/berth-project/berth/internal/testutil"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// TestDockerInterop moves a busybox image from Docker to berth and another
// from berth to Docker, through the archives `docker save` and Store.Save
// write, and runs each where it arrived.
func TestDockerInterop(t *testing.T) {
	testutil.RequiresRoot(t)
	if os.Getenv("BERTH_INTEROP") != "1" {
		t.Skip("interop with a private Docker 20.10 daemon runs with BERTH_INTEROP=1 (make interop)")
	}
	testutil.RequiresBusybox(t)
	d := startDockerd(t)
	// A busybox root filesystem as a tar, imported by both sides.
	rootfs := filepath.Join(t.TempDir(), "rootfs")
	testutil.BusyboxRootfs(t, rootfs)
	rootfsTar := filepath.Join(t.TempDir(), "rootfs.tar")
	out, err := exec.Command("tar", "-C", rootfs, "-cf", rootfsTar, ".").CombinedOutput()
	assert.NilError(t, err, "tar: %s", out)

	t.Run("DockerToBerth", func(t *testing.T) { dockerToBerth(t, d, rootfsTar) })
	t.Run("BerthToDocker", func(t *testing.T) { berthToDocker(t, d, rootfsTar) })
}

// dockerToBerth: `docker import` and `docker save` (Docker 20.10 writes
// the legacy archive format), Store.Load, and a container of the loaded
// image run by berth's runtime on the layers Store.Mounts gives.
func dockerToBerth(t *testing.T, d *dockerd, rootfsTar string) {
	ctx := t.Context()
	d.run("import", rootfsTar, "busybox:interop")
	t.Cleanup(func() {
		if _, err := d.try("rmi", "busybox:interop"); err != nil {
			t.Log(err)
		}
	})
	dockerID := strings.TrimSpace(d.run("image", "inspect", "-f", "{{.Id}}", "busybox:interop"))
	archive := filepath.Join(t.TempDir(), "docker.tar")
	d.run("save", "-o", archive, "busybox:interop")

	store, err := image.New(ctx, t.TempDir())
	assert.NilError(t, err)
	t.Cleanup(func() { store.Close() })
	f, err := os.Open(archive)
	assert.NilError(t, err)
	defer f.Close()
	var progress []string
	imgs, err := store.Load(ctx, f, func(s string) { progress = append(progress, s) })
	assert.NilError(t, err)
	t.Logf("berth load: %q", progress)
	assert.Equal(t, len(imgs), 1)
	assert.Check(t, is.DeepEqual(imgs[0].RepoTags, []string{"docker.io/library/busybox:interop"}))
	assert.Check(t, is.Equal(imgs[0].ID.String(), dockerID), "berth's image ID is not Docker's")
	t.Logf("image ID in Docker %s, in berth %s", dockerID, imgs[0].ID)

	const key = "interop-container"
	mounts, err := store.Mounts(ctx, "busybox:interop", key)
	assert.NilError(t, err)
	t.Cleanup(func() {
		if err := store.Snapshotter().Remove(ctx, key); err != nil {
			t.Errorf("remove snapshot %s: %v", key, err)
		}
	})
	bundle := t.TempDir()
	root := filepath.Join(bundle, "rootfs")
	assert.NilError(t, os.Mkdir(root, 0o755))
	assert.NilError(t, snapshot.MountAll(mounts, root))
	t.Cleanup(func() {
		if err := snapshot.UnmountAll(root); err != nil {
			t.Errorf("unmount %s: %v", root, err)
		}
	})

	spec := runtime.DefaultSpec()
	spec.Process.Terminal = false
	spec.Process.Args = []string{"sh", "-c", "echo hello-from-docker-image"}
	spec.Linux.CgroupsPath = cgroupParent + "/docker-image"
	data, err := json.MarshalIndent(spec, "", "\t")
	assert.NilError(t, err)
	assert.NilError(t, os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o644))

	rtRoot := t.TempDir()
	const id = "interop-docker-image"
	t.Cleanup(func() {
		exec.Command(berthBin, "runtime", "--root", rtRoot, "delete", "-f", id).Run()
		testutil.RemoveCgroup(cgroupParent)
	})
	cmd := exec.Command(berthBin, "runtime", "--root", rtRoot, "run", "--bundle", bundle, id)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	assert.NilError(t, err, "berth runtime run: stderr: %s", stderr.String())
	assert.Check(t, is.Equal(stdout.String(), "hello-from-docker-image\n"))
	assert.Check(t, is.Equal(stderr.String(), ""))
}

// berthToDocker: Store.Import and Store.Save, `docker load`, the same image
// ID in Docker, and `docker run` of the loaded image.
func berthToDocker(t *testing.T, d *dockerd, rootfsTar string) {
	ctx := t.Context()
	store, err := image.New(ctx, t.TempDir())
	assert.NilError(t, err)
	t.Cleanup(func() { store.Close() })
	f, err := os.Open(rootfsTar)
	assert.NilError(t, err)
	defer f.Close()
	img, err := store.Import(ctx, f, "berthimg:latest", image.ImageConfigChanges{})
	assert.NilError(t, err)

	archive := filepath.Join(t.TempDir(), "berth.tar")
	out, err := os.Create(archive)
	assert.NilError(t, err)
	assert.NilError(t, store.Save(ctx, out, []string{"berthimg:latest"}))
	assert.NilError(t, out.Close())

	loaded := d.run("load", "-i", archive)
	t.Cleanup(func() {
		if _, err := d.try("rmi", "berthimg:latest"); err != nil {
			t.Log(err)
		}
	})
	t.Logf("docker load: %s", strings.TrimSpace(loaded))
	assert.Check(t, is.Contains(loaded, "Loaded image: berthimg:latest"))
	dockerID := strings.TrimSpace(d.run("image", "inspect", "-f", "{{.Id}}", "berthimg:latest"))
	assert.Check(t, is.Equal(dockerID, img.ID.String()), "Docker's image ID is not berth's")
	t.Logf("image ID in berth %s, in Docker %s", img.ID, dockerID)

	got := d.run("run", "--rm", "--network", "none", "berthimg:latest", "sh", "-c", "echo hello-from-berth-image")
	assert.Check(t, is.Equal(got, "hello-from-berth-image\n"))
}
