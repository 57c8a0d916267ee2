/*
 * exec_stage runs a process in a running container without the Go runtime.
 *
 * For `exec`, nsenter.c has joined the container's namespaces and cgroup and
 * forked; what is left is what init's execProcess does for an exec: limits,
 * working directory, identity, capabilities, no_new_privs, seccomp, and
 * execve(2), after setupTerminal's pty for a terminal. The Go runtime costs
 * a process about two milliseconds to start here and decoding the
 * process's JSON another, several times the work itself, so when the
 * runtime can say everything in a few numbers and strings (no scheduler,
 * I/O priority or CPU affinity: see execPlan in execplan_linux.go) it sets
 * _BERTH_EXEC in the environment and this does the work instead, from a
 * plan the runtime sends after the PID:
 *
 *   'X' then records: a tag byte, a little-endian u32 length, the payload.
 *
 *   'A' an argument (in order)        'V' an environment entry (in order)
 *   'D' the working directory          'N' set no_new_privs (empty)
 *   'U' u32 uid, u32 gid, u32 additional gids...
 *   'M' u32 umask
 *   'C' u32 last capability, u64 bounding, effective, permitted,
 *       inheritable and ambient sets
 *   'P' u32 personality, then the domain's name
 *   'R' u32 resource, u64 soft, u64 hard, then the limit's name
 *   'F' u32 the lowest descriptor that must not survive execve
 *   'S' the compiled seccomp filter (seccomp.Filter.MarshalBinary: u64
 *       flags, then struct sock_filter instructions)
 *   'T' a terminal: empty, or u32 height and u32 width
 *
 * The steps and their error messages are execProcess's, in its order, so
 * the runtime reports a failure the same way whichever stage ran; errors
 * go back as "E<message>". The sync socket is close-on-exec: its end tells
 * the runtime that the program runs.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include "stage.h"

int report_fd = -1;

/* errstr is Go's text for an errno ("no such file or directory", which
 * the daemon looks for to tell exit code 127 from 126): Go's own table for
 * the errors these steps can meet, else the C library's text with a
 * lower-case first letter. */
const char *errstr(int err)
{
	static const struct {
		int err;
		const char *text;
	} go[] = {
		{EPERM, "operation not permitted"},       {ENOENT, "no such file or directory"},
		{EIO, "input/output error"},              {ENXIO, "no such device or address"},
		{E2BIG, "argument list too long"},        {ENOEXEC, "exec format error"},
		{EBADF, "bad file descriptor"},           {EAGAIN, "resource temporarily unavailable"},
		{ENOMEM, "cannot allocate memory"},       {EACCES, "permission denied"},
		{EFAULT, "bad address"},                  {EBUSY, "device or resource busy"},
		{EEXIST, "file exists"},                  {ENODEV, "no such device"},
		{ENOTDIR, "not a directory"},             {EISDIR, "is a directory"},
		{EINVAL, "invalid argument"},             {ENFILE, "too many open files in system"},
		{EMFILE, "too many open files"},          {ENOTTY, "inappropriate ioctl for device"},
		{ETXTBSY, "text file busy"},              {ENOSPC, "no space left on device"},
		{EROFS, "read-only file system"},         {ENAMETOOLONG, "file name too long"},
		{ENOSYS, "function not implemented"},     {ELOOP, "too many levels of symbolic links"},
	};
	static char buf[128];

	for (size_t i = 0; i < sizeof(go) / sizeof(go[0]); i++)
		if (go[i].err == err)
			return go[i].text;
	snprintf(buf, sizeof(buf), "%s", strerror(err));
	buf[0] = tolower((unsigned char)buf[0]);
	return buf;
}

void fail(const char *fmt, ...)
{
	char msg[4096];
	va_list ap;

	msg[0] = 'E';
	va_start(ap, fmt);
	vsnprintf(msg + 1, sizeof(msg) - 1, fmt, ap);
	va_end(ap);
	if (send(report_fd, msg, strlen(msg), 0) < 0) {
		/* nothing more can be said */
	}
	_exit(1);
}

