/*
 * nsenter runs before the Go runtime starts in `berth init`.
 *
 * Joining a user namespace (setns(2) with CLONE_NEWUSER) is refused to a
 * multi-threaded process, and the Go runtime starts threads before main. So
 * every namespace change that berth's init needs is done here, in a C
 * constructor, while the process is still single-threaded:
 *
 *   1. read what to do from the parent: "N<clone flags>\n<namespaces to
 *      join>\n<time namespace offsets>". The runtime starts this process
 *      before it has decoded the container's configuration and sends this
 *      once it has;
 *   2. with nothing to join and no user namespace, unshare(2) the new
 *      namespaces now (except the cgroup one, see 6), while the parent is
 *      still making the cgroup: the new mount namespace is a copy and still
 *      shows the host's cgroup filesystem;
 *   3. join the container's cgroup: say "C" and read "G" followed by lines
 *      "t:<v1 tasks file>" and "u:<v2 cgroup directory>". Writing "0" to a v1
 *      tasks file moves the calling thread, which is the whole process while
 *      it has one thread, and unlike writing a PID to cgroup.procs it does not
 *      take the kernel's global threadgroup lock, whose first write after a
 *      quiet spell waits for an RCU grace period (milliseconds). The v2
 *      directory is opened here and used by clone3(CLONE_INTO_CGROUP) below,
 *      which is cheap for the same reason (with a new user namespace the
 *      process joins it through cgroup.procs instead: after step 5 it lacks
 *      the privilege clone3 needs). This comes before joining namespaces
 *      because joining a mount namespace hides the host's cgroup filesystem;
 *   4. join the namespaces by path ("user=/proc/1/ns/user;net=...") or by a
 *      descriptor the runtime passed ("net=fd:7", for exec), the user
 *      namespace first, so that the others are joined with the capabilities
 *      it grants (see setns(2));
 *   5. unshare(CLONE_NEWUSER) if asked, then tell the parent "R" and wait for
 *      "G": meanwhile the parent writes our uid/gid maps, so that we can
 *      become the namespace's root and the namespaces made next belong to it;
 *   6. unshare(2) the remaining new namespaces (if not done in step 2),
 *      except the cgroup namespace, which init makes itself on the thread
 *      that will exec the program; write the time namespace's offsets;
 *   7. fork (clone3, into the v2 cgroup if there is one): a new or joined PID
 *      namespace only applies to children, so the child is the process that
 *      becomes the container (PID 1 in a new PID namespace). The child returns
 *      into the Go runtime (init), or, for an exec that the runtime planned
 *      (_BERTH_EXEC=plan), runs the process itself (execstage.c), and for a
 *      container's init (_BERTH_INIT=stage) builds the container itself
 *      when the runtime sends a plan (initstage.c); this
 *      process brings loopback up in a new network namespace (as runc does;
 *      meanwhile the child starts), reports the child's PID to the parent
 *      ("P<pid>") and exits.
 *
 * Errors are reported as "E<message>" on the sync socket. Without
 * _BERTH_SYNCFD in the environment the constructor does not do any of
 * this; see reexec for what it may do instead.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#if __has_include(<linux/sched.h>)
#include <linux/sched.h>
#else
/*
 * musl's headers leave out the kernel's: clone3's argument as the kernel
 * defines it (include/uapi/linux/sched.h, CLONE_ARGS_SIZE_VER2).
 */
struct clone_args {
	unsigned long long flags, pidfd, child_tid, parent_tid, exit_signal;
	unsigned long long stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};
#endif
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static int syncfd = -1;

