// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Command build compares berth's Dockerfile builder with Docker 20.10's
// classic builder (Debian's docker.io, when /usr/sbin/dockerd is
// installed) on DESIGN.md §4's build rows, in the same run:
//
//	cold build          12 steps (FROM, 10 RUN, a COPY), --no-cache
//	cached rebuild      the same, every step from the cache
//	one file changed    the COPY and the 5 RUN steps after it run again
//
// Each row is the wall time of the stock docker CLI (DOCKER_BUILDKIT=0)
// against each daemon, and of berth's own CLI against berth; medians of
// interleaved iterations after a warm-up build. Both daemons build with
// --network none (the private dockerd runs with --bridge none). Run it as
// root from the repository root (make bench); everything it makes is
// removed on the way out.
package main

import (
	"bytes"
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
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/berth-project/berth/internal/testutil"
)

const dockerfile = `FROM busybox:latest
RUN echo 1 > /s1
RUN echo 2 > /s2
RUN echo 3 > /s3
RUN echo 4 > /s4
RUN echo 5 > /s5
COPY data.txt /data.txt
RUN cat /data.txt > /s6
RUN echo 7 > /s7
RUN echo 8 > /s8
RUN echo 9 > /s9
RUN echo 10 > /s10
`

func main() {
	n := flag.Int("n", 5, "timed iterations per row and client")
	berthPath := flag.String("berth", "bin/berth", "berth binary (make build)")
	mkrootfs := flag.String("mkbusybox", "hack/mkbusybox.sh", "script that makes the busybox rootfs")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, *n, *berthPath, *mkrootfs)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// client is one CLI against one daemon.
type client struct {
	label string
	bin   string
	args  []string
	env   []string
}

func (c *client) build(ctx context.Context, extra ...string) (time.Duration, error) {
	args := append(append(slices.Clone(c.args), "build", "--network", "none", "-q", "-t", "bench:build"), extra...)
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Env = c.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	t0 := time.Now()
	err := cmd.Run()
	d := time.Since(t0)
	if err != nil {
		return 0, fmt.Errorf("%s: %s %s: %v: %s", c.label, c.bin, strings.Join(args, " "), err, out.String())
	}
	return d, nil
}

type row struct {
	name   string
	target string
	prep   func() error
	extra  []string
	vals   map[*client][]float64
}

