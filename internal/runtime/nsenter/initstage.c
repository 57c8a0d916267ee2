/*
 * init_stage builds a container and runs its first program without the Go
 * runtime.
 *
 * `create` starts berth's init, which used to be Go all the way: the Go
 * runtime took about two milliseconds to start in every container, and
 * decoding the spec (encoding/json, in a fresh process) another one,
 * several times the work itself. When the runtime can say what init does
 * in a list of mounts, devices, links and a few values (see initPlan in
 * initplan_linux.go: no hooks, no user namespace, no scheduler, I/O
 * priority, CPU affinity or memory policy), it sends that plan instead of
 * the Go init's configuration, and this does the work. nsenter.c's child
 * comes here when the first message after its fork is a plan ('K');
 * a 'g' sends it on into the Go runtime instead.
 *
 * The plan is execstage.c's format, headed 'K': the process's records as
 * for an exec (without rlimits, which the runtime sets from outside), and
 * these, each a tag byte, a little-endian u32 length and the payload;
 * strings inside a payload are a u32 length and the bytes:
 *
 *   'G' unshare the cgroup namespace (empty)
 *   'o' u32 flags, then the name: the propagation of / before anything
 *   'r' the rootfs (a host path): made a mount point of its own
 *   'm' a mount, in the spec's order with 'c', 'n' and 'l':
 *       u32 flags, u32 kind (0 a file system, 1 a bind), u32 flags of a
 *       remount after it (0 none), u32 count and that many propagation
 *       flags, u32 whether to mount_setattr, u64 set, u64 clear, u32
 *       whether a refused sysfs becomes a read-only bind of the host's,
 *       then the strings source, destination, type, data and the text
 *       that starts an error ("mount SRC (TYPE) on DEST")
 *   'c' the cgroup file system: u32 flags, u32 with a cgroup namespace,
 *       strings destination and error text, u32 count, and that many
 *       host hierarchies: strings type, mount point, root, v1 key
 *   'n' a device node: u32 mode (type and permissions), u32 major,
 *       u32 minor, u32 uid, u32 gid, then its path
 *   'l' a symlink: strings target and path, u32 whether errors are ignored
 *   'H' the hostname               'h' the domain name
 *   'Y' a sysctl: strings key and value
 *   'Q' a path to mask             'W' a path to make read-only
 *   'L' make the root read-only    'z' u32 flags, name: the root's final
 *                                      propagation
 *   'J' oom_score_adj, in decimal  'k' the session keyring to join
 *
 * Every step is the Go init's (init_linux.go, rootfs_linux.go), in its
 * order and with its error texts where they can be the same; paths inside
 * the container are opened with openat2(2) RESOLVE_IN_ROOT, so that no
 * symlink or ".." leads out of the root, and mounts go onto those
 * descriptors. The container is then "created": init says "mready", waits
 * for the runtime's "mstate" (the runtime recorded the container; without
 * it, init exits), and waits for `start` on the start socket.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "stage.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef SYS_fsconfig
#define SYS_fsconfig 431
#endif
#ifndef SYS_fsmount
#define SYS_fsmount 432
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif

/* include/uapi/linux/openat2.h and mount.h, spelled out (see stage.h) */
struct berth_open_how {
	uint64_t flags, mode, resolve;
};
#define BERTH_RESOLVE_NO_MAGICLINKS 0x02
#define BERTH_RESOLVE_NO_SYMLINKS 0x04
#define BERTH_RESOLVE_IN_ROOT 0x10

struct berth_mount_attr {
	uint64_t attr_set, attr_clr, propagation, userns_fd;
};
#define BERTH_AT_RECURSIVE 0x8000
#define BERTH_OPEN_TREE_CLONE 1
#define BERTH_MOVE_MOUNT_F_EMPTY_PATH 0x4
#define BERTH_MOVE_MOUNT_T_EMPTY_PATH 0x40
#define BERTH_FSOPEN_CLOEXEC 1
#define BERTH_FSCONFIG_SET_STRING 1
#define BERTH_FSCONFIG_CMD_CREATE 6
#define BERTH_FSMOUNT_CLOEXEC 1
#define BERTH_MOUNT_ATTR_RDONLY 1
#define BERTH_MOUNT_ATTR_NOSUID 2
#define BERTH_MOUNT_ATTR_NODEV 4
#define BERTH_MOUNT_ATTR_NOEXEC 8

struct cursor {
	const unsigned char *p, *end;
};

static void bad_plan(void)
{
	fail("init: bad plan from runtime");
}

static uint32_t rd_u32(struct cursor *c)
{
	uint32_t v;

	if (c->end - c->p < 4)
		bad_plan();
	v = u32(c->p);
	c->p += 4;
	return v;
}