static void bail(const char *fmt, ...)
{
	char msg[1024];
	int n;
	va_list ap;

	msg[0] = 'E';
	va_start(ap, fmt);
	n = vsnprintf(msg + 1, sizeof(msg) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if (n > (int)sizeof(msg) - 2)
		n = sizeof(msg) - 2;
	snprintf(msg + 1 + n, sizeof(msg) - 1 - n, ": %s", strerror(errno));
	if (write(syncfd, msg, strlen(msg)) < 0) {
		/* nothing more can be said */
	}
	_exit(1);
}

static int nstype(const char *name)
{
	if (!strcmp(name, "user"))
		return CLONE_NEWUSER;
	if (!strcmp(name, "mnt"))
		return CLONE_NEWNS;
	if (!strcmp(name, "pid"))
		return CLONE_NEWPID;
	if (!strcmp(name, "net"))
		return CLONE_NEWNET;
	if (!strcmp(name, "ipc"))
		return CLONE_NEWIPC;
	if (!strcmp(name, "uts"))
		return CLONE_NEWUTS;
	if (!strcmp(name, "cgroup"))
		return CLONE_NEWCGROUP;
	if (!strcmp(name, "time"))
		return CLONE_NEWTIME;
	return -1;
}

#define MAXNS 16

static void join_namespaces(const char *spec)
{
	char *buf, *entry, *save = NULL;
	int fds[MAXNS], types[MAXNS], n = 0, i, pass;

	buf = strdup(spec);
	if (!buf)
		bail("nsenter: out of memory");
	/* Open every path before joining anything: after joining the mount
	 * namespace the host's paths are gone. */
	for (entry = strtok_r(buf, ";", &save); entry; entry = strtok_r(NULL, ";", &save)) {
		char *eq = strchr(entry, '=');
		if (!eq || n == MAXNS) {
			errno = EINVAL;
			bail("nsenter: bad namespace entry %s", entry);
		}
		*eq = '\0';
		types[n] = nstype(entry);
		if (types[n] < 0) {
			errno = EINVAL;
			bail("nsenter: unknown namespace type %s", entry);
		}
		if (!strncmp(eq + 1, "fd:", 3)) {
			/* a descriptor the runtime opened and passed (exec) */
			char *end;
			long fd = strtol(eq + 4, &end, 10);
			if (*end || fd < 3) {
				errno = EINVAL;
				bail("nsenter: bad namespace descriptor %s", eq + 1);
			}
			fds[n] = (int)fd;
		} else {
			fds[n] = open(eq + 1, O_RDONLY | O_CLOEXEC);
			if (fds[n] < 0)
				bail("open %s namespace %s", entry, eq + 1);
		}
		n++;
	}
	/* The user namespace first, then the rest. */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < n; i++) {
			int isuser = types[i] == CLONE_NEWUSER;
			if ((pass == 0) != isuser)
				continue;
			if (setns(fds[i], types[i]) < 0)
				bail("setns into namespace type %#x", types[i]);
			close(fds[i]);
		}
	}
	free(buf);
}

static void sync_wait(char want)
{
	char c;
	ssize_t n;

	do {
		n = read(syncfd, &c, 1);
	} while (n < 0 && errno == EINTR);
	if (n != 1 || c != want) {
		errno = EPROTO;
		bail("nsenter: sync with parent failed");
	}
}

/* set_time_offsets writes the offsets ("monotonic 10 0\nboottime 5 0")
 * to /proc/self/timens_offsets. The kernel accepts them only after
 * unshare(CLONE_NEWTIME) and before any process enters the new time
 * namespace, which happens at the fork below; see time_namespaces(7). */
static void set_time_offsets(const char *offsets)
{
	int fd;

	if (!offsets || !*offsets)
		return;
	fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		bail("open /proc/self/timens_offsets");
	if (write(fd, offsets, strlen(offsets)) < 0)
		bail("write time namespace offsets");
	close(fd);
}

/* loopback_up brings up "lo" in the network namespace just made, as runc
 * does: a new namespace's loopback starts down, and programs expect
 * 127.0.0.1 to answer. It runs after the fork; on failure it kills the
 * child, which the runtime does not know yet, before reporting. */
static void loopback_up(pid_t child)
{
	struct ifreq ifr;
	const char *what = "socket";
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err;

	if (s >= 0) {
		memset(&ifr, 0, sizeof(ifr));
		strcpy(ifr.ifr_name, "lo");
		what = "get flags";
		if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
			ifr.ifr_flags |= IFF_UP;
			what = "set flags";
			if (ioctl(s, SIOCSIFFLAGS, &ifr) == 0) {
				close(s);
				return;
			}
		}
	}
	err = errno;
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	errno = err;
	bail("loopback: %s", what);
}

/* read_namespaces reads "N<clone flags>\n<join>\n<time offsets>", the
 * namespaces to create and to join, sent by the parent once it has read
 * the container's configuration. */
