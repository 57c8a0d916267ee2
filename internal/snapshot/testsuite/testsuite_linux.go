// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package testsuite

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/containerd/errdefs"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/berth-project/berth/internal/snapshot"
	"github.com/berth-project/berth/internal/testutil"
)

// NewFunc opens the snapshotter under test rooted at root. Calling it
// again with the same root after Close reopens the same snapshots.
type NewFunc func(t *testing.T, root string) snapshot.Snapshotter

// Run runs the suite.
func Run(t *testing.T, newSnapshotter NewFunc) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, newSnapshotter NewFunc)
	}{
		{"PrepareCommitChain", testChain},
		{"WritesLandInUpper", testWritesInUpper},
		{"Whiteout", testWhiteout},
		{"View", testView},
		{"RemoveWithChildren", testRemoveWithChildren},
		{"StatWalkLabels", testStatWalkLabels},
		{"Errors", testErrors},
		{"Usage", testUsage},
		{"Reopen", testReopen},
		{"ConcurrentPrepare", testConcurrentPrepare},
		{"ArbitraryKeys", testArbitraryKeys},
		{"WithTempMount", testWithTempMount},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testutil.RequiresRoot(t)
			tc.fn(t, newSnapshotter)
		})
	}
}

// open opens a snapshotter on a fresh root and closes it at cleanup.
func open(t *testing.T, newSnapshotter NewFunc) (snapshot.Snapshotter, string) {
	root := t.TempDir()
	sn := newSnapshotter(t, root)
	t.Cleanup(func() { sn.Close() })
	return sn, root
}

// mount mounts mounts on a new directory, unmounted at cleanup even if
// the test fails (cleanups run last-in first-out, so before the
// directory is removed).
func mount(t *testing.T, mounts []snapshot.Mount) string {
	t.Helper()
	dir := t.TempDir()
	assert.NilError(t, snapshot.MountAll(mounts, dir))
	t.Cleanup(func() { assert.Check(t, snapshot.UnmountAll(dir)) })
	return dir
}

func unmount(t *testing.T, dir string) {
	t.Helper()
	assert.NilError(t, snapshot.UnmountAll(dir))
}

// change is what a layer does to the tree below it: files to write
// (path → content) and paths to remove.
type change struct {
	write  map[string]string
	remove []string
}

// commitLayer makes the committed snapshot name on parent by preparing
// it, applying ch through its mounts and committing it.
func commitLayer(t *testing.T, sn snapshot.Snapshotter, name, parent string, ch change) {
	t.Helper()
	ctx := t.Context()
	key := "extract-" + name
	mounts, err := sn.Prepare(ctx, key, parent, nil)
	assert.NilError(t, err)
	dir := mount(t, mounts)
	apply(t, dir, ch)
	unmount(t, dir)
	assert.NilError(t, sn.Commit(ctx, name, key, nil))
}

func apply(t *testing.T, dir string, ch change) {
	t.Helper()
	for p, body := range ch.write {
		assert.NilError(t, os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755))
		assert.NilError(t, os.WriteFile(filepath.Join(dir, p), []byte(body), 0o644))
	}
	for _, p := range ch.remove {
		assert.NilError(t, os.RemoveAll(filepath.Join(dir, p)))
	}
}

// checkTree checks that every path in want has that content under dir,
// or is missing when the content is "-".
func checkTree(t *testing.T, dir string, want map[string]string) {
	t.Helper()
	for p, body := range want {
		b, err := os.ReadFile(filepath.Join(dir, p))
		if body == "-" {
			assert.Check(t, os.IsNotExist(err), "%s: want missing, got %q, %v", p, b, err)
			continue
		}
		if assert.Check(t, err, "%s", p) {
			assert.Check(t, is.Equal(string(b), body), "%s", p)
		}
	}
}

// base makes three committed layers l1 ← l2 ← l3: l2 overwrites a and
// adds c, l3 removes dir/b.
func base(t *testing.T, sn snapshot.Snapshotter) {
	commitLayer(t, sn, "l1", "", change{write: map[string]string{"a": "1", "dir/b": "1"}})
	commitLayer(t, sn, "l2", "l1", change{write: map[string]string{"a": "2", "c": "2"}})
	commitLayer(t, sn, "l3", "l2", change{remove: []string{"dir/b"}})
}