uint32_t u32(const unsigned char *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t u64(const unsigned char *p)
{
	return u32(p) | (uint64_t)u32(p + 4) << 32;
}

/* string copies a payload into a NUL-terminated string. */
char *string(const unsigned char *p, uint32_t n)
{
	char *s = malloc((size_t)n + 1);

	if (!s)
		fail("exec: out of memory");
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

static void bounded_copy(char *dst, size_t size, const unsigned char *p, uint32_t n)
{
	if (n >= size)
		n = size - 1;
	memcpy(dst, p, n);
	dst[n] = '\0';
}

unsigned char *berth_recv_plan(ssize_t *len)
{
	ssize_t size, n;
	unsigned char *buf;

	do {
		size = recv(report_fd, NULL, 0, MSG_PEEK | MSG_TRUNC);
	} while (size < 0 && errno == EINTR);
	if (size <= 0)
		_exit(1); /* the runtime is gone */
	buf = malloc(size);
	if (!buf)
		fail("exec: out of memory");
	do {
		n = recv(report_fd, buf, size, 0);
	} while (n < 0 && errno == EINTR);
	if (n != size)
		fail("exec: bad plan from runtime");
	*len = n;
	return buf;
}

/* The tags of the records that build a container (initstage.c). */
int berth_is_init_record(unsigned char tag)
{
	return tag && strchr("GormclnHhYQWLzJk", tag) != NULL;
}

void berth_parse_plan(const unsigned char *buf, ssize_t n, struct plan *pl, int init)
{
	const unsigned char *p, *end;

	memset(pl, 0, sizeof(*pl));
	if (n < 1 || buf[0] != (init ? 'K' : 'X'))
		fail("exec: bad plan from runtime");
	/* Count the arguments and variables first, to size their arrays. */
	for (p = buf + 1, end = buf + n; p < end;) {
		uint32_t len;

		if (end - p < 5)
			fail("exec: bad plan from runtime");
		len = u32(p + 1);
		if ((uint64_t)(end - p - 5) < len)
			fail("exec: bad plan from runtime");
		pl->nargs += p[0] == 'A';
		pl->nenv += p[0] == 'V';
		pl->nrlimits += p[0] == 'R';
		p += 5 + len;
	}
	pl->args = calloc(pl->nargs + 1, sizeof(char *));
	pl->env = calloc(pl->nenv + 2, sizeof(char *));
	pl->rlimits = calloc(pl->nrlimits + 1, sizeof(*pl->rlimits));
	if (!pl->args || !pl->env || !pl->rlimits)
		fail("exec: out of memory");
	pl->nargs = pl->nenv = pl->nrlimits = 0;
	pl->min_fd = 3;
	for (p = buf + 1; p < end;) {
		unsigned char tag;
		uint32_t len;

		if (end - p < 5)
			fail("exec: bad plan from runtime");
		tag = p[0];
		len = u32(p + 1);
		p += 5;
		if ((uint64_t)(end - p) < len)
			fail("exec: bad plan from runtime");
		switch (tag) {
		case 'A':
			pl->nul_in_args |= memchr(p, 0, len) != NULL;
			pl->args[pl->nargs++] = string(p, len);
			break;
		case 'V':
			pl->nul_in_args |= memchr(p, 0, len) != NULL;
			pl->env[pl->nenv++] = string(p, len);
			break;
		case 'D':
			if (pl->cwd)
				fail("exec: bad plan from runtime");
			pl->nul_in_cwd = memchr(p, 0, len) != NULL;
			pl->cwd = string(p, len);
			break;
		case 'U':
			if (len < 8 || len % 4 || pl->has_user)
				fail("exec: bad plan from runtime");
			pl->has_user = 1;
			pl->uid = u32(p);
			pl->gid = u32(p + 4);
			pl->groups = malloc(len);
			if (!pl->groups)
				fail("exec: out of memory");
			for (uint32_t i = 8; i < len; i += 4)
				pl->groups[pl->ngroups++] = u32(p + i);
			break;
		case 'M':
			if (len != 4)
				fail("exec: bad plan from runtime");
			pl->has_umask = 1;
			pl->umask = u32(p);
			break;
		case 'C':
			if (len != 44)
				fail("exec: bad plan from runtime");
			pl->has_caps = 1;
			pl->last_cap = u32(p);
			pl->bounding = u64(p + 4);
			pl->effective = u64(p + 12);
			pl->permitted = u64(p + 20);
			pl->inheritable = u64(p + 28);
			pl->ambient = u64(p + 36);
			break;
		case 'N':
			pl->no_new_privs = 1;
			break;
		case 'P':
			if (len < 4)
				fail("exec: bad plan from runtime");
			pl->has_personality = 1;
			pl->personality = u32(p);
			bounded_copy(pl->personality_name, sizeof(pl->personality_name), p + 4, len - 4);
			break;
		case 'R':
			if (len < 20)
				fail("exec: bad plan from runtime");
			pl->rlimits[pl->nrlimits].resource = u32(p);
			pl->rlimits[pl->nrlimits].soft = u64(p + 4);
			pl->rlimits[pl->nrlimits].hard = u64(p + 12);
			bounded_copy(pl->rlimits[pl->nrlimits].name, sizeof(pl->rlimits[0].name), p + 20, len - 20);
			pl->nrlimits++;
			break;
		case 'F':
			if (len != 4)
				fail("exec: bad plan from runtime");
			pl->min_fd = u32(p);
			break;
		case 'S':
			if (len < 16 || (len - 8) % 8 || (len - 8) / 8 > 65535 || pl->filter)
				fail("exec: bad plan from runtime");
			pl->seccomp_flags = u64(p);
			pl->filter_len = (len - 8) / 8;
			pl->filter = malloc(len - 8);
			if (!pl->filter)
				fail("exec: out of memory");
			for (uint32_t i = 0; i < pl->filter_len; i++) {
				const unsigned char *ins = p + 8 + 8 * i;
				pl->filter[i].code = ins[0] | ins[1] << 8;
				pl->filter[i].jt = ins[2];
				pl->filter[i].jf = ins[3];
				pl->filter[i].k = u32(ins + 4);
			}
			break;
		case 'T':
			if (len != 0 && len != 8)
				fail("exec: bad plan from runtime");
			pl->terminal = 1;
			if (len == 8) {
				pl->rows = u32(p);
				pl->cols = u32(p + 4);
			}
			break;
		default:
			if (!init || !berth_is_init_record(tag))
				fail("exec: bad plan from runtime");
		}
		p += len;
	}
	if (pl->nargs == 0 || !pl->cwd)
		fail("exec: bad plan from runtime");
}

static const char *getenv_of(char **env, int n, const char *key)
{
	size_t k = strlen(key);
	const char *v = NULL;

	for (int i = 0; i < n; i++)
		if (!strncmp(env[i], key, k) && env[i][k] == '=')
			v = env[i] + k + 1;
	return v;
}

/* atoi_like is strconv.Atoi as moby/sys/user uses it: an optional sign
 * and decimal digits, anything else 0. */
static long long atoi_like(const char *f)
{
	const char *d = (*f == '+' || *f == '-') ? f + 1 : f;
	char *end;
	long long v;

	if (!*d || !isdigit((unsigned char)*d))
		return 0;
	for (const char *c = d; *c; c++)
		if (!isdigit((unsigned char)*c))
			return 0;
	v = strtoll(f, &end, 10);
	return v;
}

/* home_dir is homeDir: the home of the first entry for uid in the
 * container's /etc/passwd, read with moby/sys/user's rules (lines
 * trimmed, fields split at ':', a line over 64 KiB makes the file
 * unreadable), or "/". */
static char *home_dir(uint32_t uid)
{
	enum { max = 64 * 1024 };
	char *line = malloc(max + 2), *home = NULL;
	FILE *f = fopen("/etc/passwd", "re");

	if (!f || !line) {
		if (f)
			fclose(f);
		free(line);
		return strdup("/");
	}
	for (int c = 0; c != EOF;) {
		char *fields[7] = {0}, *s = line, *e;
		size_t n = 0;
		int i;

		/* one line, counted in bytes (NULs too), at most 64 KiB: a
		 * longer one makes Go's scanner give up, and so "/" */
		while ((c = getc(f)) != EOF && c != '\n') {
			if (n == max)
				break;
			line[n++] = (char)c;
		}
		if (n == max && c != EOF && c != '\n') {
			free(home);
			home = NULL;
			break;
		}
		line[n] = '\0';
		while (*s && isspace((unsigned char)*s))
			s++;
		for (e = s + strlen(s); e > s && isspace((unsigned char)e[-1]); e--)
			;
		*e = '\0';
		if (!*s || home)
			continue;
		for (i = 0; i < 7 && s; i++) {
			fields[i] = s;
			s = strchr(s, ':');
			if (s)
				*s++ = '\0';
		}
		if (fields[2] && atoi_like(fields[2]) == (long long)uid)
			home = strdup(fields[5] ? fields[5] : "");
	}
	fclose(f);
	free(line);
	if (!home || !*home) {
		free(home);
		return strdup("/");
	}
	return home;
}

/* executable is lookPath's check: a file with an execute bit. */
static int executable(const char *path, int *err)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		*err = errno;
		return 0;
	}
	if (S_ISDIR(st.st_mode) || !(st.st_mode & 0111)) {
		*err = EACCES;
		return 0;
	}
	return 1;
}