static uint64_t rd_u64(struct cursor *c)
{
	uint64_t v;

	if (c->end - c->p < 8)
		bad_plan();
	v = u64(c->p);
	c->p += 8;
	return v;
}

static char *rd_str(struct cursor *c)
{
	uint32_t n = rd_u32(c);
	char *s;

	if ((uint64_t)(c->end - c->p) < n)
		bad_plan();
	s = string(c->p, n);
	c->p += n;
	return s;
}

static int rootfd = -1;

/* openat2 with RESOLVE_IN_ROOT fails with EAGAIN when a ".." is resolved
 * while a mount or rename happens anywhere on the system: try again, as
 * pathrs-lite does, a bounded number of times. */
static int openat2_retry(int dirfd, const char *path, struct berth_open_how *how)
{
	int fd;

	for (int i = 0; i < 128; i++) {
		fd = (int)syscall(SYS_openat2, dirfd, path, how, sizeof(*how));
		if (fd >= 0 || (errno != EAGAIN && errno != EXDEV))
			break;
	}
	return fd;
}

/* in_root opens path inside the rootfs, as pathrs-lite does. */
static int in_root(const char *path, int flags)
{
	struct berth_open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = BERTH_RESOLVE_IN_ROOT | BERTH_RESOLVE_NO_MAGICLINKS,
	};

	return openat2_retry(rootfd, path, &how);
}

/* open_nofollow opens p (in the new root) for a mount on it, refusing
 * any symlink on the way (openNoFollow). */
static int open_nofollow(const char *p)
{
	struct berth_open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = BERTH_RESOLVE_NO_SYMLINKS | BERTH_RESOLVE_NO_MAGICLINKS,
	};

	return openat2_retry(AT_FDCWD, p, &how);
}

static const char *fd_path(int fd)
{
	static char buf[4][64];
	static int next;
	char *b = buf[next++ % 4];

	snprintf(b, sizeof(buf[0]), "/proc/thread-self/fd/%d", fd);
	return b;
}

/* mkdir_all makes dest and its parents inside the root (mode 0755 less
 * the umask, as MkdirAllHandle) and opens it: each prefix is resolved
 * from the root again, so a symlink met on the way stays inside. */
static int mkdir_all(const char *dest)
{
	char buf[4096], *s, *e;
	int fd, parent, err;

	fd = in_root(dest, O_PATH | O_DIRECTORY);
	if (fd >= 0 || errno != ENOENT)
		return fd;
	if (strlen(dest) >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(buf, dest);
	parent = in_root("/", O_PATH | O_DIRECTORY);
	if (parent < 0)
		return -1;
	for (s = buf; *s == '/'; s++)
		;
	while (*s) {
		e = strchr(s, '/');
		if (e)
			*e = '\0';
		fd = in_root(buf, O_PATH | O_DIRECTORY);
		if (fd < 0 && errno == ENOENT) {
			if (mkdirat(parent, s, 0755) < 0 && errno != EEXIST)
				goto fail;
			fd = in_root(buf, O_PATH | O_DIRECTORY);
			/* there but not found: a dangling symlink, which is
			 * not a directory (as pathrs-lite says) */
			if (fd < 0 && errno == ENOENT)
				errno = ENOTDIR;
		}
		if (fd < 0)
			goto fail;
		close(parent);
		parent = fd;
		if (!e)
			break;
		*e = '/';
		for (s = e; *s == '/'; s++)
			;
	}
	return parent;
fail:
	err = errno;
	close(parent);
	errno = err;
	return -1;
}

/* split_last cuts path at its last '/': the parent ("/" at the top) and
 * the name. */
static void split_last(const char *path, char *parent, size_t size, const char **name)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (!slash) {
		snprintf(parent, size, "/");
		*name = path;
		return;
	}
	n = (size_t)(slash - path);
	if (n == 0)
		n = 1;
	if (n >= size) {
		errno = ENAMETOOLONG;
		fail("%s: %s", path, errstr(errno));
	}
	memcpy(parent, path, n);
	parent[n] = '\0';
	*name = slash + 1;
}

/* mount_point makes and opens dest for a mount: a directory, or an empty
 * file for a file's bind (mountPoint). What the image has there already is
 * opened with O_PATH, never for reading: a FIFO would block, a device
 * node's open has its driver's effects. A symlink there fails (ELOOP). */
static int mount_point(const char *dest, int dir)
{
	char parent[4096];
	const char *name;
	int pfd, fd, err = 0;

	if (dir)
		return mkdir_all(dest);
	split_last(dest, parent, sizeof(parent), &name);
	pfd = mkdir_all(parent);
	if (pfd < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		struct stat st;

		fd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0) {
			if (fstat(fd, &st) < 0)
				err = errno;
			else if (S_ISLNK(st.st_mode))
				err = ELOOP;
			else
				break;
			close(fd);
			fd = -1;
			break;
		}
		err = errno;
		if (err != ENOENT)
			break;
		fd = openat(pfd, name, O_CREAT | O_EXCL | O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd >= 0) {
			close(fd); /* made: reopened above, as what is there now */
			fd = -1;
		} else if (errno != EEXIST) {
			err = errno;
			break;
		}
		err = EAGAIN;
	}
	close(pfd);
	if (fd < 0)
		errno = err;
	return fd;
}

