package runtime_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// mountLine returns the /proc/mounts line of the mount at dest in out (a
// dump of /proc/mounts), or "".
func mountLine(out, dest string) string {
	line := ""
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 3 && f[1] == dest {
			line = l // the last one is the one on top
		}
	}
	return line
}

// mountOptions returns the options of the mount at dest.
func mountOptions(out, dest string) []string {
	f := strings.Fields(mountLine(out, dest))
	if len(f) < 4 {
		return nil
	}
	return strings.Split(f[3], ",")
}

// TestMounts checks the standard mounts and the mount options of the spec.
func TestMounts(t *testing.T) {
	tests := []struct {
		name   string
		script string
		mutate func(t *testing.T, s *specs.Spec)
		check  func(t *testing.T, res result)
	}{
		{
			name:   "proc",
			script: `cat /proc/mounts; head -1 /proc/1/status; true`,
			check: func(t *testing.T, res result) {
				assert.Check(t, is.Equal(strings.Fields(mountLine(res.stdout, "/proc"))[2], "proc"))
				assert.Check(t, strings.HasSuffix(res.stdout, "\nName:\tsh\n"), res.stdout)
			},
		},
		{
			name:   "sys read-only",
			script: `cat /proc/mounts; touch /sys/x`,
			check: func(t *testing.T, res result) {
				assert.Check(t, is.Contains(mountOptions(res.stdout, "/sys"), "ro"))
				assert.Check(t, is.Contains(res.stderr, "Read-only file system"))
			},
		},
		{
			name:   "devpts",
			script: `cat /proc/mounts; ls -d /dev/pts/ptmx`,
			check: func(t *testing.T, res result) {
				assert.Check(t, is.Equal(strings.Fields(mountLine(res.stdout, "/dev/pts"))[2], "devpts"), res.stdout)
				assert.Check(t, is.Contains(res.stdout, "/dev/pts/ptmx\n"))
			},
		},
		{
			name:   "tmpfs size and mode",
			script: `cat /proc/mounts; stat -c '%a %U' /scratch; echo data > /scratch/f && cat /scratch/f`,
			mutate: func(t *testing.T, s *specs.Spec) {
				withMounts(specs.Mount{Destination: "/scratch", Type: "tmpfs", Source: "tmpfs",
					Options: []string{"nosuid", "nodev", "size=1m", "mode=1750"}})(s)
			},
			check: func(t *testing.T, res result) {
				opts := mountOptions(res.stdout, "/scratch")
				assert.Check(t, is.Contains(opts, "size=1024k"))
				assert.Check(t, is.Contains(opts, "mode=1750"))
				assert.Check(t, is.Contains(opts, "nosuid"))
				assert.Check(t, is.Contains(opts, "nodev"))
				assert.Check(t, strings.HasSuffix(res.stdout, "\n1750 root\ndata\n"), res.stdout)
			},
		},
		{
			name:   "read-only root",
			script: `touch /file; touch /tmp/file && echo tmp-writable`,
			mutate: func(t *testing.T, s *specs.Spec) {
				s.Root.Readonly = true
				withMounts(specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"mode=1777"}})(s)
			},
			check: func(t *testing.T, res result) {
				assert.Check(t, is.Contains(res.stderr, "touch: /file: Read-only file system"))
				assert.Check(t, is.Equal(res.stdout, "tmp-writable\n"))
			},
		},
		{
			// /proc/kcore does not exist on every kernel; /proc/timer_list
			// and /proc/keys are never empty on this host.
			name: "masked paths",
			script: `for f in /proc/kcore /proc/timer_list /proc/keys; do [ -e $f ] && echo "$f $(wc -c < $f)"; done
ls -A /proc/acpi /secret /sys/firmware; cat /secret/file`,
			mutate: func(t *testing.T, s *specs.Spec) {
				s.Linux.MaskedPaths = append(s.Linux.MaskedPaths, "/secret")
			},
			check: func(t *testing.T, res result) {
				out := strings.TrimPrefix(res.stdout, "/proc/kcore 0\n")
				assert.Check(t, is.Equal(out, "/proc/timer_list 0\n/proc/keys 0\n/proc/acpi:\n\n/secret:\n\n/sys/firmware:\n"))
				assert.Check(t, is.Contains(res.stderr, "can't open '/secret/file'"))
			},
		},
		{
			name:   "read-only paths",
			script: `echo x > /proc/sys/kernel/domainname; touch /rodir/x; touch /rwdir/x && echo rw-writable`,
			mutate: func(t *testing.T, s *specs.Spec) {
				s.Root.Readonly = false
				s.Linux.ReadonlyPaths = append(s.Linux.ReadonlyPaths, "/rodir")
			},
			check: func(t *testing.T, res result) {
				assert.Check(t, is.Contains(res.stderr, "can't create /proc/sys/kernel/domainname: Read-only file system"))
				assert.Check(t, is.Contains(res.stderr, "touch: /rodir/x: Read-only file system"))
				assert.Check(t, is.Equal(res.stdout, "rw-writable\n"))
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRT(t)
			b := sh(t, tc.script, func(s *specs.Spec) {
				if tc.mutate != nil {
					tc.mutate(t, s)
				}
			})
			rootfs := filepath.Join(b, "rootfs")
			for _, d := range []string{"secret", "rodir", "rwdir"} {
				assert.NilError(t, os.Mkdir(filepath.Join(rootfs, d), 0o755))
			}
			assert.NilError(t, os.WriteFile(filepath.Join(rootfs, "secret/file"), []byte("secret\n"), 0o644))
			tc.check(t, r.run(b))
		})
	}
}

