#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright The berth authors
#
# docker.sh: check that berth's runtime works as a drop-in runc for Docker.
#
# It starts a private Docker 20.10 daemon (Debian's docker.io, installed
# here if missing; berth itself never needs it) with its own data root,
# exec root, socket, containerd, cgroup parent and bridge, registers
# bin/berth-runc as the runtime "berth", imports a busybox image, and
# checks `docker run --runtime $RUNTIME` feature by feature. It prints PASS
# or FAIL per check, then "N passed, N failed", and exits non-zero on any
# failure. A host dockerd, if any, is left alone.
#
# Environment:
#   RUNTIME=berth   runtime under test; RUNTIME=runc checks the script itself
#   DOCKER=docker   docker CLI to use
#   KEEP_TMP=1      keep the temporary directory (daemon logs) afterwards
#
# Run as root from anywhere; it finds the repository from its own path.
# Safety: no traffic leaves loopback or the private bridge (no NAT, no
# forwarding, no iptables rules), and cleanup ends only the processes this
# script started, by PID.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RUNTIME=${RUNTIME:-berth}
DOCKER=${DOCKER:-docker}
image=busybox:berth
bridge=berthdi$$ # at most 15 characters, unique per run
cgroup=berthdi$$ # cgroup parent of every container of this run

if [ "$(id -u)" -ne 0 ]; then
	echo "docker.sh: must run as root" >&2
	exit 1
fi

# apt_install PKG...: install Debian packages that are missing.
apt_install() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "docker.sh: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q </dev/null >/dev/null
	apt-get install -y -q "${missing[@]}" </dev/null >/dev/null
}
apt_install docker.io busybox-static iproute2 bsdutils
command -v "$DOCKER" >/dev/null || DOCKER=/usr/bin/docker

tmp=$(mktemp -d /tmp/berth-dropin.XXXXXX)
export DOCKER_HOST=unix://$tmp/docker.sock DOCKER_CONFIG=$tmp/cli
[ -d /run/containerd ] && had_run_containerd=1 || had_run_containerd=0
# dockerd 20.10 writes its trust key to /etc/docker/key.json whatever its
# other paths are; remove it afterwards unless it was there before.
[ -e /etc/docker/key.json ] && had_key=1 || had_key=0

# kill_pid PIDFILE: stop the process named in PIDFILE, TERM then KILL.
kill_pid() {
	local pid i
	[ -s "$1" ] || return 0
	pid=$(cat "$1")
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.2
	done
	kill -KILL "$pid" 2>/dev/null || true
}

# own_pids: processes started for this run that may outlive dockerd
# (containerd, shims), found by this run's temporary directory in their
# command line.
own_pids() {
	local p cmd
	for p in /proc/[0-9]*; do
		cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
		[[ $cmd == *"$tmp/"* ]] && echo "${p#/proc/}"
	done
}

# veths lists the host's veth links that are attached to no bridge.
veths() {
	ip -o link show type veth 2>/dev/null | awk -F': ' '!/ master / {print $2}' | cut -d@ -f1
}

