// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package testsuite is the conformance suite for content stores: every
// implementation's tests call Run, so they all keep the contract written
// in package content's documentation.
package testsuite

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/berth-project/berth/internal/content"
)

// Store is what the suite exercises: *content.Store and any store layered
// on it.
type Store interface {
	content.Ingester
	Info(ctx context.Context, dgst digest.Digest) (content.Info, error)
	ReaderAt(ctx context.Context, dgst digest.Digest) (content.ReaderAt, error)
	Delete(ctx context.Context, dgst digest.Digest) error
	Walk(ctx context.Context, fn func(content.Info) error) error
	ListIngests(ctx context.Context) ([]string, error)
}

// Run runs the suite; newStore returns an empty store that lives as long as
// the test.
func Run(t *testing.T, newStore func(t *testing.T) Store) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s Store)
	}{
		{"Empty", testEmpty},
		{"WriteRead", testWriteRead},
		{"InvalidDigest", testInvalidDigest},
		{"UnknownDigest", testUnknownDigest},
		{"DigestMismatch", testDigestMismatch},
		{"SizeMismatch", testSizeMismatch},
		{"WriteBlobMismatchLeavesNothing", testWriteBlobMismatch},
		{"Resume", testResume},
		{"ResumeOtherExpected", testResumeOtherExpected},
		{"WriteBlobResumes", testWriteBlobResumes},
		{"Truncate", testTruncate},
		{"AlreadyExists", testAlreadyExists},
		{"RefLocked", testRefLocked},
		{"Abort", testAbort},
		{"ClosedWriter", testClosedWriter},
		{"Delete", testDelete},
		{"WalkStops", testWalkStops},
		{"ConcurrentSameBlob", testConcurrentSameBlob},
		{"WalkDeleteDuringWrites", testWalkDeleteDuringWrites},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

// Blob returns size pseudo-random bytes determined by seed, and their
// digest.
func Blob(seed uint64, size int) ([]byte, digest.Digest) {
	b := make([]byte, size)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b, digest.FromBytes(b)
}

// CheckBlob asserts that dgst is stored with exactly want as content.
func CheckBlob(t testing.TB, s Store, dgst digest.Digest, want []byte) {
	t.Helper()
	ctx := context.Background()
	info, err := s.Info(ctx, dgst)
	assert.NilError(t, err)
	assert.Check(t, is.Equal(info.Digest, dgst))
	assert.Check(t, is.Equal(info.Size, int64(len(want))))
	ra, err := s.ReaderAt(ctx, dgst)
	assert.NilError(t, err)
	defer ra.Close()
	assert.Check(t, is.Equal(ra.Size(), int64(len(want))))
	got, err := io.ReadAll(io.NewSectionReader(ra, 0, ra.Size()))
	assert.NilError(t, err)
	assert.Check(t, is.Equal(dgst.Algorithm().FromBytes(got), dgst))
	assert.Check(t, len(got) == len(want) && string(got) == string(want), "content of %s differs", dgst)
}

func walkAll(t *testing.T, s Store) []content.Info {
	t.Helper()
	var infos []content.Info
	assert.NilError(t, s.Walk(t.Context(), func(i content.Info) error {
		infos = append(infos, i)
		return nil
	}))
	return infos
}

func testEmpty(t *testing.T, s Store) {
	ctx := t.Context()
	_, dgst := Blob(1, 10)
	_, err := s.Info(ctx, dgst)
	assert.Check(t, errdefs.IsNotFound(err), "%v", err)
	_, err = s.ReaderAt(ctx, dgst)
	assert.Check(t, errdefs.IsNotFound(err), "%v", err)
	assert.Check(t, errdefs.IsNotFound(s.Delete(ctx, dgst)))
	assert.Check(t, errdefs.IsNotFound(s.Abort(ctx, "nothing")))
	assert.Check(t, is.Len(walkAll(t, s), 0))
	refs, err := s.ListIngests(ctx)
	assert.NilError(t, err)
	assert.Check(t, is.Len(refs, 0))
}

func testWriteRead(t *testing.T, s Store) {
	ctx := t.Context()
	sizes := []int{0, 1, 4096, 3<<20 + 17}
	want := map[digest.Digest]int64{}
	for i, size := range sizes {
		b, dgst := Blob(uint64(i), size)
		assert.NilError(t, content.WriteBlob(ctx, s, "ref-"+dgst.String(), strings.NewReader(string(b)), int64(size), dgst))
		CheckBlob(t, s, dgst, b)
		want[dgst] = int64(size)
	}

	// Without an expected digest the blob is stored under the one computed.
	b, dgst := Blob(99, 1000)
	w, err := s.Writer(ctx, "unverified", "", 0)
	assert.NilError(t, err)
	_, err = w.Write(b)
	assert.NilError(t, err)
	assert.Check(t, is.Equal(w.Digest(), dgst))
	assert.Check(t, is.Equal(w.Offset(), int64(len(b))))
	assert.NilError(t, w.Commit(ctx, 0, ""))
	assert.NilError(t, w.Close())
	CheckBlob(t, s, dgst, b)
	want[dgst] = int64(len(b))

	got := map[digest.Digest]int64{}
	for _, i := range walkAll(t, s) {
		got[i.Digest] = i.Size
		assert.Check(t, !i.CreatedAt.IsZero())
	}
	assert.Check(t, is.DeepEqual(got, want))
	refs, err := s.ListIngests(ctx)
	assert.NilError(t, err)
	assert.Check(t, is.Len(refs, 0), "committed ingests are removed")
}

func testInvalidDigest(t *testing.T, s Store) {
	ctx := t.Context()
	for _, d := range []digest.Digest{"", "sha256:abc", "sha256:../../etc/passwd", "md5:d41d8cd98f00b204e9800998ecf8427e",
		"sha256:" + digest.Digest(strings.Repeat("A", 64))} {
		_, err := s.Info(ctx, d)
		assert.Check(t, errdefs.IsInvalidArgument(err), "%q: %v", d, err)
		_, err = s.ReaderAt(ctx, d)
		assert.Check(t, errdefs.IsInvalidArgument(err), "%q: %v", d, err)
		assert.Check(t, errdefs.IsInvalidArgument(s.Delete(ctx, d)), "%q", d)
	}
	_, err := s.Writer(ctx, "", "", 0)
	assert.Check(t, errdefs.IsInvalidArgument(err), "%v", err)
}

// testUnknownDigest stores a sha512 blob: the algorithm comes from the
// expected digest.
func testUnknownDigest(t *testing.T, s Store) {
	b, _ := Blob(5, 5000)
	dgst := digest.SHA512.FromBytes(b)
	assert.NilError(t, content.WriteBlob(t.Context(), s, "sha512", strings.NewReader(string(b)), int64(len(b)), dgst))
	CheckBlob(t, s, dgst, b)
}

func testDigestMismatch(t *testing.T, s Store) {
	ctx := t.Context()
	b, _ := Blob(1, 100)
	_, wrong := Blob(2, 100)
	w, err := s.Writer(ctx, "mismatch", wrong, 100)
	assert.NilError(t, err)
	defer w.Close()
	_, err = w.Write(b)
	assert.NilError(t, err)
	err = w.Commit(ctx, 100, wrong)
	assert.Check(t, errdefs.IsFailedPrecondition(err), "%v", err)
	assert.Check(t, is.ErrorContains(err, digest.FromBytes(b).String()))
	assert.Check(t, is.ErrorContains(err, wrong.String()))
	assert.Check(t, is.Len(walkAll(t, s), 0), "no blob after a mismatch")
	_, err = s.Info(ctx, digest.FromBytes(b))
	assert.Check(t, errdefs.IsNotFound(err))

	// The Writer is still usable: start again with the right content.
	assert.NilError(t, w.Truncate(0))
	good, _ := Blob(2, 100)
	_, err = w.Write(good)
	assert.NilError(t, err)
	assert.NilError(t, w.Commit(ctx, 100, wrong))
	CheckBlob(t, s, wrong, good)
}

func testSizeMismatch(t *testing.T, s Store) {
	ctx := t.Context()
	b, dgst := Blob(1, 100)
	w, err := s.Writer(ctx, "size", "", 0)
	assert.NilError(t, err)
	defer w.Close()
	_, err = w.Write(b[:99])
	assert.NilError(t, err)
	err = w.Commit(ctx, 100, "")
	assert.Check(t, errdefs.IsFailedPrecondition(err), "%v", err)
	assert.Check(t, is.Len(walkAll(t, s), 0))
	_, err = w.Write(b[99:])
	assert.NilError(t, err)
	assert.NilError(t, w.Commit(ctx, 100, dgst))
	CheckBlob(t, s, dgst, b)
}

func testWriteBlobMismatch(t *testing.T, s Store) {
	ctx := t.Context()
	b, _ := Blob(1, 1000)
	_, wrong := Blob(2, 1000)
	err := content.WriteBlob(ctx, s, "pull", strings.NewReader(string(b)), 1000, wrong)
	assert.Check(t, errdefs.IsFailedPrecondition(err), "%v", err)
	err = content.WriteBlob(ctx, s, "pull", strings.NewReader(string(b)), 999, "")
	assert.Check(t, errdefs.IsFailedPrecondition(err), "%v", err)
	assert.Check(t, is.Len(walkAll(t, s), 0))
	refs, err := s.ListIngests(ctx)
	assert.NilError(t, err)
	assert.Check(t, is.Len(refs, 0), "a failed WriteBlob aborts its ingest")
}

func testResume(t *testing.T, s Store) {
	ctx := t.Context()
	b, dgst := Blob(7, 100_000)
	w, err := s.Writer(ctx, "resume", dgst, int64(len(b)))
	assert.NilError(t, err)
	_, err = w.Write(b[:30_000])
	assert.NilError(t, err)
	assert.NilError(t, w.Close())
	refs, err := s.ListIngests(ctx)
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(refs, []string{"resume"}))

	// Expected digest and size are remembered by the ingest.
	w, err = s.Writer(ctx, "resume", "", 0)
	assert.NilError(t, err)
	defer w.Close()
	assert.Check(t, is.Equal(w.Offset(), int64(30_000)))
	assert.Check(t, is.Equal(w.Digest(), digest.FromBytes(b[:30_000])))
	_, err = w.Write(b[30_000:])
	assert.NilError(t, err)
	assert.NilError(t, w.Commit(ctx, 0, ""))
	CheckBlob(t, s, dgst, b)
}

