// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package archive

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"

	"github.com/berth-project/berth/internal/testutil"
)

// mountOverlay mounts overlayfs at merged and unmounts it when the test
// ends, whatever happens to the test. With upper == "" the mount is
// read-only (lower layers only).
func mountOverlay(t *testing.T, merged, upper, work string, lower ...string) (unmount func()) {
	t.Helper()
	opts := "lowerdir=" + strings.Join(lower, ":")
	if upper != "" {
		opts += ",upperdir=" + upper + ",workdir=" + work
	}
	// What WriteDiff needs (and Docker's overlay2 uses): no renamed-directory
	// redirects, no metadata-only copy-ups, no inode index.
	opts += ",index=off,redirect_dir=off,metacopy=off"
	assert.NilError(t, unix.Mount("overlay", merged, "overlay", 0, opts), "mount overlay %s", opts)
	mounted := true
	unmount = func() {
		if mounted {
			mounted = false
			assert.Check(t, unix.Unmount(merged, 0), "unmount %s", merged)
		}
	}
	t.Cleanup(unmount)
	return unmount
}

// TestWriteDiffOverlay changes files through a real overlay mount, then
// checks that the layer WriteDiff makes of its upper directory, applied
// onto the lower layers (flattened, and as an overlay layer), gives the
// same tree as the mount showed, and that the change list is `docker
// diff`'s.
func TestWriteDiffOverlay(t *testing.T) {
	testutil.RequiresRoot(t)
	base := t.TempDir()
	dirs := map[string]string{}
	for _, d := range []string{"lower1", "lower2", "upper", "work", "merged", "layer", "check", "flat"} {
		dirs[d] = filepath.Join(base, d)
		assert.NilError(t, os.Mkdir(dirs[d], 0o755))
	}
	bottom := mkTar(t,
		dir("etc/"), file("etc/passwd", "root:x:0:0"), file("etc/hosts", "127.0.0.1 localhost"),
		dir("data/"), file("data/a", "a"), file("data/b", "b"),
		dir("opq/"), file("opq/old", "old"), dir("opq/sub/"), file("opq/sub/x", "x"),
		dir("gone/"), file("gone/x", "x"),
		file("deleted-in-lower1", "x"), file("chmod-me", "c"),
	)
	top := mkTar(t, file(".wh.deleted-in-lower1", ""), dir("etc/"), file("etc/group", "root:x:0:"))
	for _, l := range []struct {
		dir string
		tar []byte
	}{{dirs["lower2"], bottom}, {dirs["lower1"], top}} {
		_, err := Apply(t.Context(), l.dir, bytes.NewReader(l.tar), ApplyOptions{})
		assert.NilError(t, err)
	}

	unmount := mountOverlay(t, dirs["merged"], dirs["upper"], dirs["work"], dirs["lower1"], dirs["lower2"])
	m := func(p string) string { return filepath.Join(dirs["merged"], p) }
	must := func(err error) { t.Helper(); assert.NilError(t, err) }
	must(os.WriteFile(m("etc/passwd"), []byte("root:x:0:0\nuser:x:1000:1000"), 0o644))
	must(os.Chmod(m("chmod-me"), 0o600))
	must(os.Remove(m("data/b")))
	must(os.RemoveAll(m("gone")))
	must(os.RemoveAll(m("opq")))
	must(os.Mkdir(m("opq"), 0o700))
	must(os.WriteFile(m("opq/new"), []byte("new"), 0o644))
	must(os.MkdirAll(m("new/dir"), 0o755))
	must(os.WriteFile(m("new/dir/file"), []byte("file"), 0o644))
	must(os.Symlink("/etc/passwd", m("new/link")))
	must(os.Link(m("new/dir/file"), m("new/hardlink")))
	must(os.WriteFile(m("deleted-in-lower1"), []byte("back"), 0o644))
	must(unix.Lsetxattr(m("etc/hosts"), "user.note", []byte("xattr only"), 0))
	want := describe(t, dirs["merged"])
	unmount()

	var layer bytes.Buffer
	changes, err := WriteDiff(t.Context(), &layer, dirs["upper"], []string{dirs["lower1"], dirs["lower2"]})
	assert.NilError(t, err)
	var got []string
	for _, c := range changes {
		got = append(got, c.Kind.String()+" "+c.Path)
	}
	assert.DeepEqual(t, got, []string{
		"C /chmod-me",
		"C /data",
		"D /data/b",
		"A /deleted-in-lower1",
		"C /etc",
		"C /etc/hosts",
		"C /etc/passwd",
		"D /gone",
		"A /new",
		"A /new/dir",
		"A /new/dir/file",
		"A /new/hardlink",
		"A /new/link",
		"C /opq",
		"A /opq/new",
	})

	var names []string
	tr := tar.NewReader(bytes.NewReader(layer.Bytes()))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		assert.NilError(t, err)
		names = append(names, hdr.Name)
		for k := range hdr.PAXRecords {
			assert.Check(t, !strings.Contains(k, "trusted."), "%s: %s", hdr.Name, k)
		}
	}
	assert.Check(t, is.Contains(names, "data/.wh.b"))
	assert.Check(t, is.Contains(names, ".wh.gone"))
	assert.Check(t, is.Contains(names, "opq/.wh..wh..opq"))
	assert.Check(t, !slices.Contains(names, "gone/"))

	var again bytes.Buffer
	_, err = WriteDiff(t.Context(), &again, dirs["upper"], []string{dirs["lower1"], dirs["lower2"]})
	assert.NilError(t, err)
	assert.Check(t, bytes.Equal(layer.Bytes(), again.Bytes()), "WriteDiff is not deterministic")

	// Flattened: the lower layers and the diff onto one plain directory.
	for _, l := range [][]byte{bottom, top, layer.Bytes()} {
		_, err := Apply(t.Context(), dirs["flat"], bytes.NewReader(l), ApplyOptions{Whiteouts: RemoveWhiteouts})
		assert.NilError(t, err)
	}
	assert.DeepEqual(t, describe(t, dirs["flat"]), want)

	// As an image layer: unpacked with overlay whiteouts and stacked on the
	// same lower layers.
	_, err = Apply(t.Context(), dirs["layer"], bytes.NewReader(layer.Bytes()), ApplyOptions{})
	assert.NilError(t, err)
	mountOverlay(t, dirs["check"], "", "", dirs["layer"], dirs["lower1"], dirs["lower2"])
	assert.DeepEqual(t, describe(t, dirs["check"]), want)
}

