// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Command volume compares berth with Docker 20.10 (Debian's docker.io,
// when /usr/sbin/dockerd is installed) on copying files in and out of a
// container and on file I/O in a volume:
//
//	cp in:   docker cp TREE ctr:/dN       (a running container, into its rootfs)
//	cp out:  docker cp ctr:/d0 OUT/N
//	vol write: 256 MB written with fsync in a volume (dd conv=fsync)
//	vol files: 5000 small files unpacked by tar into a volume
//
// TREE is a ~500 MB directory of small (1-16 KB) and large (16-32 MB)
// files of random, incompressible bytes from a fixed seed. The same stock
// docker CLI (the one on PATH) drives both daemons, so the difference is
// the daemons'. The volume rows are timed as `docker exec` of the
// workload minus the median of `docker exec ctr true`, and beside them is
// the same busybox command run directly on the host in a directory on the
// same file system: the overhead of a volume is the ratio to the host.
// Iterations are interleaved (berth, docker, docker, berth, ...) after
// one untimed warm-up round, each after a sync(2) so that none pays for
// the writeback of the one before; medians are printed.
//
// Run as root from the repository root (make bench). Docker runs as a
// private dockerd (testutil.StartDockerd) stopped by PID; every container,
// volume, directory and mount is removed on the way out.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
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

const imageRef = "busybox:latest"

func main() {
	n := flag.Int("n", 3, "timed iterations per row and engine")
	berth := flag.String("berth", "bin/berth", "berth binary")
	mkrootfs := flag.String("mkbusybox", "hack/mkbusybox.sh", "script that makes the busybox rootfs")
	mb := flag.Int("mb", 500, "size of the copied tree in MB")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, *n, *berth, *mkrootfs, *mb)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// engine is a daemon driven by the docker CLI.
type engine struct {
	name string
	env  []string
	ctr  string
	err  error
	res  map[string][]time.Duration
}