cleanup() {
	local rc=$? m p
	set +e
	trap - EXIT INT TERM
	if [ -S "$tmp/docker.sock" ]; then
		ids=$(timeout 30 "$DOCKER" ps -aq 2>/dev/null)
		[ -n "$ids" ] && timeout 60 "$DOCKER" rm -f $ids >/dev/null 2>&1
	fi
	kill_pid "$tmp/dockerd.pid"
	# dockerd stops the containerd it started, but not when it was killed,
	# and a shim whose container failed to start may stay behind.
	for p in $(own_pids); do
		echo "$p" >"$tmp/leftover.pid"
		kill_pid "$tmp/leftover.pid"
	done
	# Container processes left behind all sit under our cgroup parent;
	# thaw paused ones so that SIGKILL can take effect.
	for m in $(find /sys/fs/cgroup -maxdepth 2 -type d -name "$cgroup"); do
		find "$m" -name freezer.state -exec sh -c 'echo THAWED >"$1"' _ {} \;
		find "$m" -name cgroup.procs -exec cat {} + | xargs -r kill -KILL 2>/dev/null
	done
	# Mounts under $tmp (overlay, netns, shm), deepest first.
	awk -v t="$tmp" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
		while read -r m; do umount -l "$m"; done
	# Container veths: dockerd deletes them when it stops a container, but
	# not for a container that failed to start or when dockerd was killed.
	# Those still on our bridge, and veths that appeared during this run and
	# are attached to nothing, are ours.
	for m in $(ip -o link show master "$bridge" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
		ip link del "$m" 2>/dev/null
	done
	ip link del "$bridge" 2>/dev/null
	for m in $(veths); do
		grep -qx "$m" "$tmp/veths.before" 2>/dev/null || ip link del "$m" 2>/dev/null
	done
	sleep 0.2 # let killed processes leave their cgroups
	find /sys/fs/cgroup -maxdepth 2 -type d -name "$cgroup" | while read -r m; do
		find "$m" -depth -type d -exec rmdir {} \;
	done
	if [ "${KEEP_TMP:-0}" = 1 ]; then
		echo "docker.sh: kept $tmp"
	else
		rm -rf --one-file-system "$tmp"
	fi
	[ "$had_run_containerd" = 0 ] && find /run/containerd -depth -type d -empty -delete 2>/dev/null
	[ "$had_key" = 0 ] && rm -f /etc/docker/key.json
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A /24 that no route on the host covers or is covered by.
subnet=
for n in $(seq 77 99); do
	cand=10.213.$n.0/24
	if [ -z "$(ip -4 route show match "$cand" | grep -v '^default')" ] &&
		[ -z "$(ip -4 route show root "$cand")" ]; then
		subnet=$cand
		break
	fi
done
[ -n "$subnet" ] || { echo "docker.sh: no free 10.213.x.0/24 subnet" >&2; exit 1; }
veths >"$tmp/veths.before"
ip link add "$bridge" type bridge
ip addr add "${subnet%.0/24}.1/24" dev "$bridge"
ip link set "$bridge" up

mkdir -p "$tmp/cli" "$tmp/rootfs"
echo '{}' >"$tmp/daemon.json" # never read the host's /etc/docker/daemon.json
runtime_flags=()
[ -x "$repo/bin/berth-runc" ] && runtime_flags+=(--add-runtime "berth=$repo/bin/berth-runc")
# Without --containerd, dockerd starts its own containerd under the exec
# root, so this daemon shares nothing with a host dockerd or containerd.
dockerd \
	--config-file "$tmp/daemon.json" \
	--data-root "$tmp/data" \
	--exec-root "$tmp/exec" \
	--pidfile "$tmp/dockerd.pid" \
	-H "unix://$tmp/docker.sock" \
	--containerd-namespace berthdi \
	--containerd-plugins-namespace berthdi-plugins \
	--cgroup-parent "/$cgroup" \
	--bridge "$bridge" \
	--iptables=false --ip6tables=false --ip-masq=false --ip-forward=false \
	--userland-proxy=false \
	"${runtime_flags[@]}" \
	>"$tmp/dockerd.log" 2>&1 </dev/null &

for i in $(seq 300); do
	"$DOCKER" version >/dev/null 2>&1 && break
	if ! kill -0 $! 2>/dev/null || [ "$i" = 300 ]; then
		echo "docker.sh: dockerd did not start:" >&2
		tail -20 "$tmp/dockerd.log" >&2
		exit 1
	fi
	sleep 0.2
done
echo "docker.sh: private dockerd $($DOCKER version -f '{{.Server.Version}}') on $DOCKER_HOST, runtime $RUNTIME, bridge $bridge ($subnet)"

bash "$repo/hack/mkbusybox.sh" "$tmp/rootfs"
tar -C "$tmp/rootfs" -c . | "$DOCKER" import - "$image" >/dev/null

passed=0 failed=0
# check NAME CMD...: run one check; CMD prints why when it fails.
check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		echo "PASS $name"
		passed=$((passed + 1))
	else
		echo "FAIL $name"
		sed 's/^/    /' <<<"$out"
		failed=$((failed + 1))
	fi
}
# expect WANT GOT: fail with both shown unless they are equal.
expect() {
	[ "$1" = "$2" ] && return 0
	printf 'want: %q\ngot:  %q\n' "$1" "$2"
	return 1
}
d() { timeout 60 "$DOCKER" "$@"; }
# drun runs a container, dropping the warning that a bridge network gets
# here because this script leaves the host's IP forwarding off.
drun() { d run --runtime "$RUNTIME" "$@" 2> >(grep -v 'IPv4 forwarding is disabled' >&2); }
status() { d inspect -f "$2" "$1"; }

. "$repo/test/dropin/checks.sh"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