func testResumeOtherExpected(t *testing.T, s Store) {
	ctx := t.Context()
	b, dgst := Blob(1, 100)
	_, other := Blob(2, 100)
	w, err := s.Writer(ctx, "r", dgst, 0)
	assert.NilError(t, err)
	_, err = w.Write(b[:10])
	assert.NilError(t, err)
	assert.NilError(t, w.Close())
	_, err = s.Writer(ctx, "r", other, 0)
	assert.Check(t, errdefs.IsFailedPrecondition(err), "%v", err)

	// An ingest longer than the expected size starts over.
	w, err = s.Writer(ctx, "r", dgst, 5)
	assert.NilError(t, err)
	assert.Check(t, is.Equal(w.Offset(), int64(0)))
	assert.NilError(t, w.Close())
}

func testWriteBlobResumes(t *testing.T, s Store) {
	ctx := t.Context()
	b, dgst := Blob(3, 50_000)
	w, err := s.Writer(ctx, "wb", dgst, int64(len(b)))
	assert.NilError(t, err)
	_, err = w.Write(b[:20_000])
	assert.NilError(t, err)
	assert.NilError(t, w.Close())

	// A seekable source continues where the ingest stopped: poison the
	// first part of the source to prove it is not read again.
	src := append([]byte(nil), b...)
	clear(src[:20_000])
	assert.NilError(t, content.WriteBlob(ctx, s, "wb", strings.NewReader(string(src)), int64(len(b)), dgst))
	CheckBlob(t, s, dgst, b)

	// A plain reader restarts the ingest.
	b2, dgst2 := Blob(4, 50_000)
	w, err = s.Writer(ctx, "wb2", dgst2, int64(len(b2)))
	assert.NilError(t, err)
	_, err = w.Write(b2[:20_000])
	assert.NilError(t, err)
	assert.NilError(t, w.Close())
	assert.NilError(t, content.WriteBlob(ctx, s, "wb2", io.MultiReader(strings.NewReader(string(b2))), int64(len(b2)), dgst2))
	CheckBlob(t, s, dgst2, b2)
}

