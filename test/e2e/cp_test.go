// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gotest.tools/v3/assert"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		assert.NilError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		assert.NilError(t, os.WriteFile(p, []byte(body), 0o640))
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	assert.NilError(t, err)
	return string(b)
}

func TestCpBothWays(t *testing.T) {
	c := uniq(t, "cp")
	v := uniq(t, "cpvol")
	rmOnCleanup(t, c)
	rmVolumesOnCleanup(t, v)
	bind := t.TempDir()
	ok(t, "run", "-d", "--name", c, "-v", bind+":/bind", "-v", v+":/vol", "--tmpfs", "/scratch", "busybox", "sleep", "60")
	src := t.TempDir()
	writeFiles(t, src, map[string]string{"f.txt": "file\n", "d/a": "a\n", "d/sub/b": "b\n"})
	assert.NilError(t, os.Symlink("a", filepath.Join(src, "d", "link")))

	// a file, into a directory and to a new name
	ok(t, "cp", filepath.Join(src, "f.txt"), c+":/tmp/")
	ok(t, "cp", filepath.Join(src, "f.txt"), c+":/tmp/renamed")
	// a directory: to a new name, into an existing directory, its content with /.
	ok(t, "cp", filepath.Join(src, "d"), c+":/tmp/newdir")
	ok(t, "exec", c, "mkdir", "/tmp/exists")
	ok(t, "cp", filepath.Join(src, "d"), c+":/tmp/exists")
	ok(t, "exec", c, "mkdir", "/tmp/contents")
	ok(t, "cp", filepath.Join(src, "d")+"/.", c+":/tmp/contents")
	out := ok(t, "exec", c, "sh", "-c", "cat /tmp/f.txt /tmp/renamed /tmp/newdir/a /tmp/newdir/sub/b /tmp/exists/d/a /tmp/contents/sub/b; readlink /tmp/newdir/link; stat -c %a /tmp/f.txt")
	assert.Equal(t, out, "file\nfile\na\nb\na\nb\na\n640")
	// through the running container's bind mount, volume and tmpfs
	ok(t, "cp", filepath.Join(src, "f.txt"), c+":/bind/")
	ok(t, "cp", filepath.Join(src, "d"), c+":/vol/")
	ok(t, "cp", filepath.Join(src, "f.txt"), c+":/scratch/")
	assert.Equal(t, readFile(t, filepath.Join(bind, "f.txt")), "file\n")
	assert.Equal(t, ok(t, "exec", c, "cat", "/vol/d/sub/b", "/scratch/f.txt"), "b\nfile")
	dst0 := t.TempDir()
	ok(t, "cp", c+":/scratch/f.txt", filepath.Join(dst0, "from-tmpfs"))
	assert.Equal(t, readFile(t, filepath.Join(dst0, "from-tmpfs")), "file\n")
	// cp into a file's path as a directory, a missing parent
	fails(t, 1, "not a directory", "cp", filepath.Join(src, "f.txt"), c+":/tmp/f.txt/x")
	fails(t, 1, "Could not find the file /nonexistent", "cp", c+":/nonexistent", src)

	// out: a file, a directory, contents with /., a symlink with and without -L
	dst := t.TempDir()
	ok(t, "exec", c, "sh", "-c", "mkdir -p /out/dir/sub && echo x > /out/dir/sub/x && echo y > /out/y && ln -s /out/y /out/ylink")
	ok(t, "cp", c+":/out/y", dst)
	ok(t, "cp", c+":/out/y", filepath.Join(dst, "y2"))
	ok(t, "cp", c+":/out/dir", filepath.Join(dst, "dir2"))
	assert.NilError(t, os.Mkdir(filepath.Join(dst, "c"), 0o755))
	ok(t, "cp", c+":/out/dir/.", filepath.Join(dst, "c"))
	ok(t, "cp", c+":/out/ylink", filepath.Join(dst, "l1"))
	ok(t, "cp", "-L", c+":/out/ylink", filepath.Join(dst, "l2"))
	assert.Equal(t, readFile(t, filepath.Join(dst, "y")), "y\n")
	assert.Equal(t, readFile(t, filepath.Join(dst, "y2")), "y\n")
	assert.Equal(t, readFile(t, filepath.Join(dst, "dir2", "sub", "x")), "x\n")
	assert.Equal(t, readFile(t, filepath.Join(dst, "c", "sub", "x")), "x\n")
	l, err := os.Readlink(filepath.Join(dst, "l1"))
	assert.NilError(t, err)
	assert.Equal(t, l, "/out/y")
	assert.Equal(t, readFile(t, filepath.Join(dst, "l2")), "y\n")
	// to stdout: a tar
	r := docker(t, "cp", c+":/out/dir", "-")
	assert.Equal(t, r.Code, 0, r)
	assert.DeepEqual(t, tarEntries(t, []byte(r.Stdout)), []string{"dir/", "dir/sub/", "dir/sub/x"})
	// export: the whole filesystem
	r = docker(t, "export", c)
	assert.Equal(t, r.Code, 0)
	assert.Assert(t, strings.Contains(strings.Join(tarEntries(t, []byte(r.Stdout)), " "), "out/dir/sub/x"))
}

