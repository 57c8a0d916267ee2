// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package integration

import (
	"bufio"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"
	"gotest.tools/v3/assert"

	"github.com/berth-project/berth/internal/testutil"
)

// TestPullKilledMidway kills the daemon with SIGKILL while it pulls a
// 96 MB layer, then checks that the restarted daemon lists its images
// without error and that a second pull completes, giving the image its ID.
func TestPullKilledMidway(t *testing.T) {
	d, c := startDaemon(t)
	reg := testutil.StartRegistry(t)
	big := make([]byte, 96<<20)
	rand.Read(big)
	ref := reg + "/crash/big:1"
	id := importImage(t, c, fileTar(t, "big", string(big)), ref, client.ImageImportOptions{})
	_, err := push(t, c, ref, "")
	assert.NilError(t, err)
	_, err = c.ImageRemove(ctx(t), ref, client.ImageRemoveOptions{Force: true})
	assert.NilError(t, err)

	r, err := c.ImagePull(ctx(t), ref, client.ImagePullOptions{})
	assert.NilError(t, err)
	sc := bufio.NewScanner(r)
	killed := false
	for sc.Scan() {
		var m jsonstream.Message
		if json.Unmarshal(sc.Bytes(), &m) == nil && m.Status == "Downloading" && m.Progress != nil && m.Progress.Current > 8<<20 {
			d.Kill()
			killed = true
			break
		}
	}
	r.Close()
	assert.Assert(t, killed, "the pull ended before it could be killed")

	assert.NilError(t, d.Start())
	list, err := c.ImageList(ctx(t), client.ImageListOptions{All: true})
	assert.NilError(t, err)
	for _, img := range list.Items {
		assert.Assert(t, img.ID != id, "a half-pulled image is listed")
	}
	ms, err := pull(t, c, ref, "")
	assert.NilError(t, err)
	last := ms[len(ms)-1]
	assert.Assert(t, last.Error == nil, "pull: %v", last.Error)
	assert.Assert(t, strings.HasPrefix(last.Status, "Status: Downloaded newer image"), "%v", last.Status)
	img := inspect(t, c, ref)
	assert.Equal(t, img.ID, id)
	assert.Assert(t, img.Size >= 96<<20, "size %d", img.Size)
}