// TestBindMounts bind-mounts a host directory with different options.
func TestBindMounts(t *testing.T) {
	tests := []struct {
		name    string
		options []string
		script  string
		check   func(t *testing.T, res result, host string)
	}{
		{
			name:    "read-write",
			options: []string{"rbind", "rw"},
			script:  `cat /data/in && echo out > /data/out`,
			check: func(t *testing.T, res result, host string) {
				assert.Equal(t, res.code, 0, res)
				assert.Check(t, is.Equal(res.stdout, "in\n"))
				data, err := os.ReadFile(filepath.Join(host, "out"))
				assert.NilError(t, err)
				assert.Check(t, is.Equal(string(data), "out\n"))
			},
		},
		{
			name:    "read-only",
			options: []string{"rbind", "ro"},
			script:  `cat /data/in; echo out > /data/out`,
			check: func(t *testing.T, res result, host string) {
				assert.Check(t, res.code != 0, res)
				assert.Check(t, is.Equal(res.stdout, "in\n"))
				assert.Check(t, is.Contains(res.stderr, "Read-only file system"))
				_, err := os.Stat(filepath.Join(host, "out"))
				assert.Check(t, os.IsNotExist(err))
			},
		},
		{
			name:    "noexec",
			options: []string{"bind", "noexec"},
			script:  `/data/script.sh; echo "exit $?"`,
			check: func(t *testing.T, res result, host string) {
				assert.Check(t, is.Equal(res.stdout, "exit 126\n"))
				assert.Check(t, is.Contains(res.stderr, "Permission denied"))
			},
		},
		{
			name:    "exec",
			options: []string{"bind"},
			script:  `/data/script.sh; echo "exit $?"`,
			check: func(t *testing.T, res result, host string) {
				assert.Check(t, is.Equal(res.stdout, "script ran\nexit 0\n"), res)
			},
		},
		{
			name:    "file",
			options: []string{"bind", "ro"},
			script:  `cat /data`,
			check: func(t *testing.T, res result, host string) {
				assert.Check(t, is.Equal(res.stdout, "in\n"), res)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRT(t)
			host := t.TempDir()
			assert.NilError(t, os.WriteFile(filepath.Join(host, "in"), []byte("in\n"), 0o644))
			assert.NilError(t, os.WriteFile(filepath.Join(host, "script.sh"), []byte("#!/bin/sh\necho script ran\n"), 0o755))
			src := host
			if tc.name == "file" {
				src = filepath.Join(host, "in")
			}
			res := r.run(sh(t, tc.script, withMounts(specs.Mount{Destination: "/data", Type: "bind", Source: src, Options: tc.options})))
			tc.check(t, res, host)
		})
	}
}