/* remount changes a mount's flags, keeping those the kernel locked
 * (remount in rootfs_linux.go). */
static int remount(const char *path, unsigned long flags)
{
	struct statfs st;

	if (statfs(path, &st) == 0)
		flags |= (unsigned long)st.f_flags &
			 (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME);
	return mount("", path, NULL, flags | MS_REMOUNT, NULL);
}

static int set_attr(int fd, uint64_t set, uint64_t clr)
{
	struct berth_mount_attr attr = {.attr_set = set, .attr_clr = clr};

	return (int)syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | BERTH_AT_RECURSIVE, &attr, sizeof(attr));
}

/* do_mount is mountEntry for a file system or a bind. */
/* The files under /proc a mount may cover (procMounts in spec.go). */
static const char *const proc_mounts[] = {
	"/proc/cpuinfo",      "/proc/diskstats",     "/proc/meminfo",        "/proc/stat",
	"/proc/swaps",        "/proc/uptime",        "/proc/loadavg",        "/proc/slabinfo",
	"/proc/net/dev",      "/proc/pressure/cpu",  "/proc/pressure/io",    "/proc/pressure/memory",
	"/proc/sys/kernel/ns_last_pid",
};

/* proc_mount_allowed says whether dest, written as the spec has it, is
 * one of proc_mounts once repeated and trailing slashes are dropped (a
 * "." or ".." in it never is). */
static int proc_mount_allowed(const char *dest)
{
	char clean[256];
	size_t n = 0;

	for (const char *p = dest; *p; p++) {
		if (*p == '/' && (p[1] == '/' || p[1] == '\0'))
			continue;
		if (*p == '.' && n > 0 && clean[n - 1] == '/' && (p[1] == '/' || p[1] == '\0' || p[1] == '.'))
			return 0;
		if (n + 1 >= sizeof(clean))
			return 0;
		clean[n++] = *p;
	}
	clean[n] = '\0';
	for (size_t i = 0; i < sizeof(proc_mounts) / sizeof(proc_mounts[0]); i++)
		if (!strcmp(clean, proc_mounts[i]))
			return 1;
	return 0;
}

/* check_proc_mount refuses a mount whose destination, written outside
 * /proc (the runtime checked that), led into the container's /proc
 * through a symlink of the image's (checkResolvedProcMount). */
static void check_proc_mount(int target, const char *dest)
{
	struct statfs st;

	if (fstatfs(target, &st) < 0)
		fail("mount on %s: %s", dest, errstr(errno));
	if (st.f_type == 0x9fa0 /* PROC_SUPER_MAGIC */ && !proc_mount_allowed(dest))
		fail("\"%s\" cannot be mounted because it is inside /proc", dest);
}

static void do_mount(struct cursor *c)
{
	uint32_t flags = rd_u32(c), kind = rd_u32(c), remount_flags = rd_u32(c), nprop = rd_u32(c);
	uint32_t props[16], has_attr, sysfs_fallback;
	uint64_t set, clr;
	char *src, *dest, *type, *data, *what;
	int target, mnt, r;

	if (nprop > 16)
		bad_plan();
	for (uint32_t i = 0; i < nprop; i++)
		props[i] = rd_u32(c);
	has_attr = rd_u32(c);
	set = rd_u64(c);
	clr = rd_u64(c);
	sysfs_fallback = rd_u32(c);
	src = rd_str(c);
	dest = rd_str(c);
	type = rd_str(c);
	data = rd_str(c);
	what = rd_str(c);

	if (kind == 1) {
		struct stat st;
		if (stat(src, &st) < 0)
			fail("%s: stat %s: %s", what, src, errstr(errno));
		target = mount_point(dest, S_ISDIR(st.st_mode));
		if (target < 0)
			fail("%s: %s", what, errstr(errno));
		check_proc_mount(target, dest);
		r = mount(src, fd_path(target), NULL, flags & (MS_BIND | MS_REC), NULL);
	} else {
		target = mkdir_all(dest);
		if (target < 0)
			fail("%s: %s", what, errstr(errno));
		check_proc_mount(target, dest);
		r = mount(src, fd_path(target), type, flags, *data ? data : NULL);
		if (r < 0 && errno == EPERM && sysfs_fallback) {
			/* sysfs only mounts in a network namespace one owns:
			 * show the host's, read-only, as runc does */
			r = mount("/sys", fd_path(target), NULL, MS_BIND | MS_REC, NULL);
			has_attr = 1;
			set |= BERTH_MOUNT_ATTR_RDONLY | BERTH_MOUNT_ATTR_NOSUID | BERTH_MOUNT_ATTR_NODEV |
			       BERTH_MOUNT_ATTR_NOEXEC;
		}
	}
	if (r < 0)
		fail("%s: %s", what, errstr(errno));
	close(target);
	if (!remount_flags && !has_attr && !nprop)
		return;
	/* the new mount, reopened inside the root */
	mnt = in_root(dest, O_PATH);
	if (mnt < 0)
		fail("%s: %s", what, errstr(errno));
	if (remount_flags && remount(fd_path(mnt), remount_flags) < 0)
		fail("%s: %s", what, errstr(errno));
	if (has_attr && set_attr(mnt, set, clr) < 0)
		fail("%s: mount_setattr: %s", what, errstr(errno));
	for (uint32_t i = 0; i < nprop; i++)
		if (mount("", fd_path(mnt), NULL, props[i], NULL) < 0)
			fail("%s: %s", what, errstr(errno));
	close(mnt);
}