/* look_path finds the program as lookPath does, with the container's PATH. */
char *look_path(const char *name, char **env, int nenv)
{
	const char *path;
	char *dirs, *dir;
	int err;

	if (strchr(name, '/')) {
		if (executable(name, &err))
			return strdup(name);
		if (err == EACCES)
			fail("exec: \"%s\": %s", name, errstr(err));
		fail("exec: \"%s\": stat %s: %s", name, name, errstr(err));
	}
	path = getenv_of(env, nenv, "PATH");
	if (!path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	if (!*path) /* an empty PATH has no directories (filepath.SplitList) */
		fail("exec: \"%s\": executable file not found in $PATH", name);
	dirs = strdup(path);
	if (!dirs)
		fail("exec: out of memory");
	/* strsep, unlike strtok, keeps empty elements: they mean ".". */
	for (char *rest = dirs; (dir = strsep(&rest, ":")) != NULL;) {
		char full[4096];

		int n;

		if (!*dir || !strcmp(dir, "."))
			n = snprintf(full, sizeof(full), "%s", name);
		else
			n = snprintf(full, sizeof(full), "%s/%s", dir, name);
		if (n < 0 || (size_t)n >= sizeof(full))
			continue; /* too long to name: stat would say so */
		if (executable(full, &err)) {
			char *found = strdup(full);
			free(dirs);
			return found;
		}
	}
	fail("exec: \"%s\": executable file not found in $PATH", name);
	return NULL;
}

static void set_rlimits(const struct plan *pl)
{
	for (int i = 0; i < pl->nrlimits; i++) {
		struct rlimit lim = {.rlim_cur = pl->rlimits[i].soft, .rlim_max = pl->rlimits[i].hard}, cur;
		if (prlimit(0, pl->rlimits[i].resource, &lim, NULL) < 0) {
			int err = errno;
			prlimit(0, pl->rlimits[i].resource, NULL, &cur);
			fail("set %s to %llu:%llu: %s (the host's hard limit is %llu)", pl->rlimits[i].name,
			     (unsigned long long)lim.rlim_cur, (unsigned long long)lim.rlim_max, errstr(err),
			     (unsigned long long)cur.rlim_max);
		}
	}
}

/* drop_bounding is capSets.dropBounding: it needs CAP_SETPCAP, so it
 * comes before the identity change, and without CAP_SETPCAP it is skipped,
 * as moby/sys/capability does. */
static void drop_bounding(const struct plan *pl)
{
	struct cap_header hdr = {.version = BERTH_CAP_VERSION_3};
	struct cap_data data[2];

	if (syscall(SYS_capget, &hdr, data) < 0)
		fail("drop bounding capabilities: %s", errstr(errno));
	if (!(data[0].effective & (1u << BERTH_CAP_SETPCAP)))
		return;
	for (uint32_t c = 0; c <= pl->last_cap && c < 64; c++) {
		if (pl->bounding >> c & 1)
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			fail("drop bounding capabilities: %s", errstr(errno));
	}
}

/* apply_caps is capSets.apply: the three sets, then the ambient ones. */
static void apply_caps(const struct plan *pl)
{
	struct cap_header hdr = {.version = BERTH_CAP_VERSION_3};
	struct cap_data data[2];

	for (int i = 0; i < 2; i++) {
		data[i].effective = (uint32_t)(pl->effective >> (32 * i));
		data[i].permitted = (uint32_t)(pl->permitted >> (32 * i));
		data[i].inheritable = (uint32_t)(pl->inheritable >> (32 * i));
	}
	if (syscall(SYS_capset, &hdr, data) < 0)
		fail("apply capabilities: %s", errstr(errno));
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		fail("raise ambient capabilities: %s", errstr(errno));
	for (uint32_t c = 0; c <= pl->last_cap && c < 64; c++) {
		if (!(pl->ambient >> c & 1))
			continue;
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0 && errno != EINVAL)
			fail("raise ambient capabilities: %s", errstr(errno));
	}
}

