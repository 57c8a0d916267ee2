// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package testsuite is the conformance suite for snapshotters: every
// implementation's tests call Run, so they all keep the contract written
// in package snapshot's documentation. The tests mount what the
// snapshotter returns, so most need root.
package testsuite