/* own_cgroup finds this process's cgroup in the hierarchy named key in
 * /proc/thread-self/cgroup ("" for the v2 one), as ownCgroups, or NULL
 * with errno set. The file is read whole, however long: a line cut short
 * would name an ancestor of the container's cgroup, and its bind would
 * show the container other cgroups. */
static const char *own_cgroup(const char *key)
{
	static char *buf;
	static char found[4096];
	size_t klen = strlen(key);

	if (!buf) {
		size_t len = 0, cap = 16384;
		int fd = open("/proc/thread-self/cgroup", O_RDONLY | O_CLOEXEC);
		ssize_t n;

		if (fd < 0)
			fail("open /proc/thread-self/cgroup: %s", errstr(errno));
		buf = malloc(cap);
		if (!buf)
			fail("init: out of memory");
		while ((n = read(fd, buf + len, cap - 1 - len)) > 0) {
			len += (size_t)n;
			if (len == cap - 1) {
				char *b = realloc(buf, cap * 2);
				if (!b)
					fail("init: out of memory");
				buf = b;
				cap *= 2;
			}
		}
		if (n < 0)
			fail("read /proc/thread-self/cgroup: %s", errstr(errno));
		close(fd);
		buf[len] = '\0';
	}
	for (char *line = buf; *line;) {
		char *nl = strchr(line, '\n'), *c1, *c2;
		size_t ll = nl ? (size_t)(nl - line) : strlen(line);
		c1 = memchr(line, ':', ll);
		c2 = c1 ? memchr(c1 + 1, ':', ll - (size_t)(c1 + 1 - line)) : NULL;
		if (c2 && (size_t)(c2 - c1 - 1) == klen && !strncmp(c1 + 1, key, klen)) {
			size_t pl = ll - (size_t)(c2 + 1 - line);
			if (pl >= sizeof(found)) {
				errno = ENAMETOOLONG;
				return NULL;
			}
			memcpy(found, c2 + 1, pl);
			found[pl] = '\0';
			return found;
		}
		if (!nl)
			break;
		line = nl + 1;
	}
	errno = ENOENT;
	return NULL;
}

/* hierarchy is mountHierarchy: a fresh mount with a cgroup namespace,
 * else a bind of this container's own part of the host's hierarchy. */
