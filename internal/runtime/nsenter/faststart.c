/*
 * fast_start does `berth-runc start <id>` without starting the Go runtime.
 *
 * Starting a created container is one connection: init waits on
 * <root>/<id>/start.sock, and executing the user's program closes the
 * connection (it is close-on-exec); anything init writes first is an
 * error. The Go runtime costs a process about two milliseconds here, far
 * more than that connection, and `start` runs once per container, so the
 * constructor does it itself, for the plain forms of the command only:
 *
 *   [--root R] [--log L] [--log-format F] [--systemd-cgroup] start <id>
 *
 * Anything else, including --debug, an invalid id, a state.json that
 * mentions poststart hooks, or a start socket nobody accepts on (no such
 * container, or not "created"), goes to the Go runtime unchanged, which
 * does the same and reports errors in runc's ways. When init reports an
 * error, the message is handed to the Go runtime in _BERTH_START_FAILED
 * (hex) so that it is reported the same way as well.
 *
 * argv[first..argc) are the runtime's arguments. fast_start returns 0
 * when it did nothing; otherwise it does not return.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* valid_id is runtime.ValidateID. */
static int valid_id(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > 1024 || !strcmp(id, ".") || !strcmp(id, ".."))
		return 0;
	for (const char *c = id; *c; c++) {
		if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		    *c == '_' || *c == '+' || *c == '-' || *c == '.')
			continue;
		return 0;
	}
	return 1;
}

/* flag_value matches "--name value" and "--name=value" at args[*i]. */
static int flag_value(char **args, int n, int *i, const char *name, const char **value)
{
	size_t len = strlen(name);

	if (strncmp(args[*i], name, len))
		return 0;
	if (args[*i][len] == '=') {
		*value = args[*i] + len + 1;
		return 1;
	}
	if (args[*i][len] == '\0' && *i + 1 < n) {
		*value = args[++*i];
		return 1;
	}
	return 0;
}

/* has_poststart reports whether the state file mentions poststart hooks
 * (or cannot be read: the Go runtime then says why). */
static int has_poststart(const char *path)
{
	char buf[65536];
	ssize_t n, len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 1;
	while (len < (ssize_t)sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += n;
	close(fd);
	if (len <= 0 || len >= (ssize_t)sizeof(buf) - 1)
		return 1;
	buf[len] = '\0';
	return strstr(buf, "\"poststart\"") != NULL;
}

int fast_start(int argc, char **argv, int first, const char *runtime)
{
	const char *root = "/run/berth/runtime", *value, *id = NULL, *log = NULL;
	char dir[4096], path[4200], msg[4096], *hex;
	struct sockaddr_un addr;
	int i, fd, cmd = -1;
	ssize_t n, len = 0;

	for (i = first; i < argc; i++) {
		if (cmd < 0 && !strcmp(argv[i], "start")) {
			cmd = i;
		} else if (cmd < 0 && flag_value(argv, argc, &i, "--root", &value)) {
			root = value;
		} else if (cmd < 0 && flag_value(argv, argc, &i, "--log", &value)) {
			log = value;
		} else if (cmd < 0 && flag_value(argv, argc, &i, "--log-format", &value)) {
			/* only errors are logged: the Go runtime does that */
		} else if (cmd < 0 && (!strcmp(argv[i], "--systemd-cgroup") ||
				       !strcmp(argv[i], "--systemd-cgroup=true") ||
				       !strcmp(argv[i], "--systemd-cgroup=false"))) {
		} else if (cmd >= 0 && !id && argv[i][0] != '-') {
			id = argv[i];
		} else {
			return 0;
		}
	}
	if (cmd < 0 || !id || !valid_id(id))
		return 0;
	if (snprintf(dir, sizeof(dir), "%s/%s", root, id) >= (int)sizeof(dir))
		return 0;
	if (snprintf(path, sizeof(path), "%s/state.json", dir) >= (int)sizeof(path) || has_poststart(path))
		return 0;
	if (snprintf(path, sizeof(path), "%s/start.sock", dir) >= (int)sizeof(path) ||
	    strlen(path) >= sizeof(addr.sun_path))
		return 0;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	strcpy(addr.sun_path, path);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		close(fd);
		return 0;
	}
	/* From here on the container is being started: no way back. */
	unlink(path);
	while (len < (ssize_t)sizeof(msg) && (n = read(fd, msg + len, sizeof(msg) - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		len += n;
	}
	close(fd);
	if (len == 0) {
		/* The Go runtime creates the log file whatever happens. */
		if (log && (fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) >= 0)
			close(fd);
		_exit(0);
	}
	hex = malloc(2 * len + sizeof("_BERTH_START_FAILED="));
	if (!hex)
		_exit(1);
	strcpy(hex, "_BERTH_START_FAILED=");
	for (i = 0; i < len; i++)
		sprintf(hex + strlen("_BERTH_START_FAILED=") + 2 * i, "%02x", (unsigned char)msg[i]);
	putenv(hex);
	execv(runtime, argv);
	_exit(1);
}
