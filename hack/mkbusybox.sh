#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copyright The berth authors
#
# mkbusybox.sh DIR: make (or refresh) a busybox root filesystem in DIR from
# Debian's busybox-static. Safe to run again on the same DIR. Installs
# busybox-static when it is missing and we are root.
#
# The layout matches internal/testutil.BusyboxRootfs: bin/busybox with a
# symlink per applet, sbin, usr/bin and usr/sbin pointing at bin, and
# /etc/passwd and /etc/group with root, a user 1000 and nobody (65534).
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 DIR" >&2
	exit 2
fi
dir=$1
busybox=${BUSYBOX:-/bin/busybox}

if [ ! -x "$busybox" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "$0: $busybox is missing: install busybox-static" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q busybox-static </dev/null >/dev/null 2>&1 ||
		{ apt-get update -q </dev/null >/dev/null && apt-get install -y -q busybox-static </dev/null >/dev/null; }
fi

mkdir -p "$dir"/{bin,dev,proc,sys,etc,home/user,usr}
install -d -m 1777 "$dir/tmp"
install -d -m 0700 "$dir/root"

# Copy, never link: containers may write to their root filesystem.
if ! cmp -s "$busybox" "$dir/bin/busybox"; then
	install -m 0755 "$busybox" "$dir/bin/busybox"
fi
for applet in $("$busybox" --list); do
	[ "$applet" = busybox ] && continue
	ln -sfn busybox "$dir/bin/$applet"
done
# One directory for every command, as on a merged-/usr system.
for link in sbin:bin usr/bin:../bin usr/sbin:../bin; do
	path=$dir/${link%%:*}
	[ -e "$path" ] && [ ! -L "$path" ] && continue
	ln -sfn "${link#*:}" "$path"
done

cat >"$dir/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >"$dir/etc/group" <<'GROUP'
root:x:0:
tty:x:5:
user:x:1000:
nogroup:x:65534:
GROUP
chown 1000:1000 "$dir/home/user" 2>/dev/null || true
