// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// uniq is a name unique to this test run.
func uniq(t *testing.T, prefix string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func rmVolumesOnCleanup(t *testing.T, names ...string) {
	t.Cleanup(func() { dockerIn(t, shared, nil, append([]string{"volume", "rm", "-f"}, names...)...) })
}

func TestNamedVolumeOutlivesContainers(t *testing.T) {
	since := fmt.Sprint(time.Now().Unix())
	v := uniq(t, "data")
	a, b := uniq(t, "va"), uniq(t, "vb")
	rmOnCleanup(t, a, b)
	rmVolumesOnCleanup(t, v)
	assert.Equal(t, ok(t, "volume", "create", "--label", "team=x", v), v)
	ok(t, "run", "--name", a, "-v", v+":/data", "busybox", "sh", "-c", "echo hello > /data/f")
	// the volume is in use by a (stopped) container: rm refuses
	fails(t, 1, "volume is in use", "volume", "rm", v)
	assert.Equal(t, ok(t, "run", "--rm", "-v", v+":/d:ro", "busybox", "cat", "/d/f"), "hello")
	ok(t, "rm", a)
	assert.Equal(t, ok(t, "run", "--name", b, "--mount", "type=volume,src="+v+",dst=/m", "busybox", "cat", "/m/f"), "hello")
	// inspect shows the mount
	var mounts []struct {
		Type, Name, Source, Destination, Driver string
		RW                                      bool
	}
	assert.NilError(t, json.Unmarshal([]byte(ok(t, "inspect", "-f", "{{json .Mounts}}", b)), &mounts))
	assert.Assert(t, is.Len(mounts, 1))
	assert.Equal(t, mounts[0].Type, "volume")
	assert.Equal(t, mounts[0].Name, v)
	assert.Equal(t, mounts[0].Destination, "/m")
	assert.Equal(t, mounts[0].Driver, "local")
	assert.Check(t, mounts[0].RW)
	assert.Equal(t, ok(t, "volume", "inspect", "-f", "{{.Driver}} {{.Labels.team}} {{.Scope}}", v), "local x local")
	assert.Equal(t, ok(t, "volume", "ls", "-q", "--filter", "name="+v, "--filter", "label=team=x"), v)
	assert.Equal(t, ok(t, "volume", "ls", "-q", "--filter", "name="+v, "--filter", "dangling=true"), "")
	ok(t, "rm", b)
	assert.Equal(t, ok(t, "volume", "ls", "-q", "--filter", "name="+v, "--filter", "dangling=true"), v)
	assert.Equal(t, ok(t, "volume", "rm", v), v)
	fails(t, 1, "no such volume", "volume", "inspect", v)
	evs := ok(t, "events", "--since", since, "--until", fmt.Sprint(time.Now().Unix()+1), "--filter", "volume="+v, "--format", "{{.Action}}")
	assert.Equal(t, strings.Join(strings.Fields(evs), " "), "create mount unmount mount unmount mount unmount destroy")
}

func TestVolumeInUseAndForce(t *testing.T) {
	v := uniq(t, "busy")
	c := uniq(t, "vc")
	rmOnCleanup(t, c)
	rmVolumesOnCleanup(t, v)
	ok(t, "run", "-d", "--name", c, "-v", v+":/data", "busybox", "sleep", "60")
	fails(t, 1, "volume is in use - [", "volume", "rm", v)
	fails(t, 1, "volume is in use", "volume", "rm", "-f", v) // as Docker: force does not help
	ok(t, "rm", "-f", c)
	ok(t, "volume", "rm", v)
}

func TestBindMounts(t *testing.T) {
	dir := t.TempDir()
	assert.NilError(t, os.WriteFile(filepath.Join(dir, "in"), []byte("from host\n"), 0o644))
	assert.Equal(t, ok(t, "run", "--rm", "-v", dir+":/h", "busybox", "sh", "-c", "cat /h/in; echo out > /h/out"), "from host")
	b, err := os.ReadFile(filepath.Join(dir, "out"))
	assert.NilError(t, err)
	assert.Equal(t, string(b), "out\n")
	r := docker(t, "run", "--rm", "-v", dir+":/h:ro", "busybox", "sh", "-c", "echo x > /h/x")
	assert.Assert(t, r.Code != 0)
	assert.Assert(t, strings.Contains(r.Stderr, "Read-only file system"), r)
	r = docker(t, "run", "--rm", "--mount", "type=bind,src="+dir+",dst=/h,readonly", "busybox", "touch", "/h/y")
	assert.Assert(t, r.Code != 0)
	_, err = os.Stat(filepath.Join(dir, "x"))
	assert.Assert(t, os.IsNotExist(err))
	// -v creates a missing host directory; --mount refuses it
	missing := filepath.Join(dir, "new", "sub")
	ok(t, "run", "--rm", "-v", missing+":/n", "busybox", "true")
	st, err := os.Stat(missing)
	assert.NilError(t, err)
	assert.Assert(t, st.IsDir())
	fails(t, 125, "bind source path does not exist: "+filepath.Join(dir, "nope"),
		"run", "--rm", "--mount", "type=bind,src="+filepath.Join(dir, "nope")+",dst=/n", "busybox", "true")
	// a single file
	assert.Equal(t, ok(t, "run", "--rm", "-v", filepath.Join(dir, "in")+":/etc/motd:ro", "busybox", "cat", "/etc/motd"), "from host")
}

// TestBindPropagation: a bind that asks for shared or slave propagation
// needs a host mount that can give it, as with Docker: the start fails
// with Docker's message and leaves nothing; on a shared mount a mount
// made inside shows on the host (rshared), and one made on the host
// shows inside (rslave).
func TestBindPropagation(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	assert.NilError(t, os.Mkdir(src, 0o755))
	assert.NilError(t, unix.Mount("tmpfs", src, "tmpfs", 0, "size=1m"))
	t.Cleanup(func() { unix.Unmount(src, unix.MNT_DETACH) })
	assert.NilError(t, unix.Mount("", src, "", unix.MS_PRIVATE, ""))

	rmOnCleanup(t, "tv-prop")
	r := docker(t, "run", "--rm", "-v", src+":/x:rshared", "busybox", "true")
	assert.Equal(t, r.Code, 125, r)
	// once, from the start request (the attach ends quietly, as Docker's)
	want := fmt.Sprintf("path %s is mounted on %s but it is not a shared mount", src, src)
	assert.Equal(t, strings.Count(r.Stderr, want), 1, r.Stderr)
	fails(t, 125, fmt.Sprintf("path %s is mounted on %s but it is not a shared or slave mount", src, src),
		"run", "--name", "tv-prop", "-v", src+":/x:rslave", "busybox", "true")
	assert.Equal(t, ok(t, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "tv-prop"), "created 128")
	mi, err := os.ReadFile("/proc/self/mountinfo")
	assert.NilError(t, err)
	id := ok(t, "inspect", "-f", "{{.Id}}", "tv-prop")
	assert.Assert(t, !strings.Contains(string(mi), id), "a failed start left a mount")
	ok(t, "rm", "tv-prop")

	assert.NilError(t, unix.Mount("", src, "", unix.MS_SHARED, ""))
	// rshared: out of the container (the container's tmpfs is the
	// host's to unmount afterwards)
	t.Cleanup(func() { unix.Unmount(filepath.Join(src, "in"), unix.MNT_DETACH) })
	ok(t, "run", "--rm", "--cap-add", "SYS_ADMIN", "-v", src+":/x:rshared", "busybox", "sh", "-c",
		"mkdir /x/in && mount -t tmpfs -o size=1m inside /x/in && echo hi > /x/in/f")
	b, err := os.ReadFile(filepath.Join(src, "in", "f"))
	assert.NilError(t, err, "the container's mount did not reach the host")
	assert.Equal(t, string(b), "hi\n")
	// rslave: into a running container
	rmOnCleanup(t, "tv-slave")
	ok(t, "run", "-d", "--name", "tv-slave", "-v", src+":/x:rslave", "busybox", "sleep", "60")
	assert.NilError(t, os.Mkdir(filepath.Join(src, "out"), 0o755))
	assert.NilError(t, unix.Mount("tmpfs", filepath.Join(src, "out"), "tmpfs", 0, "size=1m"))
	t.Cleanup(func() { unix.Unmount(filepath.Join(src, "out"), unix.MNT_DETACH) })
	assert.NilError(t, os.WriteFile(filepath.Join(src, "out", "g"), []byte("from host\n"), 0o644))
	assert.Equal(t, ok(t, "exec", "tv-slave", "cat", "/x/out/g"), "from host")
}

func TestTmpfsMounts(t *testing.T) {
	c := uniq(t, "tm")
	rmOnCleanup(t, c)
	out := ok(t, "run", "--name", c, "--tmpfs", "/scratch:size=1m", "--mount", "type=tmpfs,dst=/t2,tmpfs-mode=1770",
		"busybox", "sh", "-c", "grep -E ' /(scratch|t2) ' /proc/mounts | cut -d' ' -f1-4; ls /scratch | wc -l; touch /scratch/f; stat -c %a /t2")
	assert.Assert(t, strings.Contains(out, "tmpfs /scratch tmpfs rw,nosuid,nodev,noexec"), out)
	assert.Assert(t, strings.Contains(out, "size=1024k"), out)
	assert.Assert(t, strings.Contains(out, "tmpfs /t2 tmpfs"), out)
	assert.Assert(t, strings.HasSuffix(out, "0\n1770"), out)
	// empty again at the next start
	ok(t, "start", c)
	assert.Equal(t, ok(t, "wait", c), "0")
	logs := ok(t, "logs", c)
	assert.Equal(t, strings.Count(logs, "\n0\n1770"), 2, logs)
	// --mount tmpfs is listed in Mounts, --tmpfs is not (as Docker)
	assert.Equal(t, ok(t, "inspect", "-f", "{{range .Mounts}}{{.Type}}:{{.Destination}} {{end}}", c), "tmpfs:/t2")
}

func TestVolumesFrom(t *testing.T) {
	src, dst, ro := uniq(t, "vfa"), uniq(t, "vfb"), uniq(t, "vfc")
	rmOnCleanup(t, src, dst, ro)
	dir := t.TempDir()
	ok(t, "create", "--name", src, "-v", "/anon", "-v", dir+":/bound", "busybox", "true")
	ok(t, "run", "--name", dst, "--volumes-from", src, "busybox", "sh", "-c", "echo a > /anon/f; echo b > /bound/g")
	assert.Equal(t, ok(t, "run", "--name", ro, "--volumes-from", src+":ro", "busybox", "sh", "-c", "cat /anon/f /bound/g; touch /anon/x 2>/dev/null || echo refused"), "a\nb\nrefused")
	assert.Equal(t, ok(t, "inspect", "-f", "{{range .Mounts}}{{.Destination}}={{.RW}} {{end}}", ro), "/anon=false /bound=false")
	// ps lists the mounts and filters by a mount's destination
	assert.Equal(t, ok(t, "ps", "-a", "--filter", "volume=/bound", "--filter", "name="+ro, "--format", "{{.Names}}"), ro)
	assert.Equal(t, ok(t, "ps", "-a", "--filter", "volume=/nowhere", "--filter", "name="+ro, "--format", "{{.Names}}"), "")
	// (the docker CLI takes any 404 from create for a missing image: ask
	// the API directly)
	code, msg := api(t, "POST", "/containers/create", `{"Image":"busybox","Cmd":["true"],"HostConfig":{"VolumesFrom":["nosuch"]}}`)
	assert.Equal(t, code, 404, msg)
	assert.Equal(t, msg, "No such container: nosuch")
	code, msg = api(t, "POST", "/containers/create", `{"Image":"busybox","Cmd":["true"],"HostConfig":{"VolumesFrom":["`+src+`:rx"]}}`)
	assert.Equal(t, code, 400)
	assert.Equal(t, msg, "invalid mode: rx")
}

func TestAnonymousVolumesAndImageContent(t *testing.T) {
	img := "vol-img-" + uniq(t, "")
	// the image comes from commit: the builder is not needed here
	base := uniq(t, "base")
	rmOnCleanup(t, base)
	ok(t, "run", "--name", base, "busybox", "sh", "-c", "mkdir -p /seed && echo seeded > /seed/file && chown 7:8 /seed")
	ok(t, "commit", "--change", "VOLUME /seed", base, img)
	t.Cleanup(func() { docker(t, "rmi", "-f", img) })

	c := uniq(t, "anon")
	rmOnCleanup(t, c)
	ok(t, "run", "--name", c, "-v", "/extra", img, "sh", "-c", "cat /seed/file; stat -c %u:%g /seed; echo more > /extra/x")
	assert.Equal(t, ok(t, "logs", c), "seeded\n7:8")
	names := strings.Fields(ok(t, "inspect", "-f", "{{range .Mounts}}{{.Name}} {{end}}", c))
	assert.Assert(t, is.Len(names, 2))
	for _, n := range names {
		assert.Equal(t, len(n), 64)
		assert.Equal(t, ok(t, "volume", "inspect", "-f", "{{index .Labels \"com.docker.volume.anonymous\"}}|{{.Name}}", n), "|"+n)
	}
	// a named volume is pre-populated too, and a non-empty one is left alone
	named := uniq(t, "seedv")
	rmVolumesOnCleanup(t, named)
	assert.Equal(t, ok(t, "run", "--rm", "-v", named+":/seed", img, "cat", "/seed/file"), "seeded")
	ok(t, "run", "--rm", "-v", named+":/seed", img, "sh", "-c", "echo changed > /seed/file")
	assert.Equal(t, ok(t, "run", "--rm", "-v", named+":/seed", img, "cat", "/seed/file"), "changed")
	// nocopy
	assert.Equal(t, ok(t, "run", "--rm", "--mount", "type=volume,dst=/seed,volume-nocopy", img, "ls", "/seed"), "")

	// rm -v removes the anonymous volumes and keeps named ones
	keep := uniq(t, "keep")
	c2 := uniq(t, "anon2")
	rmVolumesOnCleanup(t, keep)
	ok(t, "create", "--name", c2, "-v", "/a", "-v", keep+":/k", "busybox", "true")
	anon := ok(t, "inspect", "-f", `{{range .Mounts}}{{if eq .Destination "/a"}}{{.Name}}{{end}}{{end}}`, c2)
	ok(t, "rm", "-v", c2)
	fails(t, 1, "no such volume", "volume", "inspect", anon)
	ok(t, "volume", "inspect", keep)
	// plain rm keeps anonymous volumes; prune removes them
	ok(t, "rm", c)
	for _, n := range names {
		ok(t, "volume", "inspect", n)
	}
	out := ok(t, "volume", "prune", "-f")
	for _, n := range names {
		assert.Assert(t, strings.Contains(out, n), out)
	}
	ok(t, "volume", "inspect", keep) // named: kept without --all
	// --rm removes anonymous volumes
	id := ok(t, "run", "-d", "--rm", "-v", "/z", "busybox", "sleep", "30")
	zv := ok(t, "inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", id)
	ok(t, "rm", "-f", id)
	eventually(t, "anonymous volume removed", func() bool { return docker(t, "volume", "inspect", zv).Code != 0 })
}

func TestVolumeDriverOptions(t *testing.T) {
	tv, bv := uniq(t, "tmpv"), uniq(t, "bindv")
	rmVolumesOnCleanup(t, tv, bv)
	ok(t, "volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=2m,uid=5", tv)
	out := ok(t, "run", "--rm", "-v", tv+":/t", "busybox", "sh", "-c", "grep ' /t ' /proc/mounts; stat -c %u /t")
	assert.Assert(t, strings.Contains(out, "tmpfs /t tmpfs") && strings.Contains(out, "size=2048k"), out)
	assert.Assert(t, strings.HasSuffix(out, "\n5"), out)
	// unmounted again when the last user is gone
	mp := ok(t, "volume", "inspect", "-f", "{{.Mountpoint}}", tv)
	mi, err := os.ReadFile("/proc/self/mountinfo")
	assert.NilError(t, err)
	assert.Assert(t, !strings.Contains(string(mi), " "+mp+" "), "volume still mounted")

	dir := t.TempDir()
	ok(t, "volume", "create", "-o", "type=none", "-o", "device="+dir, "-o", "o=bind", bv)
	ok(t, "run", "--rm", "-v", bv+":/b", "busybox", "sh", "-c", "echo via-volume > /b/f")
	b, err := os.ReadFile(filepath.Join(dir, "f"))
	assert.NilError(t, err)
	assert.Equal(t, string(b), "via-volume\n")
	assert.Equal(t, ok(t, "volume", "inspect", "-f", "{{.Options.type}} {{.Options.o}}", bv), "none bind")
}

func TestVolumeBadInput(t *testing.T) {
	fails(t, 1, "no such volume", "volume", "inspect", "nosuchvolume")
	fails(t, 1, "no such volume", "volume", "rm", "nosuchvolume")
	ok(t, "volume", "rm", "-f", "nosuchvolume")
	fails(t, 1, `"a/b" includes invalid characters for a local volume name`, "volume", "create", "a/b")
	fails(t, 1, `invalid option: "bogus"`, "volume", "create", "-o", "bogus=1")
	fails(t, 1, `missing required option: "device"`, "volume", "create", "-o", "type=tmpfs")
	fails(t, 1, `plugin "nosuchdriver" not found`, "volume", "create", "-d", "nosuchdriver")
	fails(t, 1, "invalid filter 'dangling=maybe'", "volume", "ls", "-f", "dangling=maybe")

	before := ok(t, "volume", "ls", "-q")
	psBefore := ok(t, "ps", "-aq")
	for _, tc := range []struct {
		want string
		args []string
	}{
		{"invalid mode: bogus", []string{"-v", "/tmp:/x:bogus"}},
		{`"rel/path" includes invalid characters for a local volume name`, []string{"-v", "rel/path:/x"}},
		{"Duplicate mount point: /x", []string{"-v", "/tmp:/x", "--mount", "type=volume,dst=/x"}},
		{"bind source path does not exist: /nonexistent-berth-path", []string{"--mount", "type=bind,src=/nonexistent-berth-path,dst=/x"}},
		{"invalid mount config for type \"bind\": invalid mount path: 'relative' mount path must be absolute", []string{"--mount", "type=bind,src=relative,dst=/x"}},
		{"invalid mount config for type \"tmpfs\": field Source must not be specified", []string{"--mount", "type=tmpfs,src=x,dst=/x"}},
		{"invalid tmpfs option [\"bogus\"]", []string{"--tmpfs", "/x:bogus"}},
		{"invalid specification: destination can't be '/'", []string{"-v", "/tmp:/"}},
	} {
		args := append(append([]string{"create"}, tc.args...), "busybox", "true")
		r := docker(t, args...)
		assert.Check(t, r.Code != 0, "%v: %s", tc.args, r)
		assert.Check(t, strings.Contains(r.Stderr, tc.want), "%v: stderr %q lacks %q", tc.args, r.Stderr, tc.want)
	}
	// nothing half-made: no container, no volume
	assert.Equal(t, ok(t, "volume", "ls", "-q"), before)
	assert.Equal(t, ok(t, "ps", "-aq"), psBefore)
}

func TestSystemDfCountsVolumes(t *testing.T) {
	v := uniq(t, "dfv")
	c := uniq(t, "dfc")
	rmOnCleanup(t, c)
	rmVolumesOnCleanup(t, v)
	ok(t, "run", "--name", c, "-v", v+":/d", "busybox", "sh", "-c", "head -c 300000 /dev/zero > /d/blob")
	out := ok(t, "system", "df", "-v")
	found := false
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == v {
			found = true
			assert.DeepEqual(t, f[1:], []string{"1", "300kB"})
		}
	}
	assert.Assert(t, found, out)
	assert.Assert(t, strings.Contains(ok(t, "system", "df"), "Local Volumes"))
}