func TestWriteDiffRefusesRedirects(t *testing.T) {
	testutil.RequiresRoot(t)
	upper := t.TempDir()
	assert.NilError(t, os.Mkdir(filepath.Join(upper, "moved"), 0o755))
	assert.NilError(t, unix.Lsetxattr(filepath.Join(upper, "moved"), "trusted.overlay.redirect", []byte("/orig"), 0))
	var buf bytes.Buffer
	_, err := WriteDiff(t.Context(), &buf, upper, nil)
	assert.ErrorContains(t, err, "redirect_dir=off")
}

// TestWriteDiffPlain checks WriteDiff on an upper directory made by hand,
// so it runs without root (no whiteouts then).
func TestWriteDiffPlain(t *testing.T) {
	lower, upper := t.TempDir(), t.TempDir()
	for _, p := range []string{"a/b", "c"} {
		assert.NilError(t, os.MkdirAll(filepath.Join(lower, p), 0o755))
		assert.NilError(t, os.MkdirAll(filepath.Join(upper, p), 0o755))
	}
	assert.NilError(t, os.WriteFile(filepath.Join(lower, "a/b/f"), nil, 0o644))
	assert.NilError(t, os.WriteFile(filepath.Join(upper, "a/b/f"), []byte("x"), 0o644))
	assert.NilError(t, os.WriteFile(filepath.Join(upper, "c/new"), []byte("x"), 0o644))
	var buf bytes.Buffer
	changes, err := WriteDiff(t.Context(), &buf, upper, []string{lower})
	assert.NilError(t, err)
	assert.DeepEqual(t, fmt.Sprint(changes), "[{C /a} {C /a/b} {C /a/b/f} {C /c} {A /c/new}]")
	_, err = WriteDiff(t.Context(), &buf, filepath.Join(upper, "missing"), nil)
	assert.Check(t, errors.Is(err, os.ErrNotExist), "%v", err)
}