static void read_namespaces(unsigned long *flags, char **join, char **offsets)
{
	static char buf[16384];
	char *nl;
	ssize_t n;

	do {
		n = read(syncfd, buf, sizeof(buf) - 1);
	} while (n < 0 && errno == EINTR);
	if (n < 1 || buf[0] != 'N') {
		errno = EPROTO;
		bail("nsenter: no namespaces from parent");
	}
	buf[n] = '\0';
	nl = strchr(buf, '\n');
	if (!nl) {
		errno = EPROTO;
		bail("nsenter: bad namespaces message");
	}
	*nl = '\0';
	*flags = strtoul(buf + 1, NULL, 10);
	*join = nl + 1;
	nl = strchr(*join, '\n');
	if (!nl) {
		errno = EPROTO;
		bail("nsenter: bad namespaces message");
	}
	*nl = '\0';
	*offsets = nl + 1;
}

/* join_cgroup does step 3 and returns the v2 cgroup directory fd, or -1.
 * With a new user namespace (userns set) the fork happens without the
 * privileges needed to write the v2 cgroup, so this process joins it
 * through cgroup.procs now, paying for the kernel's lock. */
static int join_cgroup(int userns)
{
	static char buf[65536];
	char *line, *save = NULL;
	ssize_t n;
	int v2 = -1;

	if (write(syncfd, "C", 1) != 1)
		bail("nsenter: write to parent");
	do {
		n = read(syncfd, buf, sizeof(buf) - 1);
	} while (n < 0 && errno == EINTR);
	if (n < 1 || buf[0] != 'G') {
		errno = EPROTO;
		bail("nsenter: no cgroup from parent");
	}
	buf[n] = '\0';
	for (line = strtok_r(buf + 1, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "t:", 2)) {
			int fd = open(line + 2, O_WRONLY | O_CLOEXEC);
			if (fd < 0)
				bail("open %s", line + 2);
			if (write(fd, "0", 1) != 1)
				bail("join cgroup through %s", line + 2);
			close(fd);
		} else if (!strncmp(line, "u:", 2) && userns) {
			char procs[4200];
			int fd;
			snprintf(procs, sizeof(procs), "%s/cgroup.procs", line + 2);
			fd = open(procs, O_WRONLY | O_CLOEXEC);
			if (fd < 0)
				bail("open %s", procs);
			if (write(fd, "0", 1) != 1)
				bail("join cgroup through %s", procs);
			close(fd);
		} else if (!strncmp(line, "u:", 2)) {
			v2 = open(line + 2, O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (v2 < 0)
				bail("open cgroup %s", line + 2);
		}
	}
	return v2;
}

/* spawn forks, into the v2 cgroup behind cgfd when there is one. */
static pid_t spawn(int cgfd)
{
	struct clone_args args;

	if (cgfd < 0)
		return fork();
	memset(&args, 0, sizeof(args));
	args.flags = CLONE_INTO_CGROUP;
	args.exit_signal = SIGCHLD;
	args.cgroup = (unsigned long long)cgfd;
	return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

/*
 * berth_runtime_sum and berth_runtime_size describe the small runtime
 * binary (internal/runtime/initexe: the runtime's command line and init),
 * which the runtime writes to /run/berth/init/<sum>/berth-init. They are
 * defined in the engine's binary built with the berth_initbin tag
 * (internal/engineexe/initbin.go), which embeds it, and in the berth that
 * embeds the engine (cmd/berth/engine_exec.go); not in the small binary
 * itself, so it never executes itself again.
 */
extern const char berth_runtime_sum[] __attribute__((weak));
int fast_start(int argc, char **argv, int first, const char *runtime); /* faststart.c */
void berth_exec_stage(int syncfd);                                     /* execstage.c */
void berth_init_stage(int syncfd, const unsigned char *plan, ssize_t n); /* initstage.c */
unsigned char *berth_recv_plan(ssize_t *len);                           /* execstage.c */
extern int berth_stage_report_fd;

/*
 * init_stage_or_go reads the runtime's first message to a container's
 * init (_BERTH_INIT=stage): a plan, which initstage.c carries out without
 * the Go runtime, or "g", after which the Go runtime starts and reads its
 * configuration.
 */
static void init_stage_or_go(void)
{
	unsigned char *plan;
	ssize_t n;

	berth_stage_report_fd = syncfd;
	plan = berth_recv_plan(&n);
	if (n == 1 && plan[0] == 'g') {
		free(plan);
		return;
	}
	berth_init_stage(syncfd, plan, n); /* does not return */
}
extern const long berth_runtime_size __attribute__((weak));

/*
 * berth_engine_sum and berth_engine_size describe the engine's binary
 * (internal/engineexe: the daemon, its monitor, docker-init and the
 * runtime) embedded in the berth that `make build` makes, whose Go code is
 * only the CLI (cmd/berth/engine_exec.go); it writes the binary to
 * /run/berth/engine/<sum>/berth, or under /var/lib/berth/engine when /run
 * is mounted noexec. The engine's binary itself does not
 * define them.
 */
extern const char berth_engine_sum[] __attribute__((weak));
extern const long berth_engine_size __attribute__((weak));

/*
 * runnable says whether path is what this berth wrote there: a regular
 * file of the expected size, owned by root and writable by nobody else.
 */
static int runnable(const char *path, long size)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == 0 &&
	       !(st.st_mode & 022) && st.st_size == size;
}