// TestMountPropagation binds a shared host mount into the container as
// rslave (the root too): a mount made on the host afterwards shows up
// inside.
func TestMountPropagation(t *testing.T) {
	r := newRT(t)
	shared := t.TempDir()
	assert.NilError(t, unix.Mount("tmpfs", shared, "tmpfs", 0, "size=1m"))
	t.Cleanup(func() {
		assert.Check(t, unix.Unmount(shared, unix.MNT_DETACH))
	})
	assert.NilError(t, unix.Mount("", shared, "", unix.MS_SHARED, ""))
	assert.NilError(t, os.Mkdir(filepath.Join(shared, "later"), 0o755))

	id := r.started(sh(t, `sleep 100`,
		func(s *specs.Spec) { s.Linux.RootfsPropagation = "rslave" },
		withMounts(specs.Mount{Destination: "/shared", Type: "bind", Source: shared, Options: []string{"rbind", "rslave"}})))

	res := r.exec(id, "cat", "/proc/self/mountinfo")
	assert.Equal(t, res.code, 0, res)
	var line string
	for _, l := range strings.Split(res.stdout, "\n") {
		if f := strings.Fields(l); len(f) > 4 && f[4] == "/shared" {
			line = l
		}
	}
	assert.Check(t, is.Contains(line, " master:"), "mountinfo: %s", res.stdout)

	later := filepath.Join(shared, "later")
	assert.NilError(t, unix.Mount("tmpfs", later, "tmpfs", 0, "size=1m"))
	t.Cleanup(func() { unix.Unmount(later, unix.MNT_DETACH) })
	assert.NilError(t, os.WriteFile(filepath.Join(later, "f"), []byte("propagated\n"), 0o644))
	res = r.exec(id, "cat", "/shared/later/f")
	assert.Equal(t, res.code, 0, res)
	assert.Check(t, is.Equal(res.stdout, "propagated\n"))
}

// TestMountThroughSymlink gives the rootfs symlinks that point out of it
// and mounts through them: the mounts must land inside the rootfs, and
// nothing may appear on the host at the symlinks' targets.
func TestMountThroughSymlink(t *testing.T) {
	tests := []struct {
		name, link string
	}{
		{name: "absolute", link: "/"},
		{name: "relative", link: "../../../../../../../../.."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRT(t)
			src := t.TempDir()
			assert.NilError(t, os.WriteFile(filepath.Join(src, "marker"), []byte("marker\n"), 0o644))
			// A fresh host directory: if the runtime followed the symlink on
			// the host, it would create the mount point in here.
			victim := t.TempDir()
			bindDest := "/escape" + victim + "/bind"
			tmpfsDest := "/escape" + victim + "/tmpfs"
			b := sh(t, `cat `+victim+`/bind/marker && grep -c " `+victim+`/tmpfs tmpfs " /proc/mounts`,
				func(s *specs.Spec) { s.Root.Readonly = false },
				withMounts(
					specs.Mount{Destination: bindDest, Type: "bind", Source: src, Options: []string{"rbind", "ro"}},
					specs.Mount{Destination: tmpfsDest, Type: "tmpfs", Source: "tmpfs"},
				))
			rootfs := filepath.Join(b, "rootfs")
			assert.NilError(t, os.Symlink(tc.link, filepath.Join(rootfs, "escape")))

			res := r.run(b)
			assert.Check(t, is.Equal(res.code, 0), res)
			assert.Check(t, is.Equal(res.stdout, "marker\n1\n"))
			for _, name := range []string{"bind", "tmpfs"} {
				_, err := os.Lstat(filepath.Join(victim, name))
				assert.Check(t, os.IsNotExist(err), "mount point %s created on the host", filepath.Join(victim, name))
				_, err = os.Lstat(filepath.Join(rootfs, victim, name))
				assert.Check(t, err, "mount point %s not created inside the rootfs", name)
			}
			entries, err := os.ReadDir(victim)
			assert.NilError(t, err)
			assert.Check(t, is.Len(entries, 0))
		})
	}
}

// TestProcMounts binds files over the /proc entries LXCFS emulates, which
// is allowed, and refuses a mount that a symlink in the image leads into
// /proc, which the spec's destination alone does not show.
func TestProcMounts(t *testing.T) {
	r := newRT(t)
	src := t.TempDir()
	traversable(t, src)
	for _, name := range []string{"cpuinfo", "uptime"} {
		assert.NilError(t, os.WriteFile(filepath.Join(src, name), []byte("emulated "+name+"\n"), 0o644))
	}
	b := sh(t, "cat /proc/cpuinfo /proc/uptime", withMounts(
		specs.Mount{Destination: "/proc/cpuinfo", Type: "bind", Source: filepath.Join(src, "cpuinfo"), Options: []string{"bind", "ro"}},
		specs.Mount{Destination: "/proc/./uptime", Type: "bind", Source: filepath.Join(src, "uptime"), Options: []string{"bind", "ro"}},
	))
	res := r.run(b)
	assert.Check(t, is.Equal(res.code, 0), res)
	assert.Check(t, is.Equal(res.stdout, "emulated cpuinfo\nemulated uptime\n"))

	for _, tc := range []struct{ name, dest string }{
		{"file", "/kernel/core_pattern"},
		{"directory", "/kernel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mounts := hostMounts(t)
			m := specs.Mount{Destination: tc.dest, Type: "bind", Source: filepath.Join(src, "cpuinfo"), Options: []string{"bind"}}
			if tc.name == "directory" {
				m.Source = src
			}
			b := sh(t, "echo the program ran", withMounts(m))
			cgroupsPath := readSpec(t, b).Linux.CgroupsPath
			assert.NilError(t, os.Symlink("/proc/sys/kernel", filepath.Join(b, "rootfs/kernel")))
			id := containerID(t)
			res := r.cmd("", "create", "--bundle", b, id)
			assertOneLineError(t, res, `"`+tc.dest+`" cannot be mounted because it is inside /proc`)
			r.assertNoLeftovers(id, cgroupsPath, mounts)
		})
	}
}