static int hierarchy(int target, const char *type, const char *mountpoint, const char *root, const char *key,
		     int cgroupns, unsigned long flags)
{
	char src[8192];
	const char *own;
	size_t rl = strlen(root);

	if (cgroupns)
		return mount("cgroup", fd_path(target), type, flags | MS_NOSUID | MS_NODEV | MS_NOEXEC,
			     !strcmp(type, "cgroup") ? key : NULL);
	own = own_cgroup(!strcmp(type, "cgroup") ? key : "");
	if (!own)
		return -1;
	if (!strncmp(own, root, rl))
		own += rl;
	if (snprintf(src, sizeof(src), "%s/%s", mountpoint, own) >= (int)sizeof(src)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return mount(src, fd_path(target), NULL, MS_BIND | MS_REC, NULL);
}

/* bound_readonly gives a bind hierarchy, once it is mounted, the flags of
 * a fresh mount (nosuid, nodev, noexec, as runc has them) and read-only
 * when asked: fd, opened after the mount, names the new mount. */
static int bound_readonly(int fd, int cgroupns, unsigned long flags)
{
	int r = 0, err;

	if (fd < 0)
		return -1;
	if (!cgroupns)
		r = remount(fd_path(fd), MS_BIND | (flags & MS_RDONLY) | MS_NOSUID | MS_NODEV | MS_NOEXEC);
	err = errno;
	close(fd);
	errno = err;
	return r;
}

/* do_cgroup is mountCgroup: the v2 hierarchy alone at dest, or a tmpfs
 * holding one mount per host hierarchy, named like the host's. */
static void do_cgroup(struct cursor *c)
{
	unsigned long flags = rd_u32(c) & ~(unsigned long)(MS_BIND | MS_REC);
	int cgroupns = (int)rd_u32(c), dfd;
	char *dest = rd_str(c), *what = rd_str(c);
	uint32_t n = rd_u32(c);
	char **type, **mp, **root, **key;

	if (n > 64)
		bad_plan();
	type = calloc(n + 1, sizeof(char *));
	mp = calloc(n + 1, sizeof(char *));
	root = calloc(n + 1, sizeof(char *));
	key = calloc(n + 1, sizeof(char *));
	if (!type || !mp || !root || !key)
		fail("init: out of memory");
	for (uint32_t i = 0; i < n; i++) {
		type[i] = rd_str(c);
		mp[i] = rd_str(c);
		root[i] = rd_str(c);
		key[i] = rd_str(c);
	}
	dfd = mkdir_all(dest);
	if (dfd < 0)
		fail("%s: %s", what, errstr(errno));
	if (n == 1 && !strcmp(type[0], "cgroup2") && !strcmp(mp[0], "/sys/fs/cgroup")) {
		if (hierarchy(dfd, type[0], mp[0], root[0], key[0], cgroupns, flags) < 0 ||
		    bound_readonly(in_root(dest, O_PATH | O_DIRECTORY), cgroupns, flags) < 0)
			fail("%s: %s", what, errstr(errno));
		close(dfd);
		return;
	}
	if (mount("tmpfs", fd_path(dfd), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755") < 0)
		fail("%s: %s", what, errstr(errno));
	close(dfd);
	dfd = in_root(dest, O_PATH | O_DIRECTORY); /* the tmpfs */
	if (dfd < 0)
		fail("%s: %s", what, errstr(errno));
	for (uint32_t i = 0; i < n; i++) {
		const char *name;
		int sub;

		if (strncmp(mp[i], "/sys/fs/cgroup/", strlen("/sys/fs/cgroup/")))
			continue;
		name = strrchr(mp[i], '/') + 1;
		if (mkdirat(dfd, name, 0755) < 0 && errno != EEXIST)
			fail("%s: %s", what, errstr(errno));
		sub = openat(dfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0 || hierarchy(sub, type[i], mp[i], root[i], key[i], cgroupns, flags) < 0 ||
		    bound_readonly(openat(dfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), cgroupns, flags) < 0)
			fail("%s: %s: %s", what, name, errstr(errno));
		close(sub);
	}
	if ((flags & MS_RDONLY) && remount(fd_path(dfd), MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC) < 0)
		fail("%s: %s", what, errstr(errno));
	close(dfd);
}

/* do_device is makeDevice outside a user namespace: a fresh node with
 * exactly its mode and owner, or where mknod(2) is refused, a bind of the
 * host's node. */
static void do_device(struct cursor *c)
{
	uint32_t mode = rd_u32(c), major = rd_u32(c), minor = rd_u32(c), uid = rd_u32(c), gid = rd_u32(c);
	char *path = rd_str(c), parent[4096];
	const char *name;
	int pfd, fd;

	split_last(path, parent, sizeof(parent), &name);
	pfd = mkdir_all(parent);
	if (pfd < 0)
		fail("create device %s: %s", path, errstr(errno));
	if (unlinkat(pfd, name, 0) < 0 && (errno == EISDIR || errno == EPERM))
		unlinkat(pfd, name, AT_REMOVEDIR);
	if (mknodat(pfd, name, mode, makedev(major, minor)) == 0) {
		/* mknod is subject to the umask: set the mode exactly */
		if (fchmodat(pfd, name, mode & 07777, 0) < 0 || fchownat(pfd, name, uid, gid, 0) < 0)
			fail("create device %s: %s", path, errstr(errno));
		close(pfd);
		return;
	}
	if (errno != EPERM)
		fail("create device %s: %s", path, errstr(errno));
	fd = openat(pfd, name, O_CREAT | O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 && errno != EISDIR)
		fail("create device %s: %s", path, errstr(errno));
	if (fd >= 0)
		close(fd);
	fd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || mount(path, fd_path(fd), NULL, MS_BIND, NULL) < 0)
		fail("create device %s: %s", path, errstr(errno));
	close(fd);
	close(pfd);
}

static void do_symlink(struct cursor *c)
{
	char *target = rd_str(c), *path = rd_str(c), parent[4096];
	uint32_t quiet = rd_u32(c);
	const char *name;
	int pfd;

	split_last(path, parent, sizeof(parent), &name);
	pfd = in_root(parent, O_PATH | O_DIRECTORY);
	if (pfd < 0 || (symlinkat(target, pfd, name) < 0 && errno != EEXIST)) {
		if (!quiet)
			fail("symlink %s: %s", path, errstr(errno));
	}
	if (pfd >= 0)
		close(pfd);
}

/* pivot is pivotRoot: pivot_root(".", ".") and the old root, stacked on
 * the new one, made a slave and unmounted through its own descriptor. */
static void pivot(const char *rootfs)
{
	static const char hint[] = " (where the host's root is not a mount point, as on an initramfs, "
				   "--no-pivot runs the container with chroot)";
	int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC), newroot;

	if (oldroot < 0)
		fail("open /: %s", errstr(errno));
	newroot = open(rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (newroot < 0)
		fail("open %s: %s", rootfs, errstr(errno));
	if (fchdir(newroot) < 0)
		fail("%s", errstr(errno));
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		fail("pivot_root: %s%s", errstr(errno), errno == EINVAL ? hint : "");
	if (fchdir(oldroot) < 0)
		fail("enter the old root: %s", errstr(errno));
	if (mount("", ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		fail("make old root rslave: %s", errstr(errno));
	if (umount2(".", MNT_DETACH) < 0)
		fail("unmount old root: %s", errstr(errno));
	if (chdir("/") < 0)
		fail("%s", errstr(errno));
	close(oldroot);
	close(newroot);
}

static int dev_null = -1;

/* open_dev_null opens the container's /dev/null, which must be the null
 * device: a /dev from a volume could make it a symlink elsewhere, and the
 * "mask" a writable window (CVE-2025-31133 in runc). */
static void open_dev_null(const char *masking)
{
	struct stat st;

	if (dev_null >= 0)
		return;
	dev_null = open_nofollow("/dev/null");
	if (dev_null < 0)
		fail("mask %s: open /dev/null: %s", masking, errstr(errno));
	if (fstat(dev_null, &st) < 0)
		fail("mask %s: stat /dev/null: %s", masking, errstr(errno));
	if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3))
		fail("mask %s: /dev/null is not the null device", masking);
}

static int attach_tree(int tree, int target)
{
	int r = (int)syscall(SYS_move_mount, tree, "", target, "",
			     BERTH_MOVE_MOUNT_F_EMPTY_PATH | BERTH_MOVE_MOUNT_T_EMPTY_PATH);
	int err = errno;

	close(tree);
	errno = err;
	return r;
}

static int empty_tmpfs(void)
{
	int ctx = (int)syscall(SYS_fsopen, "tmpfs", BERTH_FSOPEN_CLOEXEC), fd, err;

	if (ctx < 0)
		return -1;
	if (syscall(SYS_fsconfig, ctx, BERTH_FSCONFIG_SET_STRING, "size", "0k", 0) < 0 ||
	    syscall(SYS_fsconfig, ctx, BERTH_FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
		err = errno;
		close(ctx);
		errno = err;
		return -1;
	}
	fd = (int)syscall(SYS_fsmount, ctx, BERTH_FSMOUNT_CLOEXEC, BERTH_MOUNT_ATTR_RDONLY);
	err = errno;
	close(ctx);
	errno = err;
	return fd;
}

/* mask is maskPath: a directory under an empty read-only tmpfs, a file
 * under a bind of /dev/null. */
static void mask(const char *p)
{
	struct stat st;
	int target = open_nofollow(p), tree;

	if (target < 0 && errno == ENOENT)
		return;
	if (target < 0 || fstat(target, &st) < 0)
		fail("mask %s: %s", p, errstr(errno));
	if (S_ISDIR(st.st_mode)) {
		tree = empty_tmpfs();
	} else {
		tree = (int)syscall(SYS_open_tree, dev_null, "", BERTH_OPEN_TREE_CLONE | O_CLOEXEC | AT_EMPTY_PATH);
	}
	if (tree < 0 || attach_tree(tree, target) < 0)
		fail("mask %s: %s", p, errstr(errno));
	close(target);
}

/* readonly is readonlyPath: a recursive copy of p's mounts, read-only as
 * a whole, replaces it. */
static void readonly(const char *p)
{
	int target = open_nofollow(p), tree;

	if (target < 0 && errno == ENOENT)
		return;
	if (target < 0)
		fail("bind %s read-only: %s", p, errstr(errno));
	tree = (int)syscall(SYS_open_tree, target, "",
			    BERTH_OPEN_TREE_CLONE | O_CLOEXEC | AT_EMPTY_PATH | BERTH_AT_RECURSIVE);
	if (tree < 0)
		fail("bind %s read-only: %s", p, errstr(errno));
	if (set_attr(tree, BERTH_MOUNT_ATTR_RDONLY, 0) < 0)
		fail("remount %s read-only: %s", p, errstr(errno));
	if (attach_tree(tree, target) < 0)
		fail("bind %s read-only: %s", p, errstr(errno));
	close(target);
}

static void write_file(const char *path, const char *value, const char *prefix)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0);
	size_t n = strlen(value);

	if (fd < 0)
		fail("%s: open %s: %s%s", prefix, path, errstr(errno),
		     strncmp(prefix, "set oom", 7) ? "" : " (the host refuses it)");
	if (write(fd, value, n) != (ssize_t)n)
		fail("%s: write %s: %s%s", prefix, path, errstr(errno),
		     strncmp(prefix, "set oom", 7) ? "" : " (the host refuses it)");
	close(fd);
}

static void sysctl(struct cursor *c)
{
	char *key = rd_str(c), *value = rd_str(c), path[4096], prefix[8192];

	if (strstr(key, "..") || strchr(key, '/'))
		fail("invalid sysctl \"%s\"", key);
	if (snprintf(path, sizeof(path), "/proc/sys/%s", key) >= (int)sizeof(path))
		fail("sysctl %s=%s: %s", key, value, errstr(ENAMETOOLONG));
	for (char *s = path + strlen("/proc/sys/"); *s; s++)
		if (*s == '.')
			*s = '/';
	snprintf(prefix, sizeof(prefix), "sysctl %s=%s", key, value);
	write_file(path, value, prefix);
}

/* each calls fn for every record whose tag is in tags, in order. */
static void each(const unsigned char *buf, ssize_t n, const char *tags, void (*fn)(unsigned char, struct cursor *))
{
	const unsigned char *p = buf + 1, *end = buf + n;

	while (p < end) {
		unsigned char tag;
		uint32_t len;

		if (end - p < 5)
			bad_plan();
		tag = p[0];
		len = u32(p + 1);
		p += 5;
		if ((uint64_t)(end - p) < len)
			bad_plan();
		if (strchr(tags, tag)) {
			struct cursor c = {p, p + len};
			fn(tag, &c);
		}
		p += len;
	}
}

/* The values of the single records, gathered by collect. */
static struct {
	int cgroupns, readonly_root, has_prop, has_final_prop;
	uint32_t prop, final_prop;
	char *prop_name, *final_prop_name, *rootfs, *hostname, *domainname, *oom, *keyring;
} v;

static void collect(unsigned char tag, struct cursor *c)
{
	switch (tag) {
	case 'G':
		v.cgroupns = 1;
		break;
	case 'o':
		v.has_prop = 1;
		v.prop = rd_u32(c);
		v.prop_name = string(c->p, (uint32_t)(c->end - c->p));
		break;
	case 'z':
		v.has_final_prop = 1;
		v.final_prop = rd_u32(c);
		v.final_prop_name = string(c->p, (uint32_t)(c->end - c->p));
		break;
	case 'r':
		v.rootfs = string(c->p, (uint32_t)(c->end - c->p));
		break;
	case 'H':
		v.hostname = string(c->p, (uint32_t)(c->end - c->p));
		break;
	case 'h':
		v.domainname = string(c->p, (uint32_t)(c->end - c->p));
		break;
	case 'L':
		v.readonly_root = 1;
		break;
	case 'J':
		v.oom = string(c->p, (uint32_t)(c->end - c->p));
		break;
	case 'k':
		v.keyring = string(c->p, (uint32_t)(c->end - c->p));
		break;
	}
}

static void build(unsigned char tag, struct cursor *c)
{
	switch (tag) {
	case 'm':
		do_mount(c);
		break;
	case 'c':
		do_cgroup(c);
		break;
	case 'n':
		do_device(c);
		break;
	case 'l':
		do_symlink(c);
		break;
	}
}

static void finish(unsigned char tag, struct cursor *c)
{
	char *p = string(c->p, (uint32_t)(c->end - c->p));

	if (tag == 'Q') {
		/* the null device is checked first, whatever is masked */
		open_dev_null(p);
		mask(p);
	}
	else
		readonly(p);
	free(p);
}

static void run_sysctl(unsigned char tag, struct cursor *c)
{
	(void)tag;
	sysctl(c);
}

/* make_private is parentMountPrivate: the mount the rootfs is on, found
 * by walking up to the nearest mount point. */
static void make_private(const char *rootfs)
{
	char path[4096];

	if (snprintf(path, sizeof(path), "%s", rootfs) >= (int)sizeof(path))
		fail("make the mount of %s private: %s", rootfs, errstr(ENAMETOOLONG));
	for (;;) {
		char *slash;

		if (mount("", path, NULL, MS_PRIVATE, NULL) == 0)
			return;
		if (errno != EINVAL || !strcmp(path, "/"))
			fail("make the mount of %s private: %s", path, errstr(errno));
		slash = strrchr(path, '/');
		if (!slash)
			fail("make the mount of %s private: %s", path, errstr(EINVAL));
		if (slash == path)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
}

/* make_cwd makes the working directory, which a mount (a volume, a tmpfs)
 * can cover, in the container's root: root's and 0755, as os.MkdirAll in
 * the Go init (and runc) makes it. */
static void make_cwd(const char *cwd)
{
	char buf[4096];
	struct stat st;

	if (!cwd || !*cwd)
		return;
	if (snprintf(buf, sizeof(buf), "%s", cwd) >= (int)sizeof(buf))
		fail("make the working directory: mkdir %s: %s", cwd, errstr(ENAMETOOLONG));
	for (char *s = buf + 1;; s++) {
		char c = *s;

		if (c != '/' && c != '\0')
			continue;
		*s = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			fail("make the working directory: mkdir %s: %s", buf, errstr(errno));
		*s = c;
		if (!c)
			break;
	}
	if (stat(buf, &st) < 0)
		fail("make the working directory: stat %s: %s", buf, errstr(errno));
	if (!S_ISDIR(st.st_mode))
		fail("make the working directory: mkdir %s: %s", buf, errstr(ENOTDIR));
}

/* berth_init_stage does not return. */
void berth_init_stage(int syncfd, const unsigned char *buf, ssize_t n)
{
	static struct plan pl;
	const char *lfd = getenv("_BERTH_LISTENFD"), *exefd = getenv("_BERTH_EXEFD");
	char *path = NULL, ack[16];
	int listenfd = lfd && *lfd ? atoi(lfd) : -1, conn;
	ssize_t got;

	report_fd = syncfd;
	if (exefd && *exefd)
		close(atoi(exefd)); /* the sealed binary this process runs */
	berth_parse_plan(buf, n, &pl, 1);
	each(buf, n, "GozrHhLJk", collect);
	pl.keyring = v.keyring;
	if (!v.rootfs)
		bad_plan();

	if (v.cgroupns && unshare(CLONE_NEWCGROUP) < 0)
		fail("unshare cgroup namespace: %s", errstr(errno));
	/* prepareRootfs */
	if (mount("", "/", NULL, v.has_prop ? v.prop : MS_SLAVE | MS_REC, NULL) < 0)
		fail("make / %s: %s", v.has_prop ? v.prop_name : "", errstr(errno));
	make_private(v.rootfs);
	if (mount(v.rootfs, v.rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
		fail("bind rootfs: %s", errstr(errno));
	rootfd = open(v.rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		fail("open rootfs: %s", errstr(errno));
	each(buf, n, "mcnl", build);
	close(rootfd);
	rootfd = -1;
	pivot(v.rootfs);
	if (!pl.nul_in_cwd)
		make_cwd(pl.cwd);

	if (pl.terminal)
		berth_setup_terminal(&pl, 1);
	else if (setsid() < 0)
		fail("setsid: %s", errstr(errno));
	if (v.hostname && sethostname(v.hostname, strlen(v.hostname)) < 0)
		fail("sethostname: %s", errstr(errno));
	if (v.domainname && setdomainname(v.domainname, strlen(v.domainname)) < 0)
		fail("setdomainname: %s", errstr(errno));
	each(buf, n, "Y", run_sysctl);
	/* finishRootfs */
	each(buf, n, "Q", finish);
	if (dev_null >= 0) {
		close(dev_null);
		dev_null = -1;
	}
	each(buf, n, "W", finish);
	if (v.readonly_root && remount("/", MS_BIND | MS_RDONLY) < 0)
		fail("make rootfs read-only: %s", errstr(errno));
	if (v.has_final_prop && mount("", "/", NULL, v.final_prop, NULL) < 0)
		fail("make / %s: %s", v.final_prop_name, errstr(errno));
	if (v.oom) {
		char prefix[64];
		snprintf(prefix, sizeof(prefix), "set oom_score_adj to %s", v.oom);
		write_file("/proc/self/oom_score_adj", v.oom, prefix);
	}
	/* A program that cannot be found fails create, not start (a relative
	 * path with a slash depends on the working directory: that waits). */
	if (!strchr(pl.args[0], '/') || pl.args[0][0] == '/')
		path = look_path(pl.args[0], pl.env, pl.nenv);

	if (send(syncfd, "mready\n", 7, 0) < 0)
		_exit(1);
	/* The runtime records the container, then says so; if it went away
	 * instead, nobody will ever start or delete this: go. */
	do {
		got = recv(syncfd, ack, sizeof(ack), 0);
	} while (got < 0 && errno == EINTR);
	if (got != 7 || memcmp(ack, "mstate\n", 7))
		_exit(1);
	close(syncfd);
	if (listenfd < 0)
		_exit(1);
	do {
		conn = accept4(listenfd, NULL, NULL, SOCK_CLOEXEC);
	} while (conn < 0 && errno == EINTR);
	if (conn < 0)
		_exit(1);
	close(listenfd);
	report_fd = conn;
	berth_run_process(&pl, path);
}
