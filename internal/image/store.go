// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-project/berth/internal/content"
	"github.com/berth-project/berth/internal/distribution"
	"github.com/berth-project/berth/internal/metadata"
	"github.com/berth-project/berth/internal/snapshot"
	"github.com/berth-project/berth/internal/snapshot/overlay"
)

// danglingPrefix names the record of an image that has no name left.
const danglingPrefix = "moby-dangling@"

// Image is an image as the store knows it: every name that points at the
// same config, grouped under the image ID.
type Image struct {
	// ID is the digest of the config.
	ID digest.Digest
	// RepoTags and RepoDigests are the image's names, normalized and
	// sorted: "docker.io/library/busybox:latest",
	// "docker.io/library/busybox@sha256:…". Both are empty for a dangling
	// image.
	RepoTags    []string
	RepoDigests []string
	// Target is the manifest or index the image's names point at (that of
	// its first tag when they differ).
	Target ocispec.Descriptor
	// Manifest is the platform's image manifest: Target itself, or the one
	// chosen from the index.
	Manifest ocispec.Descriptor
	// Config is the image config; Layers the compressed layer blobs,
	// bottom first.
	Config ocispec.Image
	Layers []ocispec.Descriptor
	// ChainID names the committed snapshot of the top layer; "" for an
	// image without layers.
	ChainID digest.Digest
	// Intermediate is set for an image that only the build cache names
	// (see CommitStep): `images` shows it with -a only, as Docker does.
	Intermediate bool
}

// Store is the image store. It is safe for concurrent use; one process
// opens a root at a time.
type Store struct {
	content *content.Store
	sn      snapshot.Snapshotter
	db      *metadata.DB
	// unpackDir holds the layers a stager unpacks while they are stored.
	unpackDir string

	// gcMu is held for writing by GC and for reading by everything that
	// stores blobs or snapshots and then records them.
	gcMu sync.RWMutex
	// mu serializes changes to the records.
	mu sync.Mutex
	// manifests caches resolved targets: content is immutable.
	manifests sync.Map // digest.Digest → resolved
}

// resolved is what a target leads to.
type resolved struct {
	manifest ocispec.Descriptor
	config   ocispec.Descriptor
	image    ocispec.Image
	layers   []ocispec.Descriptor
}

// New opens the image store at root (see the package documentation for
// its layout), creating it if needed.
func New(ctx context.Context, root string) (*Store, error) {
	cs, err := content.New(filepath.Join(root, "content"))
	if err != nil {
		return nil, err
	}
	db, err := metadata.Open(root)
	if err != nil {
		return nil, err
	}
	// What a stager left when its process died is named by nothing. The
	// database's lock, taken above, says no other process uses root.
	unpackDir := filepath.Join(root, "unpack")
	if err := errors.Join(os.RemoveAll(unpackDir), os.Mkdir(unpackDir, 0o700)); err != nil {
		db.Close()
		return nil, fmt.Errorf("image store %s: %w", root, err)
	}
	sn, err := overlay.New(ctx, filepath.Join(root, "snapshots", "overlay"))
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Store{content: cs, sn: sn, db: db, unpackDir: unpackDir}, nil
}

// Close closes the metadata database and the snapshotter.
func (s *Store) Close() error {
	return errors.Join(s.sn.Close(), s.db.Close())
}

// Content returns the store's blob store.
func (s *Store) Content() *content.Store { return s.content }

// Snapshotter returns the store's snapshotter, where containers' writable
// layers made by Mounts live (and are removed).
func (s *Store) Snapshotter() snapshot.Snapshotter { return s.sn }

// List returns every image, dangling ones included, sorted by ID.
func (s *Store) List(ctx context.Context) ([]Image, error) {
	recs, err := s.db.ListImages(ctx)
	if err != nil {
		return nil, err
	}
	byID := map[digest.Digest]*Image{}
	var ids []digest.Digest
	named := map[digest.Digest]bool{}
	for _, rec := range recs {
		r, err := s.resolve(ctx, rec.Target)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", rec.Name, err)
		}
		img := byID[r.config.Digest]
		if img == nil {
			img = newImage(rec.Target, r)
			byID[img.ID] = img
			ids = append(ids, img.ID)
		}
		if !strings.HasPrefix(rec.Name, cachePrefix) {
			named[img.ID] = true
		}
		switch kind, _ := nameKind(rec.Name); kind {
		case kindTag:
			if len(img.RepoTags) == 0 {
				img.Target = rec.Target
			}
			img.RepoTags = append(img.RepoTags, rec.Name)
		case kindDigest:
			img.RepoDigests = append(img.RepoDigests, rec.Name)
		}
	}
	slices.Sort(ids)
	imgs := make([]Image, 0, len(ids))
	for _, id := range ids {
		byID[id].Intermediate = !named[id]
		imgs = append(imgs, *byID[id])
	}
	return imgs, nil
}

func newImage(target ocispec.Descriptor, r resolved) *Image {
	img := &Image{ID: r.config.Digest, Target: target, Manifest: r.manifest, Config: r.image, Layers: r.layers}
	if ids := r.image.RootFS.DiffIDs; len(ids) > 0 {
		img.ChainID = identity.ChainID(ids)
	}
	return img
}

type kind int

const (
	kindDangling kind = iota
	kindTag
	kindDigest
)

// nameKind says what a record name is, and parses it.
func nameKind(name string) (kind, reference.Named) {
	if strings.HasPrefix(name, danglingPrefix) {
		return kindDangling, nil
	}
	n, err := reference.ParseNamed(name)
	if err != nil {
		return kindDangling, nil
	}
	if _, ok := n.(reference.Canonical); ok {
		return kindDigest, n
	}
	return kindTag, n
}

