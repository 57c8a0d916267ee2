# SPDX-License-Identifier: Apache-2.0
# Copyright The berth authors

GO ?= go

.PHONY: deps build test bench demo dropin clean

# berth is one binary; invoked as berth-runc it is a runc drop-in.
# A static binary starts faster (no dynamic loader) and runs anywhere; cgo
# stays on for the nsenter constructor.
BUILDFLAGS = -trimpath -ldflags '-s -w -extldflags -static'
TAGS = netgo,osusergo
# Linked with musl where musl-gcc is installed (hack/deps.sh installs it):
# a static glibc binary spends about 0.5 ms of every start probing the
# CPU's caches with cpuid, which traps to the hypervisor on a virtual
# machine; musl does not. berth starts several processes per container.
CGO_CC := $(or $(shell command -v musl-gcc 2>/dev/null),$(CC))

# Debian packages the build and tests need (installed only when missing).
deps:
	bash hack/deps.sh

# Containers' init and the runtime's command line are a small binary of
# their own (internal/runtime/initexe), embedded in berth: it starts faster
# than the whole of berth. berth-init.h tells berth's C constructor which
# file to execute for runtime commands (see cmd/berth/initbin.go).
build:
	CC=$(CGO_CC) CGO_ENABLED=1 $(GO) build $(BUILDFLAGS) -tags $(TAGS) -o cmd/berth/berth-init ./internal/runtime/initexe
	sha256sum cmd/berth/berth-init > cmd/berth/berth-init.sha256
	printf 'const char berth_runtime_sum[] = "%s";\nconst long berth_runtime_size = %s;\n' \
		$$(cut -d' ' -f1 cmd/berth/berth-init.sha256) $$(stat -c %s cmd/berth/berth-init) > cmd/berth/berth-init.h
	CC=$(CGO_CC) CGO_ENABLED=1 $(GO) build $(BUILDFLAGS) -tags $(TAGS),berth_initbin -o bin/berth ./cmd/berth
	ln -sfn berth bin/berth-runc

# Tests run as root for real: containers, cgroups, mounts and links. The
# runtime's suite runs a second time with the Go init building every
# container (BERTH_INIT_STAGE=go): the C one (nsenter/initstage.c) is the
# default where it can, and both must do the same.
test: deps build
	$(GO) test -p 1 -count=1 -timeout 15m ./...
	BERTH_INIT_STAGE=go $(GO) test -count=1 -timeout 10m ./test/runtime

# berth's runtime against Debian's runc (see test/bench/runtime).
bench: deps build
	$(GO) run ./test/bench/runtime
	$(GO) run ./test/bench/images
	$(GO) run ./test/bench/daemon
	$(GO) run ./test/bench/volume
	$(GO) run ./test/bench/build
	$(GO) run ./test/bench/network

# Runs a busybox container with berth's runtime; installs busybox-static
# if it is missing.
demo: deps build
	$(GO) run ./hack/demo

# berth-runc as the runtime of a private Docker daemon (test/dropin).
dropin: build
	bash test/dropin/docker.sh

# Images moved between berth and a private Docker 20.10 daemon through
# save/load (test/interop); needs Debian's docker.io, which `make dropin`
# installs.
.PHONY: interop
interop: deps
	BERTH_INTEROP=1 $(GO) test -count=1 -timeout 10m ./test/interop/

clean:
	rm -rf bin