func testChain(t *testing.T, newSnapshotter NewFunc) {
	ctx := t.Context()
	sn, _ := open(t, newSnapshotter)
	base(t, sn)
	for name, parent := range map[string]string{"l1": "", "l2": "l1", "l3": "l2"} {
		info, err := sn.Stat(ctx, name)
		assert.NilError(t, err)
		assert.Check(t, is.Equal(info.Kind, snapshot.KindCommitted))
		assert.Check(t, is.Equal(info.Name, name))
		assert.Check(t, is.Equal(info.Parent, parent))
	}
	for _, key := range []string{"extract-l1", "extract-l2", "extract-l3"} {
		_, err := sn.Stat(ctx, key)
		assert.Check(t, errdefs.IsNotFound(err), "%s: %v", key, err)
	}
	mounts, err := sn.Prepare(ctx, "ctr", "l3", nil)
	assert.NilError(t, err)
	dir := mount(t, mounts)
	checkTree(t, dir, map[string]string{"a": "2", "c": "2", "dir/b": "-"})
	_, err = os.Stat(filepath.Join(dir, "dir"))
	assert.Check(t, err)

	again, err := sn.Mounts(ctx, "ctr")
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(again, mounts))
}

func testWritesInUpper(t *testing.T, newSnapshotter NewFunc) {
	ctx := t.Context()
	sn, _ := open(t, newSnapshotter)
	base(t, sn)
	mounts, err := sn.Prepare(ctx, "ctr", "l3", nil)
	assert.NilError(t, err)
	dir := mount(t, mounts)
	apply(t, dir, change{write: map[string]string{"new": "ctr", "a": "ctr"}})

	upper, _, err := snapshot.DiffDirs(mounts)
	assert.NilError(t, err)
	checkTree(t, upper, map[string]string{"new": "ctr", "a": "ctr"})

	// The layers below are untouched.
	vm, err := sn.View(ctx, "view-l3", "l3", nil)
	assert.NilError(t, err)
	checkTree(t, mount(t, vm), map[string]string{"a": "2", "c": "2", "new": "-"})

	unmount(t, dir)
	assert.NilError(t, sn.Commit(ctx, "ctr-image", "ctr", nil))
	vm, err = sn.View(ctx, "view-ctr", "ctr-image", nil)
	assert.NilError(t, err)
	checkTree(t, mount(t, vm), map[string]string{"a": "ctr", "c": "2", "new": "ctr", "dir/b": "-"})
}

func testWhiteout(t *testing.T, newSnapshotter NewFunc) {
	ctx := t.Context()
	sn, _ := open(t, newSnapshotter)
	base(t, sn)
	mounts, err := sn.Prepare(ctx, "ctr", "l3", nil)
	assert.NilError(t, err)
	dir := mount(t, mounts)
	apply(t, dir, change{remove: []string{"a"}})
	checkTree(t, dir, map[string]string{"a": "-", "c": "2"})

	upper, lower, err := snapshot.DiffDirs(mounts)
	assert.NilError(t, err)
	if len(lower) > 0 {
		// Overlay: the deletion is a whiteout, a 0:0 character device.
		fi, err := os.Lstat(filepath.Join(upper, "a"))
		assert.NilError(t, err)
		assert.Check(t, fi.Mode()&os.ModeCharDevice != 0, "whiteout mode %v", fi.Mode())
	}
	vm, err := sn.View(ctx, "view-l3", "l3", nil)
	assert.NilError(t, err)
	checkTree(t, mount(t, vm), map[string]string{"a": "2"})

	unmount(t, dir)
	assert.NilError(t, sn.Commit(ctx, "l4", "ctr", nil))
	vm, err = sn.View(ctx, "view-l4", "l4", nil)
	assert.NilError(t, err)
	checkTree(t, mount(t, vm), map[string]string{"a": "-", "c": "2"})
}