func (e *engine) docker(ctx context.Context, args ...string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = e.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return d, fmt.Errorf("%s: docker %s: %v: %s", e.name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return d, nil
}

func run(ctx context.Context, n int, berthBin, mkrootfs string, mb int) (err error) {
	if os.Geteuid() != 0 {
		return errors.New("must run as root")
	}
	bin, err := filepath.Abs(berthBin)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("%w: build it first (make build; make bench does)", err)
	}
	tmp, err := os.MkdirTemp("/var/tmp", "berth-bench-volume.")
	if err != nil {
		return err
	}
	defer func() {
		testutil.UnmountUnder(tmp)
		if rerr := os.RemoveAll(tmp); rerr != nil && err == nil {
			err = rerr
		}
	}()
	progress("making the busybox image and a %d MB tree", mb)
	rootfs := filepath.Join(tmp, "rootfs")
	if out, err := exec.CommandContext(ctx, "bash", mkrootfs, rootfs).CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w: %s", mkrootfs, err, out)
	}
	busybox := filepath.Join(tmp, "busybox.tar")
	if out, err := exec.CommandContext(ctx, "tar", "--numeric-owner", "-C", rootfs, "-cf", busybox, ".").CombinedOutput(); err != nil {
		return fmt.Errorf("tar busybox rootfs: %w: %s", err, out)
	}
	tree := filepath.Join(tmp, "tree")
	size, files, err := makeTree(tree, int64(mb)<<20)
	if err != nil {
		return err
	}
	// the small files for the volume row, as a tar the container unpacks
	smallTar := filepath.Join(tmp, "small.tar")
	if err := makeSmallTar(filepath.Join(tmp, "small"), smallTar); err != nil {
		return err
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
	cliEnv := append(os.Environ(), "DOCKER_CLI_HINTS=false")
	engines := []*engine{{name: "berth", env: append(slices.Clone(cliEnv), "DOCKER_HOST="+bd.Host, "DOCKER_CONFIG="+filepath.Join(tmp, "cli-berth"))}}
	dk := &engine{name: "docker"}
	if _, serr := os.Stat(testutil.DockerdPath); serr != nil {
		dk.err = errors.New("not installed")
	} else {
		progress("starting dockerd")
		dd, derr := testutil.StartDockerd(ctx)
		if derr != nil {
			dk.err = derr
		} else {
			defer dd.Stop()
			dk.env = append(slices.Clone(cliEnv), "DOCKER_HOST="+dd.Host, "DOCKER_CONFIG="+filepath.Join(tmp, "cli-docker"))
		}
	}
	engines = append(engines, dk)
	for _, e := range engines {
		if e.err != nil {
			continue
		}
		e.res = map[string][]time.Duration{}
		e.ctr = "bench-volume-" + e.name
		for _, args := range [][]string{
			{"import", busybox, imageRef},
			{"volume", "create", "benchvol"},
			{"run", "-d", "--name", e.ctr, "--network", "none", "-v", "benchvol:/vol", imageRef, "sleep", "100000"},
			{"cp", smallTar, e.ctr + ":/small.tar"},
		} {
			if _, err := e.docker(ctx, args...); err != nil {
				e.err = err
				break
			}
		}
	}
	if engines[0].err != nil {
		return engines[0].err
	}
	hostDir := filepath.Join(tmp, "hostio")
	if err := os.Mkdir(hostDir, 0o755); err != nil {
		return err
	}
	hostRes := map[string][]time.Duration{}
	out := filepath.Join(tmp, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		return err
	}

	rows := []struct {
		name string
		run  func(e *engine, i int) (time.Duration, error)
		host func(i int) (time.Duration, error)
	}{
		{"cp in", func(e *engine, i int) (time.Duration, error) {
			d, err := e.docker(ctx, "cp", tree, fmt.Sprintf("%s:/d%d", e.ctr, i))
			if err == nil && i > 0 {
				_, err = e.docker(ctx, "exec", e.ctr, "rm", "-rf", fmt.Sprintf("/d%d", i))
			}
			return d, err
		}, nil},
		{"cp out", func(e *engine, i int) (time.Duration, error) {
			dst := filepath.Join(out, fmt.Sprintf("%s-%d", e.name, i))
			d, err := e.docker(ctx, "cp", e.ctr+":/d0", dst)
			os.RemoveAll(dst)
			return d, err
		}, nil},
		{"exec true", func(e *engine, i int) (time.Duration, error) {
			return e.docker(ctx, "exec", e.ctr, "true")
		}, nil},
		{"vol write 256 MB", func(e *engine, i int) (time.Duration, error) {
			return e.docker(ctx, "exec", e.ctr, "sh", "-c", "dd if=/dev/zero of=/vol/big bs=1M count=256 conv=fsync 2>/dev/null && rm /vol/big")
		}, func(i int) (time.Duration, error) {
			return hostCmd(ctx, hostDir, "dd if=/dev/zero of=big bs=1M count=256 conv=fsync 2>/dev/null && rm big")
		}},
		{"vol 5000 files", func(e *engine, i int) (time.Duration, error) {
			return e.docker(ctx, "exec", e.ctr, "sh", "-c", "mkdir /vol/s && tar -xf /small.tar -C /vol/s && sync -f /vol/s && rm -rf /vol/s")
		}, func(i int) (time.Duration, error) {
			return hostCmd(ctx, hostDir, "mkdir s && busybox tar -xf "+smallTar+" -C s && sync -f s && rm -rf s")
		}},
	}
	for i := -1; i < n; i++ {
		for _, r := range rows {
			order := slices.Clone(engines)
			if i%2 != 0 {
				slices.Reverse(order)
			}
			for _, e := range order {
				if e.err != nil || ctx.Err() != nil {
					continue
				}
				progress("%s %s (%s)", e.name, r.name, round(i, n))
				settle()
				d, err := r.run(e, i+1)
				if err != nil {
					e.err = err
					continue
				}
				if i >= 0 {
					e.res[r.name] = append(e.res[r.name], d)
				}
			}
			if r.host != nil {
				settle()
				d, err := r.host(i + 1)
				if err != nil {
					return err
				}
				if i >= 0 {
					hostRes[r.name] = append(hostRes[r.name], d)
				}
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, e := range engines {
		if e.err == nil {
			e.docker(ctx, "rm", "-f", e.ctr)
			e.docker(ctx, "volume", "rm", "benchvol")
		}
	}
	print(engines, hostRes, size, files, n)
	return nil
}

// settle writes back what earlier rows left dirty in the page cache, so
// that no row pays for the one before it.
func settle() {
	syscall.Sync()
	time.Sleep(200 * time.Millisecond)
}

func round(i, n int) string {
	if i < 0 {
		return "warm-up"
	}
	return fmt.Sprintf("%d/%d", i+1, n)
}

// hostCmd runs a busybox shell command in dir on the host.
func hostCmd(ctx context.Context, dir, script string) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, "busybox", "sh", "-c", script)
	cmd.Dir = dir
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("host: %s: %v: %s", script, err, out)
	}
	return time.Since(start), nil
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func print(engines []*engine, host map[string][]time.Duration, size int64, files, n int) {
	mb := float64(size) / 1e6
	fmt.Printf("volume benchmark: cp of a %.0f MB tree (%d files) and I/O in a volume, %d interleaved iterations, medians, the stock docker CLI against both daemons\n", mb, files, n)
	for _, e := range engines {
		if e.err != nil {
			fmt.Printf("  %s: n/a: %v\n", e.name, e.err)
		}
	}
	b, d := engines[0], engines[1]
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\tberth s\tberth MB/s\tdocker s\tdocker MB/s\tdocker/berth\ttarget\t")
	for _, row := range []string{"cp in", "cp out"} {
		bt, dt := median(b.res[row]), median(d.res[row])
		fmt.Fprintf(tw, "%s\t%.2f\t%.0f\t%s\t%s\t%s\t≥ 1 (as fast as Docker)\t\n", row, bt.Seconds(), mb/bt.Seconds(), secs(dt), rate(mb, dt), ratio(dt, bt))
	}
	tw.Flush()
	bx, dx := median(b.res["exec true"]), median(d.res["exec true"])
	fmt.Printf("\nfile I/O in a volume, timed as docker exec minus exec of true (berth %.0f ms, docker %s), beside the same command on the host:\n", ms(bx), msOr(dx))
	tw = tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\thost s\tberth s\tberth/host\tdocker s\tdocker/host\ttarget\t")
	for _, row := range []string{"vol write 256 MB", "vol 5000 files"} {
		ht := median(host[row])
		bt := median(b.res[row]) - bx
		dt := time.Duration(0)
		if len(d.res[row]) > 0 {
			dt = median(d.res[row]) - dx
		}
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.2f\t%s\t%s\tberth/host ≈ 1\t\n", row, ht.Seconds(), bt.Seconds(), bt.Seconds()/ht.Seconds(), secs(dt), ratio(dt, ht))
	}
	tw.Flush()
}

func secs(d time.Duration) string {
	if d <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", d.Seconds())
}

func rate(mb float64, d time.Duration) string {
	if d <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f", mb/d.Seconds())
}

func ratio(a, b time.Duration) string {
	if a <= 0 || b <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", a.Seconds()/b.Seconds())
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func msOr(d time.Duration) string {
	if d <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f ms", ms(d))
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// makeTree writes about total bytes of random files under dir: 85 % in
// large files of 16-32 MB, the rest in small files of 1-16 KB spread over
// directories of 100.
func makeTree(dir string, total int64) (size int64, files int, err error) {
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 32<<20)
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	write := func(p string, n int) error {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		off := rng.IntN(len(buf) - n + 1)
		if err := os.WriteFile(p, buf[off:off+n], 0o644); err != nil {
			return err
		}
		size += int64(n)
		files++
		return nil
	}
	for size < total*15/100 {
		if err := write(filepath.Join(dir, "small", fmt.Sprintf("d%03d", files/100), fmt.Sprintf("f%05d", files)), 1024+rng.IntN(15*1024)); err != nil {
			return 0, 0, err
		}
	}
	for i := 0; size < total; i++ {
		if err := write(filepath.Join(dir, "large", fmt.Sprintf("big%02d", i)), 16<<20+rng.IntN(16<<20)); err != nil {
			return 0, 0, err
		}
	}
	return size, files, nil
}

// makeSmallTar writes 5000 files of 4 KB in 50 directories as a tar.
func makeSmallTar(dir, out string) error {
	b := bytes.Repeat([]byte("x"), 4096)
	for i := range 5000 {
		p := filepath.Join(dir, fmt.Sprintf("d%02d", i%50), fmt.Sprintf("f%04d", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
	if o, err := exec.Command("tar", "-C", dir, "-cf", out, ".").CombinedOutput(); err != nil {
		return fmt.Errorf("tar: %v: %s", err, o)
	}
	return nil
}
