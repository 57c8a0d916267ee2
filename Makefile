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

# berth carries two smaller binaries, each of which starts faster than all
# of berth would (see internal/embedexe):
#   - the runtime's (internal/runtime/initexe: containers' init and the
#     runtime's command line), embedded in the engine's;
#   - the engine's (internal/engineexe: the daemon, its monitor, docker-init
#     and the runtime), embedded in berth, whose Go code is then the CLI.
# The headers tell the C constructors which files to execute for which
# commands (see internal/runtime/nsenter/nsenter.c).
INIT = internal/engineexe/berth-init
ENGINE = cmd/berth/berth-engine
build:
	CC=$(CGO_CC) CGO_ENABLED=1 $(GO) build $(BUILDFLAGS) -tags $(TAGS) -o $(INIT) ./internal/runtime/initexe
	cd $(dir $(INIT)) && sha256sum berth-init > berth-init.sha256
	printf 'const char berth_runtime_sum[] = "%s";\nconst long berth_runtime_size = %s;\n' \
		$$(cut -d' ' -f1 $(INIT).sha256) $$(stat -c %s $(INIT)) > $(INIT).h
	CC=$(CGO_CC) CGO_ENABLED=1 $(GO) build $(BUILDFLAGS) -tags $(TAGS),berth_initbin -o $(ENGINE) ./internal/engineexe
	cd $(dir $(ENGINE)) && sha256sum berth-engine > berth-engine.sha256
	{ cat $(INIT).h; printf 'const char berth_engine_sum[] = "%s";\nconst long berth_engine_size = %s;\n' \
		$$(cut -d' ' -f1 $(ENGINE).sha256) $$(stat -c %s $(ENGINE)); } > $(ENGINE).h
	CC=$(CGO_CC) CGO_ENABLED=1 $(GO) build $(BUILDFLAGS) -tags $(TAGS),berth_engine -o bin/berth ./cmd/berth
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
