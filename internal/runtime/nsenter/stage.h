/*
 * stage.h: what the two C stages share. execstage.c runs a process from a
 * plan (an exec in a running container); initstage.c first builds the
 * container from the same kind of plan and then runs its first process
 * with execstage.c's code. The plan's format is described in execstage.c
 * (the process) and initstage.c (the container).
 */
#ifndef BERTH_STAGE_H
#define BERTH_STAGE_H

#include <stdint.h>
#include <sys/types.h>

/* The shared functions get a prefix: berth is one static binary. */
#define report_fd berth_stage_report_fd
#define errstr berth_stage_errstr
#define fail berth_stage_fail
#define u32 berth_stage_u32
#define u64 berth_stage_u64
#define string berth_stage_string
#define look_path berth_stage_look_path

/*
 * The kernel's definitions, spelled out: musl-gcc (which berth is built
 * with where it is installed) comes without the kernel's headers. See
 * capget(2), seccomp(2) and include/uapi/linux/filter.h.
 */
#define BERTH_CAP_VERSION_3 0x20080522
#define BERTH_CAP_SETPCAP 8
#define BERTH_SECCOMP_SET_MODE_FILTER 1
#define BERTH_KEYCTL_JOIN_SESSION_KEYRING 1

struct cap_header {
	uint32_t version;
	int pid;
};

struct cap_data {
	uint32_t effective, permitted, inheritable;
};

struct bpf_insn {
	uint16_t code;
	uint8_t jt, jf;
	uint32_t k;
};

struct bpf_prog {
	unsigned short len;
	struct bpf_insn *filter;
};

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

struct plan {
	char **args, **env; /* NULL-terminated, env with room for HOME */
	int nargs, nenv;
	const char *cwd;
	uint32_t uid, gid, *groups;
	int ngroups, has_user;
	int has_umask;
	uint32_t umask;
	int has_caps;
	uint32_t last_cap;
	uint64_t bounding, effective, permitted, inheritable, ambient;
	int no_new_privs;
	int has_personality;
	uint32_t personality;
	char personality_name[64];
	struct rlimit_entry {
		uint32_t resource;
		uint64_t soft, hard;
		char name[32];
	} *rlimits;
	int nrlimits;
	int nul_in_args, nul_in_cwd; /* as Go, which fails at chdir and execve */
	uint32_t min_fd;
	uint64_t seccomp_flags;
	struct bpf_insn *filter;
	unsigned short filter_len;
	int terminal;
	uint32_t rows, cols;
	/* init only (initstage.c): the session keyring to join, if any */
	const char *keyring;
};

/* report_fd is where errors go as "E<message>": the sync socket, or for
 * init after `start` connected, the start connection. */
extern int report_fd;

const char *errstr(int err);
void fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
uint32_t u32(const unsigned char *p);
uint64_t u64(const unsigned char *p);
char *string(const unsigned char *p, uint32_t n);
char *look_path(const char *name, char **env, int nenv);

/* recv_plan reads one message (the plan) from report_fd; exits when the
 * runtime is gone. */
unsigned char *berth_recv_plan(ssize_t *len);
/* parse_plan reads the process's records; with init set it skips the
 * records initstage.c reads (is_init_record). */
void berth_parse_plan(const unsigned char *buf, ssize_t n, struct plan *pl, int init);
int berth_is_init_record(unsigned char tag);
/* setup_terminal makes the pty (see execstage.c); with dev_console the
 * slave is also bound onto /dev/console, as for a container's first
 * process. */
void berth_setup_terminal(const struct plan *pl, int dev_console);
/* run_process is the rest of execProcess after the limits: it executes
 * the program (path when init already found it) and does not return. */
void berth_run_process(struct plan *pl, const char *path) __attribute__((noreturn));

#endif