static void install_seccomp(const struct plan *pl)
{
	struct bpf_prog prog = {.len = pl->filter_len, .filter = pl->filter};
	long r = syscall(SYS_seccomp, BERTH_SECCOMP_SET_MODE_FILTER, (unsigned long)pl->seccomp_flags, &prog);

	if (r < 0)
		fail("load seccomp profile: load seccomp filter: %s", errstr(errno));
	if (r > 0)
		fail("load seccomp profile: load seccomp filter: thread %ld could not be synchronized", r);
}

/* set_identity is setIdentity: PR_SET_KEEPCAPS keeps the permitted set
 * across the uid change so that the capabilities can be applied after. */
static void set_identity(const struct plan *pl)
{
	gid_t *groups = calloc(pl->ngroups + 1, sizeof(gid_t));

	if (!groups)
		fail("exec: out of memory");
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		fail("prctl keepcaps: %s", errstr(errno));
	for (int i = 0; i < pl->ngroups; i++)
		groups[i] = pl->groups[i];
	if (syscall(SYS_setgroups, pl->ngroups, groups) < 0 && !(pl->ngroups == 0 && errno == EPERM))
		fail("setgroups: %s", errstr(errno));
	if (syscall(SYS_setresgid, pl->gid, pl->gid, pl->gid) < 0)
		fail("setgid %u: %s", pl->gid, errstr(errno));
	if (syscall(SYS_setresuid, pl->uid, pl->uid, pl->uid) < 0)
		fail("setuid %u: %s", pl->uid, errstr(errno));
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		fail("%s", errstr(errno));
}

