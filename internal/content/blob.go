// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package content

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
)

// Ingester is the writing half of a store: *Store, and any store layered
// on it, such as one that records blobs in metadata.
type Ingester interface {
	Writer(ctx context.Context, ref string, expected digest.Digest, expectedSize int64) (Writer, error)
	Abort(ctx context.Context, ref string) error
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// WriteBlob copies r into s as the blob expected, of size bytes (0 when
// unknown), through the ingest ref. A blob that is already stored is
// success. An ingest left by an earlier attempt is resumed when r is an
// io.Seeker, else restarted. When the content does not match size or
// expected, the ingest is aborted and the errdefs.ErrFailedPrecondition
// error returned: nothing is left half-stored. When another writer holds
// ref, WriteBlob returns its errdefs.ErrUnavailable error at once; the
// caller decides whether to wait for that writer's blob.
func WriteBlob(ctx context.Context, s Ingester, ref string, r io.Reader, size int64, expected digest.Digest) (retErr error) {
	w, err := s.Writer(ctx, ref, expected, size)
	if errdefs.IsAlreadyExists(err) {
		return nil
	} else if err != nil {
		return err
	}
	defer func() {
		if cerr := w.Close(); retErr == nil {
			retErr = cerr
		}
	}()

	if off := w.Offset(); off > 0 {
		seeker, ok := r.(io.Seeker)
		if ok {
			_, err = seeker.Seek(off, io.SeekStart)
		}
		if !ok || err != nil {
			if err := w.Truncate(0); err != nil {
				return err
			}
		}
	}
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	if _, err := io.CopyBuffer(w, ctxReader{ctx, r}, *buf); err != nil {
		return fmt.Errorf("write blob %s: %w", expected, err)
	}
	err = w.Commit(ctx, size, expected)
	switch {
	case errdefs.IsAlreadyExists(err):
		return nil
	case errdefs.IsFailedPrecondition(err):
		w.Close()
		if aerr := s.Abort(ctx, ref); aerr != nil && !errdefs.IsNotFound(aerr) {
			return fmt.Errorf("%w (abort: %w)", err, aerr)
		}
	}
	return err
}

// ctxReader stops a copy when its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
