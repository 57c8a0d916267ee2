// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Command daemon compares the berth daemon with Docker 20.10 (Debian's
// docker.io, when /usr/sbin/dockerd is installed) on the container
// lifecycle rows of DESIGN.md §4: run --rm, create, start, exec, stop,
// ps -a, 20 concurrent runs and host memory per idle container. It prints
// the median of each, the ratio and the target.
//
// Every CLI row is timed through three clients, as wall time of the CLI
// process:
//
//	berth CLI → berth       bin/berth -H unix://SOCK …
//	docker CLI → berth      the stock docker CLI on PATH, DOCKER_HOST=unix://SOCK
//	docker CLI → dockerd    the same docker CLI against a private dockerd
//
// so that the two berth columns separate the daemon from the CLI, and the
// last two compare the daemons through the same client. Iterations are
// interleaved (clients in one order, then the reverse), after one untimed
// warm-up round. Preparation that is not timed (creating the container a
// row starts, removing what a row made) goes through the Engine API with
// the Go SDK.
//
// berth's "run --rm busybox true" row runs on its default bridge (each
// test daemon has a bridge of its own). The private dockerd runs with
// --bridge none, so Docker runs with --network none in both run rows:
// test/bench/network compares bridge networking with Docker's.
//
// The busybox image is a tar of hack/mkbusybox.sh's root filesystem,
// imported into both engines. berth runs from a copy of bin/berth (so a
// rebuild during the run changes nothing) as a testutil.Daemon; dockerd
// as a testutil.Dockerd. Everything (containers, daemons, mounts,
// cgroups, temporary directories) is removed on the way out, also after
// an error or ^C. Run it as root from the repository root (make bench).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/berth-project/berth/internal/testutil"
)

func main() {
	o := options{}
	flag.IntVar(&o.n, "n", 7, "timed iterations per row and client")
	flag.StringVar(&o.berth, "berth", "bin/berth", "berth binary (make build)")
	flag.StringVar(&o.mkrootfs, "mkbusybox", "hack/mkbusybox.sh", "script that makes the busybox rootfs")
	flag.StringVar(&o.docker, "docker", "docker", "docker CLI used against both daemons")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type options struct {
	n                       int
	berth, mkrootfs, docker string
}

func run(ctx context.Context, o options) (err error) {
	if os.Geteuid() != 0 {
		return errors.New("must run as root")
	}
	if o.n < 1 {
		return errors.New("-n must be at least 1")
	}
	if _, err := os.Stat(o.berth); err != nil {
		return fmt.Errorf("%w: build it first (make build; make bench does)", err)
	}
	dockerCLI, err := exec.LookPath(o.docker)
	if err != nil {
		return fmt.Errorf("the docker CLI: %w", err)
	}
	tmp, err := os.MkdirTemp("", "berth-bench-daemon.")
	if err != nil {
		return err
	}
	defer func() {
		testutil.UnmountUnder(tmp)
		if rerr := os.RemoveAll(tmp); rerr != nil && err == nil {
			err = rerr
		}
	}()

	progress("making the busybox image")
	bin := filepath.Join(tmp, "berth")
	if err := copyFile(o.berth, bin); err != nil {
		return err
	}
	rootfs := filepath.Join(tmp, "rootfs")
	if out, err := exec.CommandContext(ctx, "bash", o.mkrootfs, rootfs).CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w: %s", o.mkrootfs, err, out)
	}
	busybox := filepath.Join(tmp, "busybox.tar")
	if out, err := exec.CommandContext(ctx, "tar", "--numeric-owner", "-C", rootfs, "-cf", busybox, ".").CombinedOutput(); err != nil {
		return fmt.Errorf("tar busybox rootfs: %w: %s", err, out)
	}

	progress("starting berth")
	bd, err := testutil.NewDaemon(bin)
	if err != nil {
		return err
	}
	defer bd.Cleanup()
	if err := bd.Start(); err != nil {
		return err
	}
	berth, err := newBerthEngine(bd)
	if err != nil {
		return err
	}
	cliEnv := append(os.Environ(), "DOCKER_CONFIG="+filepath.Join(tmp, "cli"))
	clis := []*cli{
		{label: "berth CLI→berth", bin: bin, pre: []string{"-H", bd.Host}, env: cliEnv, eng: berth},
		{label: "docker CLI→berth", bin: dockerCLI, env: slices.Concat(cliEnv, []string{"DOCKER_HOST=" + bd.Host}), eng: berth},
	}
	if _, _, err := clis[0].cmd(ctx, "import", busybox, imageRef); err != nil {
		return fmt.Errorf("berth: import busybox: %w", err)
	}
	engines := []*engine{berth}

	var dockerErr error
	if _, serr := os.Stat(testutil.DockerdPath); serr != nil {
		dockerErr = errors.New("not installed")
	} else {
		progress("starting dockerd")
		dd, derr := testutil.StartDockerd(ctx)
		if derr != nil {
			dockerErr = derr
		} else {
			defer dd.Stop()
			docker, derr := newDockerEngine(dd)
			if derr == nil {
				_, derr = dd.Docker(ctx, "import", busybox, imageRef)
			}
			if derr != nil {
				dockerErr = derr
			} else {
				engines = append(engines, docker)
				clis = append(clis, &cli{label: "docker CLI→dockerd", bin: dockerCLI,
					env: slices.Concat(cliEnv, []string{"DOCKER_HOST=" + dd.Host}), eng: docker})
			}
		}
	}

	b := &bench{n: o.n, clis: clis, engines: engines}
	if err := b.all(ctx); err != nil {
		return err
	}
	dockerVersion, _ := exec.Command(dockerCLI, "version", "--format", "{{.Client.Version}}").Output()
	b.print(os.Stdout, string(dockerVersion), dockerErr)
	return nil
}

var began = time.Now()

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: %5.1fs "+format+"\n", append([]any{time.Since(began).Seconds()}, args...)...)
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