// TestNoPivot runs a container with --no-pivot (chroot instead of
// pivot_root).
func TestNoPivot(t *testing.T) {
	r := newRT(t)
	b := sh(t, `ls /; [ -e /etc/debian_version ] && echo host-visible; head -1 /proc/1/status; true`)
	res := r.cmd("", "run", "--no-pivot", "--bundle", b, containerID(t))
	assert.Equal(t, res.code, 0, res)
	assert.Check(t, is.Equal(res.stdout, "bin\ndev\netc\nhome\nproc\nroot\nsbin\nsys\ntmp\nusr\nName:\tsh\n"))
}

// TestDevices checks /dev: the default devices, the standard symlinks and
// a device from the spec.
func TestDevices(t *testing.T) {
	r := newRT(t)
	b := sh(t, `
stat -c '%n %F %t:%T %a' /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty /dev/mynull
for l in fd stdin stdout stderr ptmx; do readlink /dev/$l; done
echo x > /dev/mynull && echo mynull-writable
head -c 4 /dev/zero | wc -c`,
		func(s *specs.Spec) {
			mode := os.FileMode(0o640)
			zero := uint32(0)
			s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{
				Path: "/dev/mynull", Type: "c", Major: 1, Minor: 3, FileMode: &mode, UID: &zero, GID: &zero,
			})
		})
	res := r.run(b)
	assert.Equal(t, res.code, 0, res)
	assert.Check(t, is.Equal(res.stdout, `/dev/null character special file 1:3 666
/dev/zero character special file 1:5 666
/dev/full character special file 1:7 666
/dev/random character special file 1:8 666
/dev/urandom character special file 1:9 666
/dev/tty character special file 5:0 666
/dev/mynull character special file 1:3 640
/proc/self/fd
/proc/self/fd/0
/proc/self/fd/1
/proc/self/fd/2
pts/ptmx
mynull-writable
4
`))
}

// TestRecursiveMountOptions binds a host directory that has a mount of its
// own under it with runc's recursive options: rro, rnosuid, rnodev and
// rnoexec reach the mount underneath too (mount_setattr AT_RECURSIVE),
// not only the top one. An idmapped mount is refused, not quietly made an
// ordinary one.
func TestRecursiveMountOptions(t *testing.T) {
	r := newRT(t)
	data := t.TempDir()
	traversable(t, data)
	sub := filepath.Join(data, "sub")
	assert.NilError(t, os.Mkdir(sub, 0o755))
	assert.NilError(t, unix.Mount("tmpfs", sub, "tmpfs", 0, "size=1m"))
	t.Cleanup(func() { unix.Unmount(sub, unix.MNT_DETACH) })

	res := r.run(sh(t, `cat /proc/mounts; touch /data/sub/x 2>/dev/null && echo sub-writable; true`,
		withMounts(specs.Mount{Destination: "/data", Type: "bind", Source: data,
			Options: []string{"rbind", "rro", "rnosuid", "rnodev", "rnoexec"}})))
	assert.Equal(t, res.code, 0, res)
	assert.Check(t, !strings.Contains(res.stdout, "sub-writable"))
	line := mountLine(res.stdout, "/data/sub")
	assert.Assert(t, line != "", res.stdout)
	opts := strings.Split(strings.Fields(line)[3], ",")
	for _, want := range []string{"ro", "nosuid", "nodev", "noexec"} {
		assert.Check(t, is.Contains(opts, want), line)
	}

	res = r.run(sh(t, `true`, withMounts(specs.Mount{Destination: "/data", Type: "bind", Source: data,
		Options: []string{"rbind", "idmap"}})))
	assert.Check(t, res.code != 0)
	assert.Check(t, is.Contains(res.stderr, `mount option "idmap": idmapped mounts are not supported`), res)
}