/* setup_terminal is setupTerminal for an exec: a pty from the container's
 * devpts, whose master goes to the runtime ("mpty" with the descriptor) and
 * whose slave becomes the controlling terminal and stdio. */
void berth_setup_terminal(const struct plan *pl, int dev_console)
{
	char path[64], msg[] = "mpty\n", cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = msg, .iov_len = sizeof(msg) - 1};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm;
	int master, slave, n, unlock = 0;

	master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		fail("open pty: open /dev/ptmx: %s", errstr(errno));
	if (ioctl(master, TIOCGPTN, &n) < 0 || ioctl(master, TIOCSPTLCK, &unlock) < 0)
		fail("open pty: %s", errstr(errno));
	snprintf(path, sizeof(path), "/dev/pts/%d", n);
	if (pl->rows || pl->cols) {
		struct winsize ws = {.ws_row = (unsigned short)pl->rows, .ws_col = (unsigned short)pl->cols};
		ioctl(master, TIOCSWINSZ, &ws);
	}
	slave = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		fail("open pty slave: open %s: %s", path, errstr(errno));
	if (dev_console) {
		/* createTarget("/dev/console"): the file to bind onto */
		int fd;
		if (mkdir("/dev", 0755) < 0 && errno != EEXIST)
			fail("create /dev/console: mkdir /dev: %s", errstr(errno));
		fd = open("/dev/console", O_CREAT | O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0 && errno != EISDIR)
			fail("create /dev/console: open /dev/console: %s", errstr(errno));
		if (fd >= 0)
			close(fd);
		if (mount(path, "/dev/console", NULL, MS_BIND, NULL) < 0)
			fail("bind /dev/console: %s", errstr(errno));
	}
	memset(cbuf, 0, sizeof(cbuf));
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &master, sizeof(int));
	if (sendmsg(report_fd, &mh, 0) < 0)
		fail("send pty: %s", errstr(errno));
	close(master);
	if (setsid() < 0)
		fail("setsid: %s", errstr(errno));
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		fail("set controlling terminal: %s", errstr(errno));
	for (int fd = 0; fd <= 2; fd++)
		if (dup2(slave, fd) < 0)
			fail("dup2 pty to %d: %s", fd, errstr(errno));
	if (slave > 2)
		close(slave);
}

/* own_stdio is ownStdio: the user gets its standard streams (a terminal's
 * slave must be the user's, or the program cannot open its own tty by
 * name); the group stays. What is already the user's, /dev/null, and what
 * cannot be changed are left alone. */