/*
 * reexec picks the binary for berth's mode before the Go runtime of the
 * binary starts (internal/engine/mode asks the same questions in Go):
 *
 *   - runtime commands ("berth runtime ..." or berth invoked as "...runc")
 *     execute the small runtime binary: it starts in about half the time;
 *   - in the berth whose Go code is the CLI alone, the engine's modes
 *     ("berth daemon", "berth monitor", "berth init", docker-init, and
 *     runtime commands when the runtime binary is not there yet) execute
 *     the engine's binary.
 *
 * Nothing changes when a file is not there yet, or is not exactly what
 * this berth wrote (see runnable), or, for the runtime binary, with
 * BERTH_INIT=self (the runtime is then to use berth itself): the Go side
 * then writes the file for the next time and does the work (the CLI's
 * berth by executing the engine it wrote).
 */
static void reexec(int argc, char **argv, char **envp)
{
	char path[256];
	const char *base, *init;
	size_t n;
	int runc, other;

	if (argc < 1 || !argv || !envp)
		return;
	base = strrchr(argv[0], '/');
	base = base ? base + 1 : argv[0];
	n = strlen(base);
	runc = (n >= 5 && !strcmp(base + n - 5, "-runc")) || !strcmp(base, "runc");
	other = !strcmp(base, "docker-init") ||
		(argc > 1 && (!strcmp(argv[1], "daemon") || !strcmp(argv[1], "monitor") || !strcmp(argv[1], "init")));
	if (runc || (argc > 1 && !strcmp(argv[1], "runtime"))) {
		init = getenv("BERTH_INIT");
		if (&berth_runtime_size && &berth_runtime_sum && !(init && !strcmp(init, "self")) &&
		    snprintf(path, sizeof(path), "/run/berth/init/%s/berth-init", berth_runtime_sum) < (int)sizeof(path) &&
		    runnable(path, berth_runtime_size)) {
			fast_start(argc, argv, runc ? 1 : 2, path);
			execve(path, argv, envp);
		}
		other = 1;
	}
	if (!other || !&berth_engine_size || !&berth_engine_sum)
		return;
	/* /run first; /var/lib where /run is mounted noexec (the Go side
	 * writes the file where it can be executed: engine_exec.go). */
	for (int i = 0; i < 2; i++) {
		const char *dir = i ? "/var/lib/berth/engine" : "/run/berth/engine";
		if (snprintf(path, sizeof(path), "%s/%s/berth", dir, berth_engine_sum) < (int)sizeof(path) &&
		    runnable(path, berth_engine_size))
			execve(path, argv, envp);
	}
	/* Still here: the Go side does the work. */
}

/*
 * reexec_args calls reexec with the process's arguments. glibc
 * passes them to constructors; musl (which berth is linked with where
 * musl-gcc is installed: its start-up costs a fraction of glibc's) passes
 * nothing, so they are read from /proc/self/cmdline.
 */
extern char **environ;