func testView(t *testing.T, newSnapshotter NewFunc) {
	ctx := t.Context()
	sn, _ := open(t, newSnapshotter)
	base(t, sn)
	for _, parent := range []string{"l1", "l3", ""} {
		mounts, err := sn.View(ctx, "view-"+parent, parent, nil)
		assert.NilError(t, err)
		dir := mount(t, mounts)
		err = os.WriteFile(filepath.Join(dir, "x"), nil, 0o644)
		assert.Check(t, err != nil, "view of %q is writable", parent)
		info, err := sn.Stat(ctx, "view-"+parent)
		assert.NilError(t, err)
		assert.Check(t, is.Equal(info.Kind, snapshot.KindView))
		if parent == "l1" {
			checkTree(t, dir, map[string]string{"a": "1", "dir/b": "1"})
		}
		err = sn.Commit(ctx, "c-"+parent, "view-"+parent, nil)
		assert.Check(t, errdefs.IsFailedPrecondition(err), "commit of a view: %v", err)
	}
	_, err := sn.Prepare(ctx, "active", "l1", nil)
	assert.NilError(t, err)
	_, err = sn.View(ctx, "view-active", "active", nil)
	assert.Check(t, errdefs.IsInvalidArgument(err), "view of an active snapshot: %v", err)
	_, err = sn.View(ctx, "view-view", "view-l1", nil)
	assert.Check(t, errdefs.IsInvalidArgument(err), "view of a view: %v", err)
}

func testRemoveWithChildren(t *testing.T, newSnapshotter NewFunc) {
	ctx := t.Context()
	sn, _ := open(t, newSnapshotter)
	base(t, sn)
	_, err := sn.Prepare(ctx, "ctr", "l3", nil)
	assert.NilError(t, err)
	_, err = sn.View(ctx, "view", "l1", nil)
	assert.NilError(t, err)

	for _, key := range []string{"l1", "l2", "l3"} {
		err := sn.Remove(ctx, key)
		assert.Check(t, errdefs.IsFailedPrecondition(err), "remove %s: %v", key, err)
	}
	assert.NilError(t, sn.Remove(ctx, "ctr"))
	assert.NilError(t, sn.Remove(ctx, "l3"))
	assert.NilError(t, sn.Remove(ctx, "l2"))
	assert.Check(t, errdefs.IsFailedPrecondition(sn.Remove(ctx, "l1")))
	assert.NilError(t, sn.Remove(ctx, "view"))
	assert.NilError(t, sn.Remove(ctx, "l1"))
	err = sn.Walk(ctx, func(_ context.Context, info snapshot.Info) error {
		t.Errorf("left after removing everything: %+v", info)
		return nil
	})
	assert.NilError(t, err)
	for _, key := range []string{"l1", "ctr"} {
		_, err := sn.Stat(ctx, key)
		assert.Check(t, errdefs.IsNotFound(err))
		assert.Check(t, errdefs.IsNotFound(sn.Remove(ctx, key)))
	}
}

func testStatWalkLabels(t *testing.T, newSnapshotter NewFunc) {
	ctx := t.Context()
	sn, _ := open(t, newSnapshotter)
	commitLayer(t, sn, "l1", "", change{write: map[string]string{"a": "1"}})
	_, err := sn.Prepare(ctx, "ctr", "l1", map[string]string{"berth.container": "x"})
	assert.NilError(t, err)
	_, err = sn.View(ctx, "view", "l1", map[string]string{"v": "1"})
	assert.NilError(t, err)

	info, err := sn.Stat(ctx, "ctr")
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(info.Labels, map[string]string{"berth.container": "x"}))
	assert.Check(t, !info.Created.IsZero())
	assert.Check(t, !info.Updated.Before(info.Created))

	assert.NilError(t, sn.Commit(ctx, "img", "ctr", map[string]string{"berth.image": "y"}))
	info, err = sn.Stat(ctx, "img")
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(info, snapshot.Info{
		Kind: snapshot.KindCommitted, Name: "img", Parent: "l1",
		Labels:  map[string]string{"berth.image": "y"},
		Created: info.Created, Updated: info.Updated,
	}))

	got := map[string]snapshot.Info{}
	err = sn.Walk(ctx, func(_ context.Context, info snapshot.Info) error {
		got[info.Name] = info
		return nil
	})
	assert.NilError(t, err)
	assert.Check(t, is.Len(got, 3))
	assert.Check(t, is.Equal(got["l1"].Kind, snapshot.KindCommitted))
	assert.Check(t, is.Equal(got["img"].Parent, "l1"))
	assert.Check(t, is.Equal(got["view"].Kind, snapshot.KindView))
	assert.Check(t, is.DeepEqual(got["view"].Labels, map[string]string{"v": "1"}))

	stop := errors.New("stop")
	n := 0
	err = sn.Walk(ctx, func(context.Context, snapshot.Info) error { n++; return stop })
	assert.Check(t, is.ErrorIs(err, stop))
	assert.Check(t, is.Equal(n, 1))
}