func testTruncate(t *testing.T, s Store) {
	ctx := t.Context()
	b, dgst := Blob(1, 1000)
	w, err := s.Writer(ctx, "t", "", 0)
	assert.NilError(t, err)
	defer w.Close()
	_, err = w.Write([]byte("garbage"))
	assert.NilError(t, err)
	assert.Check(t, errdefs.IsInvalidArgument(w.Truncate(8)))
	assert.NilError(t, w.Truncate(0))
	assert.Check(t, is.Equal(w.Offset(), int64(0)))
	assert.Check(t, is.Equal(w.Digest(), digest.FromBytes(nil)))
	_, err = w.Write(b)
	assert.NilError(t, err)
	assert.NilError(t, w.Commit(ctx, 1000, dgst))
	CheckBlob(t, s, dgst, b)
}

func testAlreadyExists(t *testing.T, s Store) {
	ctx := t.Context()
	b, dgst := Blob(1, 1000)
	assert.NilError(t, content.WriteBlob(ctx, s, "a", strings.NewReader(string(b)), 1000, dgst))
	assert.NilError(t, content.WriteBlob(ctx, s, "a", strings.NewReader(string(b)), 1000, dgst), "an existing blob is success")

	_, err := s.Writer(ctx, "b", dgst, 1000)
	assert.Check(t, errdefs.IsAlreadyExists(err), "%v", err)

	// Without an expected digest, Commit is where it shows.
	w, err := s.Writer(ctx, "c", "", 0)
	assert.NilError(t, err)
	_, err = w.Write(b)
	assert.NilError(t, err)
	err = w.Commit(ctx, 1000, "")
	assert.Check(t, errdefs.IsAlreadyExists(err), "%v", err)
	assert.NilError(t, w.Close())
	refs, err := s.ListIngests(ctx)
	assert.NilError(t, err)
	assert.Check(t, is.Len(refs, 0))
	CheckBlob(t, s, dgst, b)
}