static void own_stdio(uint32_t uid)
{
	for (int fd = 0; fd <= 2; fd++) {
		struct stat st;

		if (fstat(fd, &st) < 0) {
			if (errno == EBADF)
				continue;
			fail("fstat stdio %d: %s", fd, errstr(errno));
		}
		if (st.st_uid == uid || (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3)))
			continue;
		if (fchown(fd, uid, st.st_gid) < 0 && errno != EINVAL && errno != EPERM && errno != EROFS)
			fail("chown stdio %d: %s", fd, errstr(errno));
	}
}

/* cloexec_from marks every descriptor from min up close-on-exec
 * (closeExtraFDs), the sync socket included. */
static void cloexec_from(unsigned int min)
{
	DIR *d;
	struct dirent *e;

	if (syscall(SYS_close_range, min, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	d = opendir("/proc/self/fd");
	if (!d)
		fail("list fds: %s", errstr(errno));
	while ((e = readdir(d)) != NULL) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		if (*end || e->d_name[0] == '\0' || fd < (long)min || fd == dirfd(d))
			continue;
		fcntl((int)fd, F_SETFD, FD_CLOEXEC);
	}
	closedir(d);
}

void berth_run_process(struct plan *pl, const char *path)
{
	char *home;

	if (pl->has_personality && syscall(SYS_personality, (unsigned long)pl->personality) < 0)
		fail("personality %s: %s", pl->personality_name, errstr(errno));
	/* A session keyring of its own (a container's first process only),
	 * so that the container cannot use the keys of the host session it
	 * was started from. */
	if (pl->keyring && syscall(SYS_keyctl, BERTH_KEYCTL_JOIN_SESSION_KEYRING, pl->keyring) < 0 && errno != ENOSYS)
		fail("join session keyring: %s", errstr(errno));
	if (pl->has_umask)
		umask(pl->umask);
	if (!getenv_of(pl->env, pl->nenv, "HOME")) {
		home = home_dir(pl->uid);
		if (asprintf(&pl->env[pl->nenv], "HOME=%s", home) < 0)
			fail("exec: out of memory");
		pl->nenv++;
	}
	pl->env[pl->nenv] = NULL;
	pl->args[pl->nargs] = NULL;
	if (pl->nul_in_cwd || chdir(pl->cwd) < 0)
		fail("chdir to cwd (\"%s\") set in config.json: %s", pl->cwd, errstr(pl->nul_in_cwd ? EINVAL : errno));
	{
		/* As execProcess (and runc): a working directory getcwd(2)
		 * cannot name from the root lies outside the container. */
		char cwd[4096];
		long r = syscall(SYS_getcwd, cwd, sizeof(cwd));
		if ((r < 0 && errno == ENOENT) || (r > 0 && cwd[0] != '/'))
			fail("current working directory is outside of container mount namespace root -- possible container breakout detected");
		if (r < 0)
			fail("failed to verify if current working directory is safe: %s", errstr(errno));
	}
	if (!path)
		path = look_path(pl->args[0], pl->env, pl->nenv);
	/* while still root, and before a seccomp profile could refuse it */
	own_stdio(pl->has_user ? pl->uid : 0);
	if (pl->has_caps)
		drop_bounding(pl);
	if (pl->filter && !pl->no_new_privs)
		install_seccomp(pl);
	if (pl->has_user)
		set_identity(pl);
	if (pl->has_caps)
		apply_caps(pl);
	if (pl->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fail("set no_new_privs: %s", errstr(errno));
	if (pl->filter && pl->no_new_privs)
		install_seccomp(pl);
	cloexec_from(pl->min_fd);
	if (pl->nul_in_args)
		fail("exec %s: %s", pl->args[0], errstr(EINVAL));
	execve(path, pl->args, pl->env);
	fail("exec %s: %s", pl->args[0], errstr(errno));
}

void berth_exec_stage(int syncfd)
{
	static struct plan pl;
	const char *exefd;
	unsigned char *buf;
	ssize_t n;

	report_fd = syncfd;
	fcntl(syncfd, F_SETFD, FD_CLOEXEC);
	exefd = getenv("_BERTH_EXEFD"); /* the sealed binary this process runs */
	if (exefd && *exefd)
		close(atoi(exefd));
	buf = berth_recv_plan(&n);
	berth_parse_plan(buf, n, &pl, 0);
	free(buf);

	if (pl.terminal)
		berth_setup_terminal(&pl, 0);
	else if (setsid() < 0) /* a session of its own, as setupTerminal says */
		fail("setsid: %s", errstr(errno));
	set_rlimits(&pl);
	berth_run_process(&pl, NULL);
}