// TestVolumesAcrossDaemonRestart: volumes, their users and a running
// container's device-backed volume survive a daemon killed and restarted.
func TestVolumesAcrossDaemonRestart(t *testing.T) {
	d := ownDaemon(t)
	okOn(t, d, "volume", "create", "--label", "k=v", "named")
	okOn(t, d, "volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "tv")
	okOn(t, d, "run", "-d", "--name", "user", "-v", "named:/n", "-v", "tv:/t", "-v", "/anon", "busybox", "sh", "-c", "echo kept > /t/f; echo kept > /n/f; sleep 60")
	mp := okOn(t, d, "volume", "inspect", "-f", "{{.Mountpoint}}", "tv")
	anon := okOn(t, d, "inspect", "-f", `{{range .Mounts}}{{if eq .Destination "/anon"}}{{.Name}}{{end}}{{end}}`, "user")
	d.Kill()
	restart(t, d)
	assert.Equal(t, okOn(t, d, "volume", "inspect", "-f", "{{.Labels.k}}", "named"), "v")
	assert.Equal(t, okOn(t, d, "exec", "user", "cat", "/t/f", "/n/f"), "kept\nkept")
	r := dockerIn(t, d, nil, "volume", "rm", "tv")
	assert.Assert(t, r.Code != 0 && strings.Contains(r.Stderr, "volume is in use"), r)
	okOn(t, d, "rm", "-f", "-v", "user")
	mi, err := os.ReadFile("/proc/self/mountinfo")
	assert.NilError(t, err)
	assert.Assert(t, !strings.Contains(string(mi), " "+mp+" "), "the tmpfs volume stayed mounted")
	assert.Assert(t, dockerIn(t, d, nil, "volume", "inspect", anon).Code != 0, "rm -v kept the anonymous volume")
	assert.Equal(t, okOn(t, d, "volume", "ls", "-q"), "named\ntv")
}