// TestRootfsPropagation runs containers with each rootfsPropagation:
// pivot_root refuses a new root whose parent mount is shared, so shared
// and rshared need that mount made private first (as runc does); the new
// "/" then has the propagation asked for.
func TestRootfsPropagation(t *testing.T) {
	for prop, want := range map[string]string{"rshared": "shared:", "shared": "shared:", "private": "", "rprivate": ""} {
		t.Run(prop, func(t *testing.T) {
			r := newRT(t)
			res := r.run(sh(t, `awk '$5 == "/"' /proc/self/mountinfo`, func(s *specs.Spec) { s.Linux.RootfsPropagation = prop }))
			assert.Equal(t, res.code, 0, res)
			lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
			root := lines[len(lines)-1] // the last mount on "/" is the one seen
			if want != "" {
				assert.Check(t, is.Contains(root, want), root)
			} else {
				assert.Check(t, !strings.Contains(root, "shared:") && !strings.Contains(root, "master:"), root)
			}
		})
	}
}

// TestSysfsFallbackReadOnly: with a user namespace and the host's network
// namespace, sysfs cannot be mounted, and the host's /sys is bound
// instead, read-only as runc does: its submounts (the host's tracefs,
// say) are read-only too.
func TestSysfsFallbackReadOnly(t *testing.T) {
	r := newRT(t)
	res := r.run(userNSBundle(t, `awk '$5 ~ "^/sys" {print $5, $6}' /proc/self/mountinfo`, withoutNamespace(specs.NetworkNamespace)))
	assert.Equal(t, res.code, 0, res)
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	assert.Assert(t, len(lines) > 1, "no submounts under /sys: %q", res.stdout)
	for _, l := range lines {
		f := strings.Fields(l)
		assert.Check(t, len(f) == 2 && strings.HasPrefix(f[1], "ro"), "%s is not read-only", l)
	}
}

// sharedTree mounts a tmpfs at a new directory, with a tmpfs "child"
// under it, both shared (their own peer groups), and unmounts them when
// the test ends.
func sharedTree(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "shared")
	assert.NilError(t, os.Mkdir(dir, 0o755))
	assert.NilError(t, unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"))
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	assert.NilError(t, unix.Mount("", dir, "", unix.MS_PRIVATE, ""))
	assert.NilError(t, os.Mkdir(filepath.Join(dir, "child"), 0o755))
	assert.NilError(t, unix.Mount("tmpfs", filepath.Join(dir, "child"), "tmpfs", 0, "size=1m"))
	assert.NilError(t, unix.Mount("", dir, "", unix.MS_SHARED|unix.MS_REC, ""))
	return dir
}

// mounted reports whether p is a mount point on the host.
func mounted(t *testing.T, p string) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	assert.NilError(t, err)
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 4 && f[4] == p {
			return true
		}
	}
	return false
}

// TestSharedBindPropagates: an rshared bind of a shared host mount, with
// the root shared (what Docker asks for such a bind), stays in the host
// mount's peer group: a mount made in it inside the container shows on
// the host. Before, the work done on the old root after pivot_root went
// to the new root's tree and made every bind a slave.
func TestSharedBindPropagates(t *testing.T) {
	dir := sharedTree(t)
	r := newRT(t)
	res := r.run(sh(t, `mkdir -p /x/m && mount -t tmpfs -o size=1m made-inside /x/m && touch /x/m/hello && awk '$5 == "/x" {print $7}' /proc/self/mountinfo`, func(s *specs.Spec) {
		s.Linux.RootfsPropagation = "shared"
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Type: "bind", Source: dir, Options: []string{"rbind", "rshared"}})
		addCap(s, "CAP_SYS_ADMIN")
	}))
	assert.Equal(t, res.code, 0, res)
	assert.Check(t, strings.HasPrefix(strings.TrimSpace(res.stdout), "shared:"), "the bind is %q", res.stdout)
	t.Cleanup(func() { unix.Unmount(filepath.Join(dir, "m"), unix.MNT_DETACH) })
	_, err := os.Stat(filepath.Join(dir, "m", "hello"))
	assert.NilError(t, err, "the container's mount did not reach the host")
}

// addCap gives the process capability c in every set that grants it.
func addCap(s *specs.Spec, c string) {
	p := s.Process.Capabilities
	p.Bounding = append(p.Bounding, c)
	p.Effective = append(p.Effective, c)
	p.Permitted = append(p.Permitted, c)
}

// TestOwnSession: without a terminal the container's first process still
// leads a session and process group of its own, as with runc. Before, it
// shared the runtime's (for the daemon, the monitor's, and so every
// container's): kill(0, sig) in one container reached the others.
func TestOwnSession(t *testing.T) {
	r := newRT(t)
	res := r.run(sh(t, `read -r pid c s pp pg sid x < /proc/self/stat; echo "$pid $pg $sid"`))
	assert.Equal(t, res.code, 0, res)
	assert.Equal(t, res.stdout, "1 1 1\n")
}
