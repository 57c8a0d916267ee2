// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package distribution

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/berth-project/berth/internal/content"
)

// PushOptions are Push's optional arguments.
type PushOptions struct {
	// MountFrom, if not nil, names a repository that holds a blob, such
	// as the one it was pulled from. When that repository is on the
	// registry pushed to, the registry is asked to mount the blob from
	// it instead of receiving it again.
	MountFrom func(digest.Digest) (reference.Named, bool)
	// Progress, if not nil, gets Docker's per-layer events: "Preparing",
	// "Pushing" with byte counts, "Pushed", "Layer already exists" and
	// "Mounted from <repository>".
	Progress func(Progress)
}

// Push uploads the manifest (an image manifest, or an index whose
// manifests are all in the store) and every blob it names from the
// content store to ref's repository, then puts the manifest under ref's
// tag (or digest). Blobs the registry already has are not sent. Blobs are
// uploaded in parallel, Client.Concurrency at a time.
func (c *Client) Push(ctx context.Context, store *content.Store, ref reference.Named, manifest []byte, mediaType string, opts PushOptions) error {
	if err := c.init(); err != nil {
		return err
	}
	n, err := toName(ref)
	if err != nil {
		return err
	}
	if n, err = c.name(n); err != nil {
		return errdefs.ErrInvalidArgument.WithMessage(err.Error())
	}
	p := pusher{c: c, store: store, repo: n.Context(), opts: opts, sink: newSink(opts.Progress)}
	if err := p.pushDeps(ctx, manifest, mediaType); err != nil {
		return err
	}
	err = c.pusher.Put(ctx, n, rawManifest{manifest, types.MediaType(mediaTypeOf(manifest, mediaType))})
	return classify(err, "push manifest "+reference.FamiliarString(ref))
}

type pusher struct {
	c     *Client
	store *content.Store
	repo  name.Repository
	opts  PushOptions
	sink  *progressSink
}

// pushDeps uploads what a manifest names: the blobs of an image
// manifest, or the manifests (and their blobs) of an index.
func (p *pusher) pushDeps(ctx context.Context, raw []byte, mediaType string) error {
	if isIndex(raw, mediaType) {
		var idx ocispec.Index
		if err := json.Unmarshal(raw, &idx); err != nil {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("push index: %v", err))
		}
		for _, d := range idx.Manifests {
			child, err := readBlob(ctx, p.store, d.Digest)
			if err != nil {
				return fmt.Errorf("push index: manifest %s: %w", d.Digest, err)
			}
			if err := p.pushDeps(ctx, child, d.MediaType); err != nil {
				return err
			}
			err = p.c.pusher.Put(ctx, p.repo.Digest(d.Digest.String()), rawManifest{child, types.MediaType(mediaTypeOf(child, d.MediaType))})
			if err != nil {
				return classify(err, "push manifest "+d.Digest.String())
			}
		}
		return nil
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("push manifest: %v", err))
	}
	for _, l := range m.Layers {
		p.sink.send(l.Digest, StatusPreparing, 0, 0)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(p.c.concurrency())
	for _, l := range m.Layers {
		g.Go(func() error { return p.pushBlob(gctx, l, true) })
	}
	g.Go(func() error { return p.pushBlob(gctx, m.Config, false) })
	return g.Wait()
}

func (p *pusher) pushBlob(ctx context.Context, desc ocispec.Descriptor, report bool) error {
	bl := &storeBlob{ctx: ctx, store: p.store, desc: desc}
	if report {
		bl.sink = p.sink
	}
	var layer v1.Layer = bl
	var mountedFrom string
	if p.opts.MountFrom != nil {
		if src, ok := p.opts.MountFrom(desc.Digest); ok {
			srcRef, err := name.NewDigest(reference.Domain(src)+"/"+reference.Path(src)+"@"+desc.Digest.String(), p.nameOpts(src)...)
			if err == nil && srcRef.Context().RegistryStr() == p.repo.RegistryStr() && srcRef.Context().RepositoryStr() != p.repo.RepositoryStr() {
				layer = &remote.MountableLayer{Layer: bl, Reference: srcRef}
				mountedFrom = srcRef.Context().RepositoryStr()
			}
		}
	}
	if err := p.c.pusher.Upload(ctx, p.repo, layer); err != nil {
		return classify(err, fmt.Sprintf("push blob %s", desc.Digest))
	}
	if !report {
		return nil
	}
	switch {
	case bl.opened.Load():
		p.sink.send(desc.Digest, StatusPushed, desc.Size, desc.Size)
	case mountedFrom != "":
		p.sink.send(desc.Digest, StatusMountedFrom+" "+mountedFrom, 0, 0)
	default:
		p.sink.send(desc.Digest, StatusLayerAlreadyExists, 0, 0)
	}
	return nil
}

func (p *pusher) nameOpts(src reference.Named) []name.Option {
	if p.c.plainHTTPAllowed(reference.Domain(src)) {
		return []name.Option{name.Insecure}
	}
	return nil
}

// storeBlob is a blob in the content store as go-containerregistry's
// layer (only the compressed side is ever read).
type storeBlob struct {
	ctx    context.Context
	store  *content.Store
	desc   ocispec.Descriptor
	sink   *progressSink
	opened atomic.Bool
}

func (b *storeBlob) Digest() (v1.Hash, error) { return v1.NewHash(b.desc.Digest.String()) }
func (b *storeBlob) DiffID() (v1.Hash, error) { return v1.NewHash(b.desc.Digest.String()) }
func (b *storeBlob) Size() (int64, error)     { return b.desc.Size, nil }
func (b *storeBlob) MediaType() (types.MediaType, error) {
	return types.MediaType(b.desc.MediaType), nil
}

func (b *storeBlob) Uncompressed() (io.ReadCloser, error) {
	return nil, errdefs.ErrNotImplemented.WithMessage("uncompressed blob")
}

func (b *storeBlob) Compressed() (io.ReadCloser, error) {
	ra, err := b.store.ReaderAt(b.ctx, b.desc.Digest)
	if err != nil {
		return nil, err
	}
	b.opened.Store(true)
	var r io.Reader = io.NewSectionReader(ra, 0, ra.Size())
	if b.sink != nil {
		r = &countingReader{r: r, sink: b.sink, digest: b.desc.Digest, status: StatusPushing, total: b.desc.Size}
	}
	return struct {
		io.Reader
		io.Closer
	}{r, ra}, nil
}

// rawManifest is a manifest to put as is.
type rawManifest struct {
	raw       []byte
	mediaType types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.raw, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mediaType, nil }

func readBlob(ctx context.Context, store *content.Store, d digest.Digest) ([]byte, error) {
	ra, err := store.ReaderAt(ctx, d)
	if err != nil {
		return nil, err
	}
	defer ra.Close()
	return io.ReadAll(io.NewSectionReader(ra, 0, ra.Size()))
}
