// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package image

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/archive"
	"github.com/berth-project/berth/internal/distribution"
	"github.com/berth-project/berth/internal/snapshot"
)

// Status words of the unpack step, Docker's own.
const (
	StatusExtracting   = "Extracting"
	StatusPullComplete = "Pull complete"
)

// unpack makes the committed snapshot of every layer that has none yet,
// bottom up, checking each layer's uncompressed digest against its
// diff_id. Layers st unpacked while they were stored are used from
// there; st may be nil. s.gcMu is held for reading.
func (s *Store) unpack(ctx context.Context, layers []ocispec.Descriptor, diffIDs []digest.Digest, progress func(distribution.Progress), st *stager) error {
	if len(layers) != len(diffIDs) {
		return errdefs.ErrFailedPrecondition.WithMessage(fmt.Sprintf("image has %d layers but its config %d diff_ids", len(layers), len(diffIDs)))
	}
	chains := identity.ChainIDs(slices.Clone(diffIDs)) // ChainIDs writes into its argument
	parent := ""
	for i, l := range layers {
		chain := chains[i].String()
		_, err := s.sn.Stat(ctx, chain)
		switch {
		case err == nil:
		case errdefs.IsNotFound(err):
			report(progress, l, StatusExtracting)
			if err := s.applyLayer(ctx, l, diffIDs[i], chain, parent, st); err != nil {
				return err
			}
			report(progress, l, StatusPullComplete)
		default:
			return err
		}
		parent = chain
	}
	return nil
}

func report(progress func(distribution.Progress), l ocispec.Descriptor, status string) {
	if progress != nil {
		progress(distribution.Progress{ID: shortOf(l.Digest), Digest: l.Digest, Status: status})
	}
}

// applyLayer unpacks the layer blob l onto parent and commits it as chain.
func (s *Store) applyLayer(ctx context.Context, l ocispec.Descriptor, diffID digest.Digest, chain, parent string, st *stager) error {
	dir, staged, ok, err := st.take(ctx, l.Digest)
	if err != nil {
		return err
	}
	if ok {
		if staged != diffID {
			os.RemoveAll(dir)
			return diffIDMismatch(l.Digest, staged, diffID)
		}
		err := s.extractStaged(ctx, parent, chain, dir)
		if !errors.Is(err, errNotStaged) {
			return err
		}
	}
	ra, err := s.content.ReaderAt(ctx, l.Digest)
	if err != nil {
		return fmt.Errorf("layer %s: %w", l.Digest, err)
	}
	defer ra.Close()
	return s.extract(ctx, parent, func(root string) (digest.Digest, error) {
		blob := io.NewSectionReader(ra, 0, ra.Size())
		if l.Digest == diffID {
			// The blob is the uncompressed stream the diff_id names (a
			// compressed one with that digest would be a sha256
			// collision), verified when it was stored: apply it as it is,
			// without decompressing or hashing it again.
			if _, err := archive.Apply(ctx, root, blob, archive.ApplyOptions{}); err != nil {
				return "", fmt.Errorf("layer %s: %w", l.Digest, err)
			}
			return digest.Digest(chain), nil
		}
		r, err := archive.Decompress(blob)
		if err != nil {
			return "", fmt.Errorf("layer %s: %w", l.Digest, err)
		}
		defer r.Close()
		d := diffID.Algorithm().Digester()
		if _, err := archive.Apply(ctx, root, io.TeeReader(r, d.Hash()), archive.ApplyOptions{}); err != nil {
			return "", fmt.Errorf("layer %s: %w", l.Digest, err)
		}
		if d.Digest() != diffID {
			return "", diffIDMismatch(l.Digest, d.Digest(), diffID)
		}
		return digest.Digest(chain), nil
	})
}

func diffIDMismatch(blob, got, want digest.Digest) error {
	return errdefs.ErrFailedPrecondition.WithMessage(fmt.Sprintf(
		"layer %s: uncompressed content has digest %s, but the image config's diff_id is %s", blob, got, want))
}

// errNotStaged says a staged tree could not be moved into its snapshot,
// which is then unpacked from the blob.
var errNotStaged = errors.New("staged layer not usable")

// extractStaged commits the tree a stager unpacked into dir as chain, on
// parent: it prepares the snapshot, renames dir onto the snapshot's
// directory (overlay's upperdir, or the bound directory of a snapshot
// without parent: empty, as Prepare makes it, and rename(2) replaces an
// empty directory) and commits. dir is gone afterwards, whatever happens.
// A rename that fails (dir on another file system) is errNotStaged.
func (s *Store) extractStaged(ctx context.Context, parent, chain, dir string) error {
	defer os.RemoveAll(dir)
	return s.prepared(ctx, parent, func(mounts []snapshot.Mount) (digest.Digest, error) {
		target, _, err := snapshot.DiffDirs(mounts)
		if err != nil {
			return "", err
		}
		// unix.Rename, not os.Rename, which refuses any directory as
		// the target.
		if err := unix.Rename(dir, target); err != nil {
			return "", fmt.Errorf("%w: rename %s to %s: %w", errNotStaged, dir, target, err)
		}
		return digest.Digest(chain), nil
	})
}

// extract prepares an active snapshot on parent, lets fill write the
// layer into its directory and commits it under the chain ID fill returns.
// A chain ID that is already committed (by a concurrent pull) is success.
// On error nothing is left.
func (s *Store) extract(ctx context.Context, parent string, fill func(root string) (digest.Digest, error)) error {
	return s.prepared(ctx, parent, func(mounts []snapshot.Mount) (chain digest.Digest, err error) {
		if len(mounts) == 1 && mounts[0].Type == "overlay" {
			// overlayfs refuses to create a whiteout (a 0:0 device) through
			// its mount (EPERM), so a layer on a parent is written straight
			// into the snapshot's upper directory, which is unmounted, as
			// containerd and Docker's overlay2 do.
			upper, _, err := snapshot.DiffDirs(mounts)
			if err != nil {
				return "", err
			}
			return fill(upper)
		}
		err = snapshot.WithTempMount(ctx, mounts, func(root string) error {
			chain, err = fill(root)
			return err
		})
		return chain, err
	})
}

// prepared prepares an active snapshot on parent, lets fill write the
// layer through its mounts and commits it under the chain ID fill
// returns. A chain ID that is already committed (by a concurrent pull) is
// success. On error nothing is left.
func (s *Store) prepared(ctx context.Context, parent string, fill func(mounts []snapshot.Mount) (digest.Digest, error)) error {
	key := "extract-" + rand.Text()
	mounts, err := s.sn.Prepare(ctx, key, parent, nil)
	if err != nil {
		return err
	}
	chain, err := fill(mounts)
	if err == nil {
		err = s.sn.Commit(ctx, chain.String(), key, nil)
		if err == nil {
			return nil
		}
		if errdefs.IsAlreadyExists(err) {
			err = nil
		}
	}
	if rerr := s.sn.Remove(context.WithoutCancel(ctx), key); rerr != nil && err == nil {
		return rerr
	}
	return err
}