func testErrors(t *testing.T, newSnapshotter NewFunc) {
	ctx := t.Context()
	sn, _ := open(t, newSnapshotter)
	commitLayer(t, sn, "l1", "", change{})
	_, err := sn.Prepare(ctx, "ctr", "l1", nil)
	assert.NilError(t, err)

	for _, tc := range []struct {
		name string
		err  error
		is   func(error) bool
	}{
		{"prepare existing", second(sn.Prepare(ctx, "ctr", "", nil)), errdefs.IsAlreadyExists},
		{"prepare on existing committed key", second(sn.Prepare(ctx, "l1", "", nil)), errdefs.IsAlreadyExists},
		{"view existing", second(sn.View(ctx, "ctr", "l1", nil)), errdefs.IsAlreadyExists},
		{"unknown parent", second(sn.Prepare(ctx, "x", "nope", nil)), errdefs.IsNotFound},
		{"active parent", second(sn.Prepare(ctx, "x", "ctr", nil)), errdefs.IsInvalidArgument},
		{"empty key", second(sn.Prepare(ctx, "", "", nil)), errdefs.IsInvalidArgument},
		{"stat unknown", second(sn.Stat(ctx, "nope")), errdefs.IsNotFound},
		{"usage unknown", second(sn.Usage(ctx, "nope")), errdefs.IsNotFound},
		{"mounts unknown", second(sn.Mounts(ctx, "nope")), errdefs.IsNotFound},
		{"mounts committed", second(sn.Mounts(ctx, "l1")), errdefs.IsFailedPrecondition},
		{"commit unknown", sn.Commit(ctx, "y", "nope", nil), errdefs.IsNotFound},
		{"commit to existing name", sn.Commit(ctx, "l1", "ctr", nil), errdefs.IsAlreadyExists},
		{"commit committed", sn.Commit(ctx, "y", "l1", nil), errdefs.IsFailedPrecondition},
		{"remove unknown", sn.Remove(ctx, "nope"), errdefs.IsNotFound},
	} {
		assert.Check(t, tc.is(tc.err), "%s: got %v", tc.name, tc.err)
	}
	// The failures changed nothing.
	info, err := sn.Stat(ctx, "ctr")
	assert.NilError(t, err)
	assert.Check(t, is.Equal(info.Kind, snapshot.KindActive))
	_, err = sn.Stat(ctx, "x")
	assert.Check(t, errdefs.IsNotFound(err))
}

func second[T any](_ T, err error) error { return err }

func testUsage(t *testing.T, newSnapshotter NewFunc) {
	ctx := t.Context()
	sn, _ := open(t, newSnapshotter)
	mounts, err := sn.Prepare(ctx, "ctr", "", nil)
	assert.NilError(t, err)
	empty, err := sn.Usage(ctx, "ctr")
	assert.NilError(t, err)

	dir := mount(t, mounts)
	const size = 1 << 20
	assert.NilError(t, os.WriteFile(filepath.Join(dir, "big"), make([]byte, size), 0o644))
	assert.NilError(t, os.Mkdir(filepath.Join(dir, "d"), 0o755))
	assert.NilError(t, os.Link(filepath.Join(dir, "big"), filepath.Join(dir, "d", "link")))
	unmount(t, dir)

	used, err := sn.Usage(ctx, "ctr")
	assert.NilError(t, err)
	assert.Check(t, is.Equal(used.Inodes, empty.Inodes+2), "hardlinks count once")
	assert.Check(t, used.Size >= empty.Size+size, "%d < %d + %d", used.Size, empty.Size, size)
	assert.Check(t, used.Size < empty.Size+2*size, "hardlinks count once: %d", used.Size)

	assert.NilError(t, sn.Commit(ctx, "l1", "ctr", nil))
	committed, err := sn.Usage(ctx, "l1")
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(committed, used))
}