func testRefLocked(t *testing.T, s Store) {
	ctx := t.Context()
	w, err := s.Writer(ctx, "locked", "", 0)
	assert.NilError(t, err)
	_, err = s.Writer(ctx, "locked", "", 0)
	assert.Check(t, errdefs.IsUnavailable(err), "%v", err)
	assert.Check(t, errdefs.IsUnavailable(s.Abort(ctx, "locked")))
	w2, err := s.Writer(ctx, "other", "", 0)
	assert.NilError(t, err, "other refs are free")
	assert.NilError(t, w2.Close())
	assert.NilError(t, w.Close())
	w, err = s.Writer(ctx, "locked", "", 0)
	assert.NilError(t, err, "Close releases the ref")
	assert.NilError(t, w.Commit(ctx, 0, ""))
	w, err = s.Writer(ctx, "locked", "", 0)
	assert.NilError(t, err, "Commit releases the ref")
	assert.NilError(t, w.Close())
}

func testAbort(t *testing.T, s Store) {
	ctx := t.Context()
	refs := []string{"a/b", "sha256:0123", "pull-x", "with space"}
	for _, ref := range refs {
		w, err := s.Writer(ctx, ref, "", 0)
		assert.NilError(t, err)
		_, err = w.Write([]byte(ref))
		assert.NilError(t, err)
		assert.NilError(t, w.Close())
	}
	got, err := s.ListIngests(ctx)
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(got, []string{"a/b", "pull-x", "sha256:0123", "with space"}))
	for _, ref := range refs {
		assert.NilError(t, s.Abort(ctx, ref))
		assert.Check(t, errdefs.IsNotFound(s.Abort(ctx, ref)))
	}
	got, err = s.ListIngests(ctx)
	assert.NilError(t, err)
	assert.Check(t, is.Len(got, 0))
	w, err := s.Writer(ctx, "a/b", "", 0)
	assert.NilError(t, err)
	assert.Check(t, is.Equal(w.Offset(), int64(0)), "an aborted ingest starts afresh")
	assert.NilError(t, w.Close())
}

func testClosedWriter(t *testing.T, s Store) {
	ctx := t.Context()
	w, err := s.Writer(ctx, "closed", "", 0)
	assert.NilError(t, err)
	assert.NilError(t, w.Commit(ctx, 0, ""))
	_, err = w.Write([]byte("x"))
	assert.Check(t, err != nil)
	assert.Check(t, w.Commit(ctx, 0, "") != nil)
	assert.Check(t, w.Truncate(0) != nil)
	assert.NilError(t, w.Close())
	assert.NilError(t, w.Close())
}

func testDelete(t *testing.T, s Store) {
	ctx := t.Context()
	b, dgst := Blob(1, 1000)
	assert.NilError(t, content.WriteBlob(ctx, s, "d", strings.NewReader(string(b)), 1000, dgst))
	ra, err := s.ReaderAt(ctx, dgst)
	assert.NilError(t, err)
	defer ra.Close()
	assert.NilError(t, s.Delete(ctx, dgst))
	_, err = s.Info(ctx, dgst)
	assert.Check(t, errdefs.IsNotFound(err))
	assert.Check(t, errdefs.IsNotFound(s.Delete(ctx, dgst)))
	got, err := io.ReadAll(io.NewSectionReader(ra, 0, ra.Size()))
	assert.NilError(t, err)
	assert.Check(t, is.Equal(digest.FromBytes(got), dgst), "an open reader outlives Delete")
	assert.Check(t, is.Len(walkAll(t, s), 0))
	assert.NilError(t, content.WriteBlob(ctx, s, "d", strings.NewReader(string(b)), 1000, dgst))
	CheckBlob(t, s, dgst, b)
}

func testWalkStops(t *testing.T, s Store) {
	ctx := t.Context()
	for i := range 3 {
		b, dgst := Blob(uint64(i), 10)
		assert.NilError(t, content.WriteBlob(ctx, s, "w", strings.NewReader(string(b)), 10, dgst))
	}
	stop := errors.New("stop")
	n := 0
	err := s.Walk(ctx, func(content.Info) error { n++; return stop })
	assert.Check(t, is.ErrorIs(err, stop))
	assert.Check(t, is.Equal(n, 1))
}
