// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package builder builds images from Dockerfiles with the classic
// builder's semantics: one stage after the other, one instruction after
// the other, each instruction that changes files running in a container
// of the daemon's own and committed as a layer on the previous image.
//
// The Dockerfile is parsed by buildkit's parser and instructions packages
// (no grammar of berth's own); the build context is a directory the
// caller extracted (ExtractContext, which applies .dockerignore with
// moby/patternmatcher). The daemon implements Backend: containers, mounts,
// commits, the cache records and names.
//
// # Cache
//
// Every step's image is recorded under a cache key: the SHA-256 of the
// parent image ID, the instruction with its arguments as they were
// resolved (build args, environment), and for COPY and ADD a digest of
// the copied files' names, modes, owners, link targets and contents. A
// step whose key is recorded, and whose image still exists, is not run
// again ("Using cache"). The records live with the image store's names
// (image.CommitStep), so they survive daemon restarts; `builder prune`
// deletes them.
//
// # Confinement
//
// Sources of COPY and ADD resolve inside the context: a path that leaves
// it ("../x") or a symlink on the way that points outside it is refused;
// destinations resolve inside the step's root filesystem with securejoin.
package builder
