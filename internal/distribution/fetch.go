// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package distribution

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/berth-project/berth/internal/content"
)

// Fetch stores everything r names in the content store: the index (when
// r came through one), the manifest, the config and the layers. Layers
// are fetched in parallel (Client.Concurrency at a time) and verified by
// digest as they are written; blobs already in the store are skipped. A
// blob another process is fetching at the same time is waited for, not
// fetched twice. progress, if not nil, gets Docker's per-layer events:
// "Already exists", "Waiting", "Downloading" with byte counts, "Download
// complete". On error nothing half-written becomes visible in the store.
func (c *Client) Fetch(ctx context.Context, store *content.Store, r Resolved, progress func(Progress)) error {
	return c.FetchWith(ctx, store, r, FetchOptions{Progress: progress})
}

// FetchOptions are what FetchWith takes beyond Fetch's arguments.
type FetchOptions struct {
	// Progress, if not nil, gets the events Fetch describes.
	Progress func(Progress)
	// Layer, if not nil, is called before each layer download. w gets a
	// copy of the layer's bytes as they are written to the store, from
	// the first; done is then called once, with nil when the blob was
	// committed (its digest verified) or with the error that stopped it.
	// A layer stored before w got all of it (by another pull) is success
	// too. A layer may be downloaded again after a failed attempt, with
	// another call of Layer.
	Layer layerFunc
}

type layerFunc = func(desc ocispec.Descriptor) (w io.Writer, done func(error))

// FetchWith is Fetch with options: Fetch(ctx, store, r, progress) is
// FetchWith(ctx, store, r, FetchOptions{Progress: progress}).
func (c *Client) FetchWith(ctx context.Context, store *content.Store, r Resolved, opts FetchOptions) error {
	if err := c.init(); err != nil {
		return err
	}
	n, err := toName(r.Name)
	if err != nil {
		return err
	}
	if n, err = c.name(n); err != nil {
		return errdefs.ErrInvalidArgument.WithMessage(err.Error())
	}
	repo := n.Context()
	sink := newSink(opts.Progress)

	// Layers first (their events come first, as in Docker), the config
	// with them; manifest and index last, so a stored manifest means its
	// blobs are stored too.
	var todo []ocispec.Descriptor
	for _, l := range r.Layers {
		if _, err := store.Info(ctx, l.Digest); err == nil {
			sink.send(l.Digest, StatusAlreadyExists, 0, 0)
			continue
		}
		sink.send(l.Digest, StatusWaiting, 0, 0)
		todo = append(todo, l)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.concurrency())
	for _, l := range todo {
		g.Go(func() error { return c.fetchBlob(gctx, store, repo, l, sink, true, opts.Layer) })
	}
	g.Go(func() error { return c.fetchBlob(gctx, store, repo, r.Config, sink, false, nil) })
	if err := g.Wait(); err != nil {
		return err
	}
	if err := storeBytes(ctx, store, r.Manifest.Digest, r.Raw); err != nil {
		return err
	}
	if r.Index != nil {
		return storeBytes(ctx, store, r.Target.Digest, r.Index)
	}
	return nil
}

// fetchBlob copies one blob into the store unless it is there already.
// report is set for layers; layer is FetchOptions.Layer, or nil.
func (c *Client) fetchBlob(ctx context.Context, store *content.Store, repo name.Repository, desc ocispec.Descriptor, sink *progressSink, report bool, layer layerFunc) error {
	what := fmt.Sprintf("blob %s from %s", desc.Digest, repo)
	for {
		if _, err := store.Info(ctx, desc.Digest); err == nil {
			if report {
				sink.send(desc.Digest, StatusDownloadComplete, desc.Size, desc.Size)
			}
			return nil
		}
		err := c.download(ctx, store, repo, desc, sink, report, layer)
		if !errdefs.IsUnavailable(err) || !isLocked(err) {
			if err != nil {
				return classify(err, what)
			}
			if report {
				sink.send(desc.Digest, StatusDownloadComplete, desc.Size, desc.Size)
			}
			return nil
		}
		// Another pull holds the ingest: wait for its blob (or for it to
		// give up, and then fetch it ourselves).
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// errLocked marks the content store's "ingest in use" as opposed to an
// unreachable registry, which is ErrUnavailable too.
type errLocked struct{ error }

func (e errLocked) Unwrap() error { return e.error }

func isLocked(err error) bool {
	_, ok := err.(errLocked)
	return ok
}

func (c *Client) download(ctx context.Context, store *content.Store, repo name.Repository, desc ocispec.Descriptor, sink *progressSink, report bool, layer layerFunc) error {
	body := &lazyBlob{open: func() (io.ReadCloser, error) {
		l, err := c.puller.Layer(ctx, repo.Digest(desc.Digest.String()))
		if err != nil {
			return nil, err
		}
		return l.Compressed()
	}}
	defer body.Close()
	var r io.Reader = body
	if report {
		r = &countingReader{r: body, sink: sink, digest: desc.Digest, status: StatusDownloading, total: desc.Size}
	}
	var done func(error)
	if layer != nil {
		var w io.Writer
		w, done = layer(desc)
		// Not a Seeker, so WriteBlob restarts a left ingest from the
		// first byte, which w then sees.
		r = io.TeeReader(r, w)
	}
	err := content.WriteBlob(ctx, store, "pull-"+desc.Digest.String(), r, desc.Size, desc.Digest)
	if done != nil {
		done(err)
	}
	if errdefs.IsUnavailable(err) && !body.tried {
		return errLocked{err}
	}
	return err
}

// lazyBlob starts the download at the first Read, so that nothing is
// requested when the ingest turns out to be locked by another pull. It is
// no io.Seeker: WriteBlob restarts an ingest left by an earlier attempt.
type lazyBlob struct {
	open  func() (io.ReadCloser, error)
	rc    io.ReadCloser
	tried bool
}

func (b *lazyBlob) Read(p []byte) (int, error) {
	if b.rc == nil {
		b.tried = true
		rc, err := b.open()
		if err != nil {
			return 0, err
		}
		b.rc = rc
	}
	return b.rc.Read(p)
}

func (b *lazyBlob) Close() error {
	if b.rc == nil {
		return nil
	}
	return b.rc.Close()
}

func storeBytes(ctx context.Context, store *content.Store, d digest.Digest, b []byte) error {
	if got := digest.FromBytes(b); got != d {
		return errdefs.ErrFailedPrecondition.WithMessage(fmt.Sprintf("manifest digest mismatch: got %s, want %s", got, d))
	}
	err := content.WriteBlob(ctx, store, "pull-"+d.String(), bytes.NewReader(b), int64(len(b)), d)
	if err != nil && !errdefs.IsAlreadyExists(err) {
		return fmt.Errorf("store manifest %s: %w", d, err)
	}
	return nil
}
