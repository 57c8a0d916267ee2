// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package snapshot defines berth's Snapshotter, which makes the
// filesystems of images and containers, on the model of containerd's
// core/snapshots. Implementations: overlay (the default) and native (a
// copy per snapshot, for file systems overlayfs cannot use as upper).
// Their conformance suite is package testsuite.
//
// # Vocabulary
//
// A snapshot is a filesystem tree named by a key the caller chooses: a
// layer's chain ID ("sha256:…") for committed layers, a container ID for
// its writable layer. It has a Kind:
//
//   - active: writable, made by Prepare on a committed parent (or on
//     nothing). Mount it with the mounts Prepare returns, write to it,
//     unmount, then Commit it or Remove it.
//   - committed: immutable, made by Commit from an active snapshot, which
//     disappears. Only committed snapshots can be parents. They are not
//     mounted themselves: a View or Prepare on them is.
//   - view: read-only, made by View on a committed parent.
//
// The parent chain of a snapshot is the stack of layers below it, nearest
// first. Remove refuses a snapshot that is the parent of another, so a
// chain is always complete; removing a chain goes from the top down.
//
// # Worked example: unpacking an image and starting a container
//
//	// layer 1 on nothing, layer 2 on layer 1
//	mounts, err := sn.Prepare(ctx, "extract-"+chain1, "", nil)
//	err = snapshot.WithTempMount(ctx, mounts, func(root string) error {
//		_, err := archive.Apply(ctx, root, layer1, archive.ApplyOptions{})
//		return err
//	})
//	err = sn.Commit(ctx, chain1, "extract-"+chain1, nil)
//	mounts, err = sn.Prepare(ctx, "extract-"+chain2, chain1, nil)
//	// On overlay, a layer with a parent is applied to the upper directory
//	// itself, not through the mount: overlayfs refuses to create whiteout
//	// devices through its own mount (EPERM). The native snapshotter has
//	// no upper directory: apply through the mount with RemoveWhiteouts.
//	upper, _, err := snapshot.DiffDirs(mounts)
//	_, err = archive.Apply(ctx, upper, layer2, archive.ApplyOptions{})
//	err = sn.Commit(ctx, chain2, "extract-"+chain2, nil)
//	// a container on the image
//	mounts, err = sn.Prepare(ctx, containerID, chain2, nil)
//	err = snapshot.MountAll(mounts, rootfs)
//	... run it; snapshot.UnmountAll(rootfs) ...
//	upper, lower, err := snapshot.DiffDirs(mounts) // for archive.WriteDiff
//	err = sn.Remove(ctx, containerID)
//
// # Contract
//
//   - Keys are any non-empty string of at most 4096 bytes. Prepare and View
//     of an existing key, or Commit to an existing name, fail with
//     errdefs.ErrAlreadyExists; an unknown key or parent with
//     errdefs.ErrNotFound; a parent that is not committed with
//     errdefs.ErrInvalidArgument; Commit of a snapshot that is not
//     active, Mounts of a committed one and Remove of a parent with
//     errdefs.ErrFailedPrecondition.
//   - Commit replaces the labels with the ones it is given.
//   - The mounts are one Mount for every snapshot berth makes; pass them to
//     Mount.Mount, MountAll or WithTempMount, which handle read-only binds
//     and lowerdir lists longer than mount(2) takes. They stay valid until
//     the snapshot is committed or removed; a snapshot must be unmounted
//     before Commit or Remove.
//   - Metadata changes are bbolt transactions, so a crash (kill -9) keeps a
//     snapshot whole or not at all; what a crash leaves on disk is cleaned
//     when the snapshotter is next opened. One process opens a root at a
//     time; every method is safe for concurrent use.
package snapshot