// TestWriteDiffLeavesOutMountpoints: what the runtime makes only to mount
// over (empty /etc/hosts and friends, /proc, and an /etc copied up for
// them alone) is no change; the same paths are changes where a lower
// layer has them or they hold something, and /etc is one when something
// else in it changed.
func TestWriteDiffLeavesOutMountpoints(t *testing.T) {
	diff := func(t *testing.T, lower, upper string) string {
		t.Helper()
		var buf bytes.Buffer
		changes, err := WriteRunDiff(t.Context(), &buf, upper, []string{lower})
		assert.NilError(t, err)
		return fmt.Sprint(changes)
	}
	mk := func(t *testing.T, extra ...string) (lower, upper string) {
		t.Helper()
		lower, upper = t.TempDir(), t.TempDir()
		for _, d := range []string{lower, upper} {
			assert.NilError(t, os.Mkdir(filepath.Join(d, "etc"), 0o755))
		}
		assert.NilError(t, os.WriteFile(filepath.Join(lower, "etc", "passwd"), []byte("root\n"), 0o644))
		for _, f := range []string{"etc/hosts", "etc/hostname", "etc/resolv.conf"} {
			assert.NilError(t, os.WriteFile(filepath.Join(upper, f), nil, 0o644))
		}
		assert.NilError(t, os.Mkdir(filepath.Join(upper, "proc"), 0o755))
		assert.NilError(t, os.WriteFile(filepath.Join(upper, ".dockerenv"), nil, 0o755))
		assert.NilError(t, os.Symlink("/proc/mounts", filepath.Join(upper, "etc", "mtab")))
		assert.NilError(t, os.WriteFile(filepath.Join(upper, "f"), []byte("x"), 0o644))
		for _, f := range extra {
			assert.NilError(t, os.WriteFile(filepath.Join(upper, f), []byte("x"), 0o644))
		}
		return lower, upper
	}
	t.Run("mountpoints only", func(t *testing.T) {
		lower, upper := mk(t)
		assert.Equal(t, diff(t, lower, upper), "[{A /f}]")
	})
	t.Run("removed", func(t *testing.T) {
		lower, upper := mk(t, "etc/motd")
		assert.NilError(t, RemoveMountpoints(upper, []string{lower}))
		var left []string
		assert.NilError(t, filepath.WalkDir(upper, func(p string, _ fs.DirEntry, err error) error {
			rel, _ := filepath.Rel(upper, p)
			left = append(left, rel)
			return err
		}))
		assert.DeepEqual(t, left, []string{".", "etc", "etc/motd", "f"})
	})
	t.Run("no container ran (WriteDiff)", func(t *testing.T) {
		lower, upper := mk(t)
		var buf bytes.Buffer
		changes, err := WriteDiff(t.Context(), &buf, upper, []string{lower})
		assert.NilError(t, err)
		assert.Equal(t, fmt.Sprint(changes), "[{A /.dockerenv} {C /etc} {A /etc/hostname} {A /etc/hosts} {A /etc/mtab} {A /etc/resolv.conf} {A /f} {A /proc}]")
	})
	t.Run("etc made for them", func(t *testing.T) {
		lower, upper := mk(t)
		assert.NilError(t, os.RemoveAll(filepath.Join(lower, "etc")))
		assert.Equal(t, diff(t, lower, upper), "[{A /f}]")
	})
	t.Run("something else in etc", func(t *testing.T) {
		lower, upper := mk(t, "etc/motd")
		assert.Equal(t, diff(t, lower, upper), "[{C /etc} {A /etc/motd} {A /f}]")
	})
	t.Run("etc with its own mode", func(t *testing.T) {
		lower, upper := mk(t)
		assert.NilError(t, os.Chmod(filepath.Join(upper, "etc"), 0o700))
		assert.Equal(t, diff(t, lower, upper), "[{C /etc} {A /f}]")
	})
	t.Run("in a lower layer or not empty", func(t *testing.T) {
		lower, upper := mk(t)
		assert.NilError(t, os.WriteFile(filepath.Join(lower, "etc", "hosts"), []byte("127.0.0.1 localhost\n"), 0o644))
		assert.NilError(t, os.WriteFile(filepath.Join(upper, "etc", "hostname"), []byte("h\n"), 0o644))
		assert.Equal(t, diff(t, lower, upper), "[{C /etc} {A /etc/hostname} {C /etc/hosts} {A /f}]")
	})
}