func TestCpStoppedAndVolumes(t *testing.T) {
	c := uniq(t, "cps")
	v := uniq(t, "cpv")
	rmOnCleanup(t, c)
	rmVolumesOnCleanup(t, v)
	bind := t.TempDir()
	ro := t.TempDir()
	ok(t, "create", "--name", c, "-v", v+":/vol", "-v", bind+":/bind", "-v", ro+":/ro:ro", "busybox", "sh", "-c", "cat /vol/in /bind/in /etc/in")
	src := t.TempDir()
	writeFiles(t, src, map[string]string{"in": "copied\n"})
	// into a never-started container: its rootfs, a volume, a bind mount
	ok(t, "cp", filepath.Join(src, "in"), c+":/etc/in")
	ok(t, "cp", filepath.Join(src, "in"), c+":/vol/in")
	ok(t, "cp", filepath.Join(src, "in"), c+":/bind/in")
	assert.Equal(t, readFile(t, filepath.Join(bind, "in")), "copied\n")
	fails(t, 1, "mounted volume is marked read-only", "cp", filepath.Join(src, "in"), c+":/ro/in")
	ok(t, "start", "-a", c)
	assert.Equal(t, ok(t, "logs", c), "copied\ncopied\ncopied")
	// out of the stopped container, through the volume
	dst := t.TempDir()
	ok(t, "cp", c+":/vol/in", filepath.Join(dst, "out"))
	assert.Equal(t, readFile(t, filepath.Join(dst, "out")), "copied\n")
	// nothing stays mounted on the host
	mi, err := os.ReadFile("/proc/self/mountinfo")
	assert.NilError(t, err)
	assert.Assert(t, !strings.Contains(string(mi), "/cp/root-"), "a cp mount is left on the host")
	// the container still starts after copies (its overlay was released)
	ok(t, "cp", filepath.Join(src, "in"), c+":/in2")
	ok(t, "start", "-a", c)

	// a read-only rootfs refuses, a volume in it does not
	r := uniq(t, "cpro")
	rmOnCleanup(t, r)
	ok(t, "create", "--name", r, "--read-only", "-v", "/data", "busybox", "true")
	fails(t, 1, "container rootfs is marked read-only", "cp", filepath.Join(src, "in"), r+":/etc/")
	ok(t, "cp", filepath.Join(src, "in"), r+":/data/")

	// -a: owned by the container's user
	u := uniq(t, "cpu")
	rmOnCleanup(t, u)
	ok(t, "create", "--name", u, "-u", "1234:5678", "busybox", "true")
	ok(t, "cp", "-a", filepath.Join(src, "in"), u+":/tmp/owned")
	ok(t, "cp", filepath.Join(src, "in"), u+":/tmp/kept")
	got := docker(t, "cp", u+":/tmp", "-")
	owners := map[string]string{}
	tr := tar.NewReader(strings.NewReader(got.Stdout))
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		owners[h.Name] = fmt.Sprintf("%d:%d", h.Uid, h.Gid)
	}
	assert.Equal(t, owners["tmp/owned"], "1234:5678")
	assert.Equal(t, owners["tmp/kept"], "0:0")
}

