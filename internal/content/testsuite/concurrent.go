// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package testsuite

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/containerd/errdefs"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/berth-project/berth/internal/content"
)

// testConcurrentSameBlob has many goroutines write one blob, some through
// one shared ref and some through refs of their own: exactly one commits,
// every other sees ErrAlreadyExists or ErrUnavailable.
func testConcurrentSameBlob(t *testing.T, s Store) {
	ctx := t.Context()
	b, dgst := Blob(42, 256<<10)
	const n = 32
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			ref := "shared"
			if i%2 == 1 {
				ref = fmt.Sprint("own-", i)
			}
			expected := dgst
			if i%4 == 3 {
				expected = "" // only Commit can tell
			}
			w, err := s.Writer(ctx, ref, expected, int64(len(b)))
			if err != nil {
				errs[i] = err
				return
			}
			defer w.Close()
			for off := 0; off < len(b); off += 16 << 10 {
				if _, err := w.Write(b[off : off+16<<10]); err != nil {
					errs[i] = err
					return
				}
			}
			errs[i] = w.Commit(ctx, int64(len(b)), dgst)
		})
	}
	close(start)
	wg.Wait()
	committed := 0
	for i, err := range errs {
		switch {
		case err == nil:
			committed++
		case errdefs.IsAlreadyExists(err), errdefs.IsUnavailable(err):
		default:
			t.Errorf("writer %d: %v", i, err)
		}
	}
	assert.Check(t, is.Equal(committed, 1))
	CheckBlob(t, s, dgst, b)
	refs, err := s.ListIngests(ctx)
	assert.NilError(t, err)
	assert.Check(t, is.Len(refs, 0), "%v", refs)
}

// testWalkDeleteDuringWrites runs Walk and Delete while blobs are being
// written: neither fails, and Walk sees only complete blobs.
func testWalkDeleteDuringWrites(t *testing.T, s Store) {
	ctx := t.Context()
	var wg sync.WaitGroup
	done := make(chan struct{})
	for g := range 4 {
		wg.Go(func() {
			for i := range 25 {
				b, dgst := Blob(uint64(g*100+i), 1000+i*997)
				if err := content.WriteBlob(ctx, s, fmt.Sprint("g", g), strings.NewReader(string(b)), int64(len(b)), dgst); err != nil {
					t.Errorf("write %s: %v", dgst, err)
				}
			}
		})
	}
	var walker sync.WaitGroup
	walker.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			err := s.Walk(ctx, func(info content.Info) error {
				ra, err := s.ReaderAt(ctx, info.Digest)
				if errdefs.IsNotFound(err) {
					return nil
				} else if err != nil {
					return err
				}
				defer ra.Close()
				got, err := io.ReadAll(io.NewSectionReader(ra, 0, ra.Size()))
				if err != nil {
					return err
				}
				if info.Digest.Algorithm().FromBytes(got) != info.Digest {
					return fmt.Errorf("blob %s is incomplete or corrupt", info.Digest)
				}
				if err := s.Delete(ctx, info.Digest); err != nil && !errdefs.IsNotFound(err) {
					return err
				}
				return nil
			})
			if err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
	close(done)
	walker.Wait()
}