func testReopen(t *testing.T, newSnapshotter NewFunc) {
	ctx := t.Context()
	root := t.TempDir()
	sn := newSnapshotter(t, root)
	base(t, sn)
	mounts, err := sn.Prepare(ctx, "ctr", "l3", map[string]string{"k": "v"})
	assert.NilError(t, err)
	var before []snapshot.Info
	assert.NilError(t, sn.Walk(ctx, func(_ context.Context, info snapshot.Info) error {
		before = append(before, info)
		return nil
	}))
	assert.NilError(t, sn.Close())

	sn = newSnapshotter(t, root)
	t.Cleanup(func() { sn.Close() })
	var after []snapshot.Info
	assert.NilError(t, sn.Walk(ctx, func(_ context.Context, info snapshot.Info) error {
		after = append(after, info)
		return nil
	}))
	assert.Assert(t, is.Len(after, len(before)))
	for i := range before {
		b, a := before[i], after[i]
		assert.Check(t, b.Created.Equal(a.Created) && b.Updated.Equal(a.Updated), "%s: times", b.Name)
		b.Created, b.Updated, a.Created, a.Updated = a.Created, a.Updated, b.Created, b.Updated
		assert.Check(t, is.DeepEqual(a, b))
	}
	again, err := sn.Mounts(ctx, "ctr")
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(again, mounts))
	checkTree(t, mount(t, again), map[string]string{"a": "2", "c": "2", "dir/b": "-"})
	// Still usable for new work.
	commitLayer(t, sn, "l4", "l3", change{write: map[string]string{"d": "4"}})
}

func testConcurrentPrepare(t *testing.T, newSnapshotter NewFunc) {
	ctx := t.Context()
	sn, _ := open(t, newSnapshotter)
	commitLayer(t, sn, "l1", "", change{write: map[string]string{"a": "1"}})
	const n = 16
	results := make([][]snapshot.Mount, n)
	errs := make([]error, n)
	start := make(chan struct{})
	done := make(chan int)
	for i := range n {
		go func() {
			<-start
			results[i], errs[i] = sn.Prepare(ctx, "ctr-"+string(rune('a'+i)), "l1", nil)
			done <- i
		}()
	}
	close(start)
	for range n {
		<-done
	}
	uppers := map[string]bool{}
	for i := range n {
		if !assert.Check(t, errs[i]) {
			continue
		}
		upper, _, err := snapshot.DiffDirs(results[i])
		assert.NilError(t, err)
		assert.Check(t, !uppers[upper], "two snapshots share %s", upper)
		uppers[upper] = true
		checkTree(t, mount(t, results[i]), map[string]string{"a": "1"})
	}
}

func testArbitraryKeys(t *testing.T, newSnapshotter NewFunc) {
	ctx := t.Context()
	sn, _ := open(t, newSnapshotter)
	parent := ""
	for _, key := range []string{
		"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"a/b/../c", "with space", "ünïcödé", "..", "key:with:colons", string(make([]byte, 300)),
	} {
		commitLayer(t, sn, key, parent, change{write: map[string]string{"f": key}})
		info, err := sn.Stat(ctx, key)
		assert.NilError(t, err)
		assert.Check(t, is.Equal(info.Parent, parent))
		parent = key
	}
	mounts, err := sn.View(ctx, "v", parent, nil)
	assert.NilError(t, err)
	checkTree(t, mount(t, mounts), map[string]string{"f": parent})
}

func testWithTempMount(t *testing.T, newSnapshotter NewFunc) {
	ctx := t.Context()
	sn, _ := open(t, newSnapshotter)
	commitLayer(t, sn, "l1", "", change{write: map[string]string{"a": "1"}})
	mounts, err := sn.Prepare(ctx, "ctr", "l1", nil)
	assert.NilError(t, err)
	var root string
	err = snapshot.WithTempMount(ctx, mounts, func(r string) error {
		root = r
		checkTree(t, r, map[string]string{"a": "1"})
		return os.WriteFile(filepath.Join(r, "b"), []byte("2"), 0o644)
	})
	assert.NilError(t, err)
	_, err = os.Stat(root)
	assert.Check(t, os.IsNotExist(err), "temp mount dir left: %v", err)
	vm, err := sn.Mounts(ctx, "ctr")
	assert.NilError(t, err)
	checkTree(t, mount(t, vm), map[string]string{"a": "1", "b": "2"})

	stop := errors.New("stop")
	err = snapshot.WithTempMount(ctx, mounts, func(string) error { return stop })
	assert.Check(t, is.ErrorIs(err, stop))
}