static void reexec_args(int argc, char **argv, char **envp)
{
#ifdef __GLIBC__
	reexec(argc, argv, envp);
#else
	char *buf = NULL, *p, **args;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd, i, count = 0;

	(void)argc;
	(void)argv;
	(void)envp;
	fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	for (;;) {
		if (len == cap) {
			char *b = realloc(buf, cap ? cap * 2 : 4096);
			if (!b)
				goto out;
			buf = b;
			cap = cap ? cap * 2 : 4096;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		len += n;
	}
	for (size_t j = 0; j < len; j++)
		if (buf[j] == '\0')
			count++;
	args = calloc(count + 1, sizeof(char *));
	if (!args)
		goto out;
	for (i = 0, p = buf; i < count; i++) {
		args[i] = p;
		p += strlen(p) + 1;
	}
	reexec(count, args, environ);
	free(args);
out:
	free(buf);
	close(fd);
#endif
}

__attribute__((constructor)) static void berth_nsenter(int argc, char **argv, char **envp)
{
	const char *fdenv;
	char *join, *offsets;
	unsigned long newflags = 0;
	char msg[32];
	pid_t child;
	int cgfd, early;
	unsigned long rest;

	fdenv = getenv("_BERTH_SYNCFD");
	if (!fdenv || !*fdenv) {
		reexec_args(argc, argv, envp);
		return;
	}
	syncfd = atoi(fdenv);
	/* Not dumpable until the container's program is executed (execve
	 * makes it dumpable again): a process in the container with the same
	 * uid must not ptrace init or an exec, or take its descriptors with
	 * pidfd_getfd, while they still hold the runtime's sockets and have
	 * not installed their seccomp filter (runc does the same). */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		bail("prctl PR_SET_DUMPABLE");
	read_namespaces(&newflags, &join, &offsets);

	/* Step 2, when it is safe (see above). */
	early = !(join && *join) && !(newflags & CLONE_NEWUSER);
	if (early) {
		rest = newflags & ~(unsigned long)CLONE_NEWCGROUP;
		if (rest && unshare((int)rest) < 0)
			bail("unshare namespaces %#lx", rest);
	}
	cgfd = join_cgroup((newflags & CLONE_NEWUSER) != 0);
	if (join && *join)
		join_namespaces(join);

	if (newflags & CLONE_NEWUSER) {
		if (unshare(CLONE_NEWUSER) < 0)
			bail("unshare user namespace");
		/* The parent writes /proc/<pid>/uid_map: writable only while
		 * this process is dumpable. */
		if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
			bail("prctl PR_SET_DUMPABLE");
		if (write(syncfd, "R", 1) != 1)
			bail("nsenter: write to parent");
		sync_wait('G');
		if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
			bail("prctl PR_SET_DUMPABLE");
		/* Become the namespace's root (the parent mapped it) so that the
		 * namespaces made next are fully ours. */
		if (setresgid(0, 0, 0) < 0)
			bail("setresgid to the user namespace's root");
		if (setresuid(0, 0, 0) < 0)
			bail("setresuid to the user namespace's root");
	}
	newflags &= ~(unsigned long)(CLONE_NEWUSER | CLONE_NEWCGROUP);
	if (!early && newflags && unshare((int)newflags) < 0)
		bail("unshare namespaces %#lx", newflags);

	if (newflags & CLONE_NEWTIME)
		set_time_offsets(offsets);
	child = spawn(cgfd);
	if (child < 0)
		bail("fork into the new namespaces");
	if (child == 0) {
		/* The container process: an exec the runtime planned for
		 * execstage.c, or continue into the Go runtime (init). The
		 * cgroup directory is the host's: a descriptor of it left open
		 * would let the process reach the host's file system (through
		 * /proc/self/fd as its working directory, say). */
		const char *stage = getenv("_BERTH_EXEC"), *init = getenv("_BERTH_INIT");
		if (cgfd >= 0)
			close(cgfd);
		if (stage && !strcmp(stage, "plan"))
			berth_exec_stage(syncfd); /* does not return */
		if (init && !strcmp(init, "stage"))
			init_stage_or_go();
		return;
	}
	/* Bring loopback up while the child's runtime starts: the runtime
	 * sends the child its configuration only after "P". */
	if (newflags & CLONE_NEWNET)
		loopback_up(child);
	snprintf(msg, sizeof(msg), "P%d", (int)child);
	if (write(syncfd, msg, strlen(msg)) < 0)
		_exit(1);
	_exit(0);
}
