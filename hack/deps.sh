#!/usr/bin/env bash
# hack/deps.sh: install the Debian packages that berth's build, demo and
# tests need, if any is missing. Idempotent; runs without a terminal.
#
#   busybox-static  test and demo root filesystems
#   runc            the reference runtime of the benchmark and a fixture test
#   iproute2        ip, for namespace and network tests
#   nftables        networking tests
#   procps          ps, for `berth runtime ps`
#   make, gcc       the build (cgo compiles the nsenter constructor)
#   libc6-dev       glibc's static libraries: berth is linked statically
#   musl-tools      musl-gcc: berth is linked with musl when it is there (it
#                   starts faster than with glibc; see the Makefile)
set -euo pipefail
packages=(busybox-static runc iproute2 nftables procps make gcc libc6-dev musl-tools)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "hack/deps.sh: missing ${missing[*]}; run as root to install them" >&2
		exit 1
	fi
	echo "hack/deps.sh: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q </dev/null
	apt-get install -y -q "${missing[@]}" </dev/null
fi

# The CNCF distribution registry that the tests push to and pull from
# (internal/testutil.StartRegistry), built with the Go toolchain.
registry_version=v3.1.2
gobin=$(go env GOPATH | cut -d: -f1)/bin
if ! "$gobin/registry" --version 2>/dev/null | grep -q " $registry_version"; then
	echo "hack/deps.sh: installing registry $registry_version into $gobin"
	GOBIN=$gobin go install "github.com/distribution/distribution/v3/cmd/registry@$registry_version"
fi
