# SPDX-License-Identifier: Apache-2.0
# Copyright The berth authors
#
# checks.sh: the checks that docker.sh runs against a private dockerd,
# sourced by it (it defines check, expect, d, drun, status and $image).
# Each check_* function prints what went wrong and returns non-zero on
# failure.

check_exit_code() {
	local rc=0
	drun --rm "$image" sh -c 'exit 3' || rc=$?
	expect 3 "$rc"
}

check_stdio() {
	expect hi "$(echo hi | drun --rm -i "$image" cat)"
}

# -it needs a terminal on our side: script(1) gives the docker CLI one.
check_tty() {
	local out rc=0
	out=$(timeout 60 script -qec \
		"$DOCKER run --rm -it --runtime $RUNTIME $image sh -c 'tty; exit 4'" /dev/null </dev/null) || rc=$?
	expect 4 "$rc" || return 1
	# script echoes the end of its input as ^@ or ^D before the output.
	grep -q '/dev/pts/0$' <<<"$(tr -d '\r' <<<"$out")" || { echo "no tty in: $out"; return 1; }
}

# A long-running container for exec, top, stats and pause.
start_sleeper() {
	drun -d --name sleeper "$image" sleep 1000 >/dev/null
}

check_exec() {
	local rc=0
	expect exec-ok "$(d exec sleeper echo exec-ok)" || return 1
	expect hi "$(echo hi | d exec -i sleeper cat)" || return 1
	d exec sleeper sh -c 'exit 5' || rc=$?
	expect 5 "$rc"
}

check_exec_tty() {
	local out
	out=$(timeout 60 script -qec "$DOCKER exec -it sleeper tty" /dev/null </dev/null)
	out=$(tr -d '\r' <<<"$out")
	grep -q '/dev/pts/[0-9]*$' <<<"$out" || { echo "no tty in: $out"; return 1; }
}

check_top() {
	local out
	out=$(d top sleeper)
	grep -q 'sleep 1000' <<<"$out" || { echo "$out"; return 1; }
}

check_stats() {
	local out
	out=$(d stats --no-stream --format '{{.Name}} {{.MemUsage}} {{.PIDs}}' sleeper)
	# A name, a memory figure that is not zero, and one process.
	grep -Eq '^sleeper [0-9.]+[KMG]i?B / .* 1$' <<<"$out" || { echo "$out"; return 1; }
}

check_pause() {
	d pause sleeper >/dev/null || return 1
	expect paused "$(status sleeper '{{.State.Status}}')" || return 1
	d unpause sleeper >/dev/null || return 1
	expect running "$(status sleeper '{{.State.Status}}')" || return 1
	expect ok "$(d exec sleeper echo ok)"
}

# The container exits 0 on TERM, so an exit code of 0 shows that stop
# delivered TERM and did not have to kill.
check_stop() {
	drun -d --name stoppable "$image" sh -c 'trap "exit 0" TERM; while :; do sleep 0.1; done' >/dev/null || return 1
	d stop -t 10 stoppable >/dev/null || return 1
	expect "exited 0" "$(status stoppable '{{.State.Status}} {{.State.ExitCode}}')"
}

check_kill() {
	drun -d --name killable "$image" sleep 1000 >/dev/null || return 1
	d kill killable >/dev/null || return 1
	d wait killable >/dev/null || return 1
	expect "exited 137" "$(status killable '{{.State.Status}} {{.State.ExitCode}}')"
}

check_oom() {
	local rc=0
	# tail keeps all of a file without newlines in memory. The pause lets
	# the shim start watching for OOM events before the kill happens.
	drun --name oom --memory 8m --memory-swap 8m "$image" sh -c 'sleep 1; exec tail /dev/zero' || rc=$?
	expect 137 "$rc" || return 1
	expect true "$(status oom '{{.State.OOMKilled}}')"
}

check_pids_limit() {
	local out
	# The limit counts every process in the container: sh, 20 sleeps, ps.
	out=$(drun --rm --pids-limit 10 "$image" sh -c \
		'cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max; for i in $(seq 20); do sleep 5 & done 2>&1; wait' 2>&1)
	expect 10 "$(head -1 <<<"$out")" || return 1
	grep -q "can't fork" <<<"$out" || { echo "20 processes started under --pids-limit 10: $out"; return 1; }
}

check_cap_drop() {
	expect "CapEff:	0000000000000000" "$(drun --rm --cap-drop ALL "$image" grep CapEff /proc/self/status)"
}

check_read_only() {
	local out
	out=$(drun --rm --read-only "$image" touch /probe 2>&1) && { echo "touch / succeeded"; return 1; }
	grep -q 'Read-only file system' <<<"$out" || { echo "$out"; return 1; }
}

check_user() {
	expect "uid=1000(user) gid=1000(user) groups=1000(user)" "$(drun --rm --user 1000 "$image" id)"
}

check "exit code" check_exit_code
check "stdin and stdout (-i)" check_stdio
check "terminal and exit code (-it)" check_tty
check "detached container (-d)" start_sleeper
check "exec" check_exec
check "exec -it" check_exec_tty
check "top" check_top
check "stats --no-stream" check_stats
check "pause and unpause" check_pause
check "stop" check_stop
check "kill" check_kill
check "--memory 8m: OOMKilled" check_oom
check "--pids-limit" check_pids_limit
check "--cap-drop ALL" check_cap_drop
check "--read-only" check_read_only
check "--user 1000" check_user