func run(ctx context.Context, n int, berthPath, mkrootfs string) (err error) {
	if os.Geteuid() != 0 {
		return errors.New("must run as root")
	}
	dockerCLI, err := exec.LookPath("docker")
	if err != nil {
		return fmt.Errorf("the docker CLI: %w", err)
	}
	tmp, err := os.MkdirTemp("", "berth-bench-build.")
	if err != nil {
		return err
	}
	defer func() {
		testutil.UnmountUnder(tmp)
		os.RemoveAll(tmp)
	}()
	bin := filepath.Join(tmp, "berth")
	if err := copyFile(berthPath, bin); err != nil {
		return fmt.Errorf("%w: build it first (make build)", err)
	}
	rootfs := filepath.Join(tmp, "rootfs")
	if out, err := exec.CommandContext(ctx, "bash", mkrootfs, rootfs).CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w: %s", mkrootfs, err, out)
	}
	busybox := filepath.Join(tmp, "busybox.tar")
	if out, err := exec.CommandContext(ctx, "tar", "--numeric-owner", "-C", rootfs, "-cf", busybox, ".").CombinedOutput(); err != nil {
		return fmt.Errorf("tar: %w: %s", err, out)
	}
	ctxDir := filepath.Join(tmp, "context")
	if err := os.MkdirAll(ctxDir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return err
	}
	changes := 0
	change := func() error {
		changes++
		return os.WriteFile(filepath.Join(ctxDir, "data.txt"), []byte(fmt.Sprintf("version %d\n", changes)), 0o644)
	}
	if err := change(); err != nil {
		return err
	}

	bd, err := testutil.NewDaemon(bin)
	if err != nil {
		return err
	}
	defer bd.Cleanup()
	if err := bd.Start(); err != nil {
		return err
	}
	cliEnv := append(os.Environ(), "DOCKER_CONFIG="+filepath.Join(tmp, "cli"), "DOCKER_BUILDKIT=0")
	clients := []*client{
		{label: "berth CLI→berth", bin: bin, args: []string{"-H", bd.Host}, env: cliEnv},
		{label: "docker CLI→berth", bin: dockerCLI, env: append(slices.Clone(cliEnv), "DOCKER_HOST="+bd.Host)},
	}
	if out, err := exec.CommandContext(ctx, bin, "-H", bd.Host, "import", busybox, "busybox:latest").CombinedOutput(); err != nil {
		return fmt.Errorf("berth import: %v: %s", err, out)
	}
	dockerNote := "Docker: not installed"
	if _, serr := os.Stat(testutil.DockerdPath); serr == nil {
		dd, derr := testutil.StartDockerd(ctx)
		if derr != nil {
			dockerNote = "Docker: " + derr.Error()
		} else {
			defer dd.Stop()
			if _, derr := dd.Docker(ctx, "import", busybox, "busybox:latest"); derr != nil {
				dockerNote = "Docker: " + derr.Error()
			} else {
				v, _ := exec.Command(testutil.DockerdPath, "--version").Output()
				dockerNote = strings.TrimSpace(string(v)) + " (private dockerd, --bridge none)"
				clients = append(clients, &client{label: "docker CLI→dockerd", bin: dockerCLI, env: append(slices.Clone(dd.Env), "DOCKER_BUILDKIT=0")})
			}
		}
	}

	rows := []*row{
		{name: "cold build, 10 RUN + COPY (--no-cache)", target: "≤ 500 ms", extra: []string{"--no-cache"}},
		{name: "fully cached rebuild", target: "≤ 30 ms"},
		{name: "rebuild after changing one file", target: "", prep: change},
	}
	// warm-up: a first build on each daemon fills its cache
	for _, c := range clients {
		if _, err := c.build(ctx, ctxDir); err != nil {
			return err
		}
	}
	for _, r := range rows {
		r.vals = map[*client][]float64{}
		for i := 0; i < n; i++ {
			order := slices.Clone(clients)
			if i%2 == 1 {
				slices.Reverse(order)
			}
			for _, c := range order {
				if r.prep != nil {
					if err := r.prep(); err != nil {
						return err
					}
				}
				d, err := c.build(ctx, append(slices.Clone(r.extra), ctxDir)...)
				if err != nil {
					return err
				}
				r.vals[c] = append(r.vals[c], float64(d.Microseconds())/1000)
			}
		}
		fmt.Fprintf(os.Stderr, "bench: %s done\n", r.name)
	}

	fmt.Printf("build benchmark: classic builder (DOCKER_BUILDKIT=0), busybox, medians of %d interleaved iterations\n", n)
	fmt.Printf("clients: berth CLI; docker CLI on PATH against both daemons; %s\n", dockerNote)
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	labels := []string{"berth CLI→berth", "docker CLI→berth", "docker CLI→dockerd"}
	fmt.Fprintf(tw, "workload\t%s\tratio same CLI\ttarget\t\n", strings.Join(labels, "\t"))
	for _, r := range rows {
		cells := []string{r.name}
		fig := map[string]float64{}
		for _, l := range labels {
			cell := "n/a"
			for _, c := range clients {
				if c.label == l {
					fig[l] = median(r.vals[c])
					cell = fmt.Sprintf("%.1f ms", fig[l])
				}
			}
			cells = append(cells, cell)
		}
		ratio := "n/a"
		if b, d := fig["docker CLI→berth"], fig["docker CLI→dockerd"]; b > 0 && d > 0 {
			ratio = fmt.Sprintf("%.1fx", d/b)
		}
		cells = append(cells, ratio, r.target)
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	return tw.Flush()
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
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
