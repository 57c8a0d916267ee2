// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package image_test

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	"gotest.tools/v3/assert"

	"github.com/berth-project/berth/internal/archive"
	"github.com/berth-project/berth/internal/content"
	"github.com/berth-project/berth/internal/distribution"
	"github.com/berth-project/berth/internal/image"
	"github.com/berth-project/berth/internal/snapshot"
	"github.com/berth-project/berth/internal/testutil"
)

// newStore opens an image store on a fresh root, closed when the test ends.
func newStore(t *testing.T) *image.Store {
	t.Helper()
	testutil.RequiresRoot(t)
	s, err := image.New(t.Context(), t.TempDir())
	assert.NilError(t, err)
	t.Cleanup(func() { assert.Check(t, s.Close()) })
	return s
}

// busyboxTar is an uncompressed tar of a busybox root filesystem.
func busyboxTar(t *testing.T, extra map[string]string) []byte {
	t.Helper()
	testutil.RequiresBusybox(t)
	dir := filepath.Join(t.TempDir(), "rootfs")
	testutil.BusyboxRootfs(t, dir)
	for name, body := range extra {
		assert.NilError(t, writeFile(filepath.Join(dir, name), body))
	}
	var buf bytes.Buffer
	assert.NilError(t, archive.Tar(t.Context(), &buf, dir, archive.TarOptions{}))
	return buf.Bytes()
}

// importBusybox imports a busybox image named ref.
func importBusybox(t *testing.T, s *image.Store, ref string, extra map[string]string) image.Image {
	t.Helper()
	img, err := s.Import(t.Context(), bytes.NewReader(busyboxTar(t, extra)), ref, image.ImageConfigChanges{Comment: "Imported from -"})
	assert.NilError(t, err)
	return img
}

// blobs lists the digests in the store's content.
func blobs(t *testing.T, s *image.Store) []digest.Digest {
	t.Helper()
	var ds []digest.Digest
	assert.NilError(t, s.Content().Walk(t.Context(), func(i content.Info) error {
		ds = append(ds, i.Digest)
		return nil
	}))
	return ds
}

// snapshots lists the store's snapshots by name, sorted.
func snapshots(t *testing.T, s *image.Store) []string {
	t.Helper()
	var names []string
	assert.NilError(t, s.Snapshotter().Walk(t.Context(), func(_ context.Context, i snapshot.Info) error {
		names = append(names, i.Name)
		return nil
	}))
	slices.Sort(names)
	return names
}

// prepare makes the writable layer key on img and removes it when the test
// ends.
func prepare(t *testing.T, s *image.Store, ref, key string) []snapshot.Mount {
	t.Helper()
	mounts, err := s.Mounts(t.Context(), ref, key)
	assert.NilError(t, err)
	t.Cleanup(func() {
		if err := s.Snapshotter().Remove(context.Background(), key); err != nil && !errdefs.IsNotFound(err) {
			t.Errorf("remove %s: %v", key, err)
		}
	})
	return mounts
}

// recorder collects progress events; the callback may be called from
// several goroutines.
type recorder struct {
	mu     sync.Mutex
	events []distribution.Progress
}

func (r *recorder) add(p distribution.Progress) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, p)
}

// statuses returns the set of statuses reported.
func (r *recorder) statuses() map[string]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := map[string]bool{}
	for _, e := range r.events {
		m[e.Status] = true
	}
	return m
}