// hexID reports whether s is "sha256:" (optional) and then min to 64
// lowercase hex digits. (No regexp: compiling one at package init costs
// every berth process, the CLI's included.)
func hexID(s string, min int) bool {
	s = strings.TrimPrefix(s, "sha256:")
	if len(s) < min || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Get finds an image by name ("busybox", "localhost:5000/app:1",
// "app@sha256:…"), by ID ("sha256:…" or the 64 hex digits) or by a
// prefix of the ID, as Docker does. An unknown image is errdefs.ErrNotFound
// ("No such image: …"); a prefix that several IDs share is
// errdefs.ErrInvalidArgument.
func (s *Store) Get(ctx context.Context, ref string) (Image, error) {
	img, _, err := s.lookup(ctx, ref)
	return img, err
}

// lookup is Get that also returns the record name when ref names one.
func (s *Store) lookup(ctx context.Context, ref string) (Image, string, error) {
	if !hexID(ref, 64) {
		if n, err := distribution.ParseRef(ref); err == nil {
			rec, err := s.db.GetImage(ctx, n.String())
			if err == nil {
				r, err := s.resolve(ctx, rec.Target)
				if err != nil {
					return Image{}, "", fmt.Errorf("image %s: %w", rec.Name, err)
				}
				return s.byID(ctx, r.config.Digest, rec.Name)
			}
			if !errdefs.IsNotFound(err) {
				return Image{}, "", err
			}
		}
	}
	if hexID(ref, 1) {
		prefix := ref
		if !strings.HasPrefix(prefix, "sha256:") {
			prefix = "sha256:" + prefix
		}
		imgs, err := s.List(ctx)
		if err != nil {
			return Image{}, "", err
		}
		var found []Image
		for _, img := range imgs {
			if strings.HasPrefix(img.ID.String(), prefix) {
				found = append(found, img)
			}
		}
		switch len(found) {
		case 1:
			return found[0], "", nil
		case 0:
		default:
			return Image{}, "", errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("image ID prefix %q is ambiguous", ref))
		}
	}
	return Image{}, "", errdefs.ErrNotFound.WithMessage("No such image: " + ref)
}

func (s *Store) byID(ctx context.Context, id digest.Digest, name string) (Image, string, error) {
	imgs, err := s.List(ctx)
	if err != nil {
		return Image{}, "", err
	}
	for _, img := range imgs {
		if img.ID == id {
			return img, name, nil
		}
	}
	return Image{}, "", errdefs.ErrNotFound.WithMessage("No such image: " + id.String())
}

// resolve reads what target leads to: the platform's manifest, its config
// and its layers.
func (s *Store) resolve(ctx context.Context, target ocispec.Descriptor) (resolved, error) {
	if r, ok := s.manifests.Load(target.Digest); ok {
		return r.(resolved), nil
	}
	raw, err := s.readBlob(ctx, target.Digest)
	if err != nil {
		return resolved{}, err
	}
	var probe struct {
		MediaType string               `json:"mediaType"`
		Manifests []ocispec.Descriptor `json:"manifests"`
		Config    ocispec.Descriptor   `json:"config"`
		Layers    []ocispec.Descriptor `json:"layers"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return resolved{}, fmt.Errorf("manifest %s: %w", target.Digest, err)
	}
	var r resolved
	if isIndex(target.MediaType) || probe.Manifests != nil {
		child, err := s.pickManifest(ctx, probe.Manifests)
		if err != nil {
			return resolved{}, fmt.Errorf("index %s: %w", target.Digest, err)
		}
		if r, err = s.resolve(ctx, child); err != nil {
			return resolved{}, err
		}
	} else {
		r = resolved{manifest: target, config: probe.Config, layers: probe.Layers}
		cb, err := s.readBlob(ctx, probe.Config.Digest)
		if err != nil {
			return resolved{}, err
		}
		if err := json.Unmarshal(cb, &r.image); err != nil {
			return resolved{}, fmt.Errorf("config %s: %w", probe.Config.Digest, err)
		}
		if len(r.image.RootFS.DiffIDs) != len(r.layers) {
			return resolved{}, errdefs.ErrFailedPrecondition.WithMessage(fmt.Sprintf("manifest %s has %d layers but its config %d diff_ids", target.Digest, len(r.layers), len(r.image.RootFS.DiffIDs)))
		}
	}
	s.manifests.Store(target.Digest, r)
	return r, nil
}

// pickManifest chooses the stored linux manifest for this machine's
// architecture from an index.
func (s *Store) pickManifest(ctx context.Context, ms []ocispec.Descriptor) (ocispec.Descriptor, error) {
	for _, m := range ms {
		if m.Platform == nil || m.Platform.OS != "linux" || m.Platform.Architecture != runtime.GOARCH {
			continue
		}
		if _, err := s.content.Info(ctx, m.Digest); err == nil {
			return m, nil
		}
	}
	return ocispec.Descriptor{}, errdefs.ErrNotFound.WithMessage(fmt.Sprintf("no stored manifest for linux/%s", runtime.GOARCH))
}

func isIndex(mediaType string) bool {
	return mediaType == ocispec.MediaTypeImageIndex || mediaType == distribution.MediaTypeDockerManifestList
}

func (s *Store) readBlob(ctx context.Context, d digest.Digest) ([]byte, error) {
	ra, err := s.content.ReaderAt(ctx, d)
	if err != nil {
		return nil, err
	}
	defer ra.Close()
	return io.ReadAll(io.NewSectionReader(ra, 0, ra.Size()))
}

func (s *Store) readJSON(ctx context.Context, d digest.Digest, v any) error {
	b, err := s.readBlob(ctx, d)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", d, err)
	}
	return nil
}