// putArchive sends a raw tar to PUT /containers/{c}/archive.
func putArchive(t *testing.T, c, dst string, body []byte) (int, string) {
	t.Helper()
	cl := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return net.Dial("unix", shared.Sock)
	}}}
	req, err := http.NewRequest("PUT", "http://berth/containers/"+c+"/archive?path="+url.QueryEscape(dst), bytes.NewReader(body))
	assert.NilError(t, err)
	resp, err := cl.Do(req)
	assert.NilError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func rawTar(t *testing.T, entries ...[2]string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		assert.NilError(t, tw.WriteHeader(&tar.Header{Name: e[0], Mode: 0o644, Size: int64(len(e[1])), Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte(e[1]))
		assert.NilError(t, err)
	}
	assert.NilError(t, tw.Close())
	return buf.Bytes()
}

// TestCpHostileSymlinks: a container that plants symlinks to / and up the
// tree, or to a host directory's path, never gets berth to write on the
// host; writes land inside the container.
func TestCpHostileSymlinks(t *testing.T) {
	host := t.TempDir() // a path that exists on the host, not in the container
	c := uniq(t, "evil")
	rmOnCleanup(t, c)
	ok(t, "run", "-d", "--name", c, "busybox", "sh", "-c",
		"mkdir -p /a/b && ln -s / /rootlink && ln -s ../../../../../../.. /a/b/up && ln -s "+host+" /hostpath && ln -s "+host+"/f /filelink && sleep 60")
	src := t.TempDir()
	writeFiles(t, src, map[string]string{"f": "payload\n"})
	for _, dst := range []string{"/hostpath", "/hostpath/", "/rootlink" + host, "/a/b/up" + host} {
		ok(t, "exec", c, "mkdir", "-p", host) // the same path, inside the container
		ok(t, "cp", filepath.Join(src, "f"), c+":"+dst)
		assert.Equal(t, ok(t, "exec", c, "cat", host+"/f"), "payload", dst)
		ok(t, "exec", c, "rm", "-rf", host)
	}
	// a symlink as the destination: the CLI follows it (inside the
	// container); a symlink as the last element of an archive entry is
	// replaced, not followed
	ok(t, "exec", c, "mkdir", "-p", host)
	ok(t, "cp", filepath.Join(src, "f"), c+":/filelink")
	assert.Equal(t, ok(t, "exec", c, "cat", host+"/f"), "payload")
	ok(t, "exec", c, "sh", "-c", "ln -s "+host+"/g /g")
	code, msg := putArchive(t, c, "/", rawTar(t, [2]string{"g", "replaced\n"}))
	assert.Equal(t, code, 200, msg)
	assert.Equal(t, ok(t, "exec", c, "sh", "-c", "cat /g; ls "+host), "replaced\nf")
	// reading follows them inside the container too
	ok(t, "exec", c, "sh", "-c", "echo inside > /secret")
	r := docker(t, "cp", c+":/a/b/up/secret", "-")
	assert.Equal(t, r.Code, 0, r)
	ents, err := os.ReadDir(host)
	assert.NilError(t, err)
	assert.Equal(t, len(ents), 0, "berth wrote on the host")

	// archives: ".." entries are refused, absolute names confined
	code, msg = putArchive(t, c, "/tmp", rawTar(t, [2]string{"../../../../" + host + "/dotdot", "x"}))
	assert.Equal(t, code, 400, msg)
	assert.Assert(t, strings.Contains(msg, "points outside the destination"), msg)
	code, msg = putArchive(t, c, "/tmp", rawTar(t, [2]string{host + "/abs", "x"}))
	assert.Equal(t, code, 200, msg)
	assert.Equal(t, ok(t, "exec", c, "cat", "/tmp"+host+"/abs"), "x")
	ents, err = os.ReadDir(host)
	assert.NilError(t, err)
	assert.Equal(t, len(ents), 0, "berth wrote on the host")
	// a bad path and a file as the extraction point
	code, msg = putArchive(t, c, "/secret", rawTar(t, [2]string{"x", "x"}))
	assert.Equal(t, code, 400, msg)
	assert.Assert(t, strings.Contains(msg, "extraction point is not a directory"), msg)
	code, msg = putArchive(t, c, "/nonexistent", rawTar(t, [2]string{"x", "x"}))
	assert.Equal(t, code, 404, msg)
}

// TestCpSymlinkSwapRace: while cp writes into a directory, the container
// keeps swapping that directory for a symlink to a host path (and to /).
// Whatever the timing, nothing is ever written on the host.
func TestCpSymlinkSwapRace(t *testing.T) {
	host := t.TempDir()
	c := uniq(t, "race")
	rmOnCleanup(t, c)
	script := fmt.Sprintf(`mkdir -p /w/d %[1]s; while true; do mv /w/d /w/real; ln -s %[1]s /w/d; rm /w/d; ln -s / /w/d; rm /w/d; mv /w/real /w/d; done`, host)
	ok(t, "run", "-d", "--name", c, "busybox", "sh", "-c", script)
	src := t.TempDir()
	files := map[string]string{}
	for i := range 200 {
		files[fmt.Sprintf("t/sub%d/f%d", i%10, i)] = "race\n"
	}
	writeFiles(t, src, files)
	deadline := time.Now().Add(8 * time.Second)
	runs := 0
	for time.Now().Before(deadline) {
		// errors are expected (the destination vanishes under the copy)
		docker(t, "cp", filepath.Join(src, "t"), c+":/w/d/")
		docker(t, "cp", filepath.Join(src, "t")+"/.", c+":/w/d")
		runs++
		ents, err := os.ReadDir(host)
		assert.NilError(t, err)
		assert.Equal(t, len(ents), 0, "berth wrote on the host after %d runs", runs)
	}
	for _, p := range []string{"/t", "/sub0", "/f0"} {
		_, err := os.Lstat(p)
		assert.Assert(t, os.IsNotExist(err), "berth wrote %s on the host", p)
	}
	t.Logf("%d copies raced the swaps", runs)
}
