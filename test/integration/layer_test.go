// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package integration

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"gotest.tools/v3/assert"

	"github.com/berth-project/berth/internal/snapshot/overlay"
)

// TestLayerPreparedLater: create answers before the container's writable
// layer is made (daemon/layer.go). Right after create, diff and commit
// see the layer. A layer missing when the daemon starts again (as a
// crash between create and the end of the prepare would leave it) is made
// at start for a container that never ran; for one that ran, whose files
// it held, start refuses instead.
func TestLayerPreparedLater(t *testing.T) {
	d, c := startDaemon(t)
	importImage(t, c, busyboxTar(t), "busybox:latest", client.ImageImportOptions{})
	create := func(name string) string {
		t.Helper()
		r, err := c.ContainerCreate(ctx(t), client.ContainerCreateOptions{Name: name,
			Config:     &container.Config{Image: "busybox", Cmd: []string{"true"}},
			HostConfig: &container.HostConfig{NetworkMode: "none"}})
		assert.NilError(t, err)
		return r.ID
	}
	run := func(id string) error {
		t.Helper()
		w := c.ContainerWait(ctx(t), id, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
		if _, err := c.ContainerStart(ctx(t), id, client.ContainerStartOptions{}); err != nil {
			return err
		}
		select {
		case r := <-w.Result:
			assert.Equal(t, r.StatusCode, int64(0))
		case err := <-w.Error:
			t.Fatal(err)
		}
		return nil
	}

	fresh := create("fresh")
	changes, err := c.ContainerDiff(ctx(t), fresh, client.ContainerDiffOptions{})
	assert.NilError(t, err)
	assert.Equal(t, len(changes.Changes), 0)
	_, err = c.ContainerCommit(ctx(t), create("committed"), client.ContainerCommitOptions{Reference: "committed:latest"})
	assert.NilError(t, err)

	ran := create("ran")
	assert.NilError(t, run(ran))

	d.Stop()
	sn, err := overlay.New(context.Background(), filepath.Join(d.DataRoot, "image", "snapshots", "overlay"))
	assert.NilError(t, err)
	assert.NilError(t, sn.Remove(context.Background(), fresh))
	assert.NilError(t, sn.Remove(context.Background(), ran))
	assert.NilError(t, sn.Close())
	assert.NilError(t, d.Start())

	assert.NilError(t, run(fresh))
	err = run(ran)
	assert.ErrorContains(t, err, "prepare the container's filesystem")
	_, err = c.ContainerRemove(ctx(t), ran, client.ContainerRemoveOptions{Force: true})
	assert.NilError(t, err)
}
