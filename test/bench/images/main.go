// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Command images compares berth's image store with Docker 20.10 (Debian's
// docker.io, when /usr/sbin/dockerd is installed) on the same ~200 MB,
// 5-layer image: save to a file, load from it, push to a loopback registry
// and pull from it. It prints the median time of each operation, MB/s
// (of the image's uncompressed layers), the ratio docker/berth and the
// target of DESIGN.md §4.
//
// The image is a busybox rootfs (hack/mkbusybox.sh) and four layers of
// ~50 MB of random, incompressible files from a fixed seed, made once
// into a Docker archive and loaded into a berth store. Operations:
//
//	save: berth Store.Save to a file    | docker save -o FILE
//	load: Store.Load into a fresh root  | docker rmi, then docker load -i FILE
//	push: Store.Push, fresh repository  | docker push, fresh repository
//	pull: Store.Pull into a fresh root  | docker pull after removing every image
//
// Each push goes to a registry started for it (untimed), so no blob is
// already there and none can be mounted from another repository: every
// layer is really uploaded. Pulls come from one registry holding the image.
// Iterations are interleaved (berth, docker, docker, berth, ...). Run it as
// root from the repository root (make bench).
//
// Docker runs as a private dockerd as in test/interop: its own data root,
// exec root, socket, pidfile and cgroup parent, --bridge none, no iptables;
// it is stopped by PID. Everything (registries, dockerd, temporary
// directories, mounts) is removed on the way out, also after an error or ^C.
package main

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-project/berth/internal/distribution"
	"github.com/berth-project/berth/internal/image"
	"github.com/berth-project/berth/internal/testutil"
)

const (
	imageName = "bench/images:1"
	dockerd   = testutil.DockerdPath

	randomLayers    = 4
	filesPerLayer   = 10
	randomFileBytes = 5_000_000 // 10 × 5 MB = 50 MB a layer
)

func main() {
	n := flag.Int("n", 3, "iterations per operation and engine")
	mkrootfs := flag.String("mkbusybox", "hack/mkbusybox.sh", "script that makes the busybox rootfs")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, *n, *mkrootfs)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

var operations = []struct{ name, target string }{
	{"save", "≤ 0.6 s"},
	{"load", "≤ 0.8 s"},
	{"push", "≤ 0.85 s"},
	{"pull", "≤ 0.75 s"},
}

// engine is one side of the comparison: its result per operation.
type engine struct {
	name    string
	err     error
	results [][]time.Duration
	ops     []func(ctx context.Context, i int) (time.Duration, error)
}

func run(ctx context.Context, n int, mkrootfs string) (err error) {
	if os.Geteuid() != 0 {
		return errors.New("must run as root")
	}
	tmp, err := os.MkdirTemp("", "berth-bench-images.")
	if err != nil {
		return err
	}
	defer func() {
		testutil.UnmountUnder(tmp)
		if rerr := os.RemoveAll(tmp); rerr != nil && err == nil {
			err = rerr
		}
	}()

	fmt.Fprintln(os.Stderr, "bench: making the image")
	archive := filepath.Join(tmp, "image.tar")
	size, err := makeArchive(ctx, filepath.Join(tmp, "build"), archive, mkrootfs)
	if err != nil {
		return err
	}

	pullReg, err := startRegistry(filepath.Join(tmp, "reg-pull"))
	if err != nil {
		return err
	}
	defer pullReg.stop()

	b, err := newBerth(ctx, tmp, archive, pullReg.host)
	if err != nil {
		return err
	}
	defer b.close()
	engines := []*engine{b.engine()}

	dk := &engine{name: "docker"}
	if _, serr := os.Stat(dockerd); serr != nil {
		dk.err = fmt.Errorf("%s not installed", dockerd)
	} else if d, derr := startDockerd(ctx); derr != nil {
		dk.err = derr
	} else {
		defer d.stop()
		if derr := d.prepare(ctx, tmp, archive, pullReg.host); derr != nil {
			dk.err = derr
		} else {
			dk = d.engine()
		}
	}
	engines = append(engines, dk)
	for _, e := range engines {
		e.results = make([][]time.Duration, len(operations))
	}

	// One untimed round first warms the page cache and catches a broken
	// engine before the timed rounds.
	for i := -1; i < n; i++ {
		for op := range operations {
			order := slices.Clone(engines)
			if i%2 != 0 {
				slices.Reverse(order)
			}
			for _, e := range order {
				if e.err != nil {
					continue
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				round := "warm-up"
				if i >= 0 {
					round = fmt.Sprintf("%d/%d", i+1, n)
				}
				fmt.Fprintf(os.Stderr, "bench: %s %s (%s)\n", e.name, operations[op].name, round)
				d, err := e.ops[op](ctx, i+1)
				if err != nil {
					e.err = fmt.Errorf("%s: %w", operations[op].name, err)
					continue
				}
				if i >= 0 {
					e.results[op] = append(e.results[op], d)
				}
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	mb := float64(size) / 1e6
	fmt.Printf("image benchmark: %.0f MB image of 5 layers (busybox + 4 × 50 MB random), loopback registry, %d interleaved iterations, medians\n", mb, n)
	for _, e := range engines {
		if e.err != nil {
			fmt.Printf("  %s: n/a: %v\n", e.name, e.err)
		}
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\tberth s\tberth MB/s\tdocker s\tdocker MB/s\tdocker/berth\ttarget\t")
	for op, o := range operations {
		bt, dt := engines[0].median(op), engines[1].median(op)
		ratio := "n/a"
		if bt > 0 && dt > 0 {
			ratio = fmt.Sprintf("%.2fx", dt.Seconds()/bt.Seconds())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", o.name, secs(bt), rate(mb, bt), secs(dt), rate(mb, dt), ratio, o.target)
	}
	return tw.Flush()
}

func (e *engine) median(op int) time.Duration {
	if e.err != nil || len(e.results[op]) == 0 {
		return 0
	}
	r := slices.Sorted(slices.Values(e.results[op]))
	return r[len(r)/2]
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

// timed runs f and returns how long it took.
func timed(f func() error) (time.Duration, error) {
	start := time.Now()
	err := f()
	return time.Since(start), err
}

// ---- the image ----

// makeArchive writes a Docker image archive (the legacy format:
// manifest.json, <n>/layer.tar, <config>.json) of the benchmark image,
// named imageName, to archive and returns the bytes of its layers.
func makeArchive(ctx context.Context, dir, archive, mkrootfs string) (int64, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	rootfs := filepath.Join(dir, "rootfs")
	if out, err := exec.CommandContext(ctx, "bash", mkrootfs, rootfs).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("%s: %w: %s", mkrootfs, err, out)
	}
	var layers []string
	first := filepath.Join(dir, "layer0.tar")
	if out, err := exec.CommandContext(ctx, "tar", "--numeric-owner", "-C", rootfs, "-cf", first, ".").CombinedOutput(); err != nil {
		return 0, fmt.Errorf("tar busybox rootfs: %w: %s", err, out)
	}
	layers = append(layers, first)
	var seed [32]byte
	copy(seed[:], "berth image benchmark, seed 1")
	rnd := rand.NewChaCha8(seed)
	for l := 1; l <= randomLayers; l++ {
		p := filepath.Join(dir, fmt.Sprintf("layer%d.tar", l))
		if err := randomLayer(p, l, rnd); err != nil {
			return 0, err
		}
		layers = append(layers, p)
	}

	f, err := os.Create(archive)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	tw := tar.NewWriter(bw)
	var total int64
	var diffIDs []digest.Digest
	var names []string
	for i, p := range layers {
		lf, err := os.Open(p)
		if err != nil {
			return 0, err
		}
		fi, err := lf.Stat()
		if err != nil {
			lf.Close()
			return 0, err
		}
		name := fmt.Sprintf("%d/layer.tar", i)
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: fi.Size(), Typeflag: tar.TypeReg}); err != nil {
			lf.Close()
			return 0, err
		}
		h := sha256.New()
		_, err = io.Copy(io.MultiWriter(tw, h), lf)
		lf.Close()
		if err != nil {
			return 0, err
		}
		total += fi.Size()
		diffIDs = append(diffIDs, digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(h.Sum(nil))))
		names = append(names, name)
	}
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	config, err := json.Marshal(ocispec.Image{
		Created:  &created,
		Platform: ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH},
		Config:   ocispec.ImageConfig{Cmd: []string{"sh"}},
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: diffIDs},
	})
	if err != nil {
		return 0, err
	}
	configName := digest.FromBytes(config).Encoded() + ".json"
	manifest, err := json.Marshal([]map[string]any{{"Config": configName, "RepoTags": []string{imageName}, "Layers": names}})
	if err != nil {
		return 0, err
	}
	for _, e := range []struct {
		name string
		data []byte
	}{{configName, config}, {"manifest.json", manifest}} {
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), Typeflag: tar.TypeReg}); err != nil {
			return 0, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return 0, err
		}
	}
	if err := tw.Close(); err != nil {
		return 0, err
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	return total, f.Close()
}

// randomLayer writes a layer tar of filesPerLayer files of random bytes.
func randomLayer(path string, l int, rnd io.Reader) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	tw := tar.NewWriter(bw)
	mtime := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	dir := fmt.Sprintf("data%d/", l)
	if err := tw.WriteHeader(&tar.Header{Name: dir, Mode: 0o755, Typeflag: tar.TypeDir, ModTime: mtime}); err != nil {
		return err
	}
	for i := range filesPerLayer {
		if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("%sfile%02d", dir, i), Mode: 0o644, Size: randomFileBytes, Typeflag: tar.TypeReg, ModTime: mtime}); err != nil {
			return err
		}
		if _, err := io.CopyN(tw, rnd, randomFileBytes); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return f.Close()
}

// ---- berth ----

type berthEngine struct {
	tmp, archive string
	pullHost     string
	store        *image.Store
	saved        string
	pulledRepo   string
}

func newBerth(ctx context.Context, tmp, archive, pullHost string) (*berthEngine, error) {
	b := &berthEngine{tmp: tmp, archive: archive, pullHost: pullHost}
	s, err := image.New(ctx, filepath.Join(tmp, "berth-base"))
	if err != nil {
		return nil, err
	}
	b.store = s
	f, err := os.Open(archive)
	if err != nil {
		return b, err
	}
	defer f.Close()
	if _, err := s.Load(ctx, f, nil); err != nil {
		return b, fmt.Errorf("berth: load the benchmark image: %w", err)
	}
	// The image every pull fetches, pushed once, untimed.
	b.pulledRepo = pullHost + "/berth-pull:1"
	if err := s.Tag(ctx, imageName, b.pulledRepo); err != nil {
		return b, err
	}
	if _, err := s.Push(ctx, b.pulledRepo, &distribution.Client{}, nil); err != nil {
		return b, fmt.Errorf("berth: push the image to pull: %w", err)
	}
	return b, nil
}

func (b *berthEngine) close() {
	if b.store != nil {
		b.store.Close()
	}
}

func (b *berthEngine) engine() *engine {
	return &engine{name: "berth", ops: []func(context.Context, int) (time.Duration, error){
		b.save, b.load, b.push, b.pull,
	}}
}

func (b *berthEngine) save(ctx context.Context, i int) (time.Duration, error) {
	p := filepath.Join(b.tmp, fmt.Sprintf("berth-save-%d.tar", i))
	os.Remove(b.saved)
	b.saved = p
	return timed(func() error {
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		bw := bufio.NewWriterSize(f, 1<<20)
		if err := b.store.Save(ctx, bw, []string{imageName}); err != nil {
			f.Close()
			return err
		}
		if err := bw.Flush(); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	})
}

func (b *berthEngine) load(ctx context.Context, i int) (time.Duration, error) {
	root := filepath.Join(b.tmp, fmt.Sprintf("berth-load-%d", i))
	defer removeRoot(root)
	return timed(func() error {
		f, err := os.Open(b.saved)
		if err != nil {
			return err
		}
		defer f.Close()
		s, err := image.New(ctx, root)
		if err != nil {
			return err
		}
		defer s.Close()
		_, err = s.Load(ctx, f, nil)
		return err
	})
}

func (b *berthEngine) push(ctx context.Context, i int) (time.Duration, error) {
	reg, err := startRegistry(filepath.Join(b.tmp, fmt.Sprintf("reg-berth-push-%d", i)))
	if err != nil {
		return 0, err
	}
	defer reg.stop()
	ref := fmt.Sprintf("%s/berth-push-%d:1", reg.host, i)
	if err := b.store.Tag(ctx, imageName, ref); err != nil {
		return 0, err
	}
	defer b.store.Remove(ctx, ref, false)
	return timed(func() error {
		_, err := b.store.Push(ctx, ref, &distribution.Client{}, nil)
		return err
	})
}

func (b *berthEngine) pull(ctx context.Context, i int) (time.Duration, error) {
	root := filepath.Join(b.tmp, fmt.Sprintf("berth-pull-%d", i))
	defer removeRoot(root)
	return timed(func() error {
		s, err := image.New(ctx, root)
		if err != nil {
			return err
		}
		defer s.Close()
		_, err = s.Pull(ctx, b.pulledRepo, &distribution.Client{}, nil)
		return err
	})
}

// removeRoot removes a store root and anything mounted under it.
func removeRoot(root string) {
	testutil.UnmountUnder(root)
	os.RemoveAll(root)
}

// ---- the registry ----

type registry struct {
	host string
	dir  string
	r    *testutil.Registry
}

// startRegistry starts the CNCF registry on a free 127.0.0.1 port with its
// config and storage in dir, and waits until /v2/ answers.
func startRegistry(dir string) (*registry, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	r, err := testutil.RunRegistry(dir, "")
	if err != nil {
		return nil, err
	}
	return &registry{host: r.Host, dir: dir, r: r}, nil
}

// stop stops the registry by PID and removes its directory.
func (r *registry) stop() {
	r.r.Stop()
	os.RemoveAll(r.dir)
}

// ---- Docker ----

// dockerDaemon is a private dockerd (testutil.Dockerd) holding the
// benchmark image.
type dockerDaemon struct {
	*testutil.Dockerd

	tmp, pullRef, saved string
}

func startDockerd(ctx context.Context) (*dockerDaemon, error) {
	d, err := testutil.StartDockerd(ctx)
	if err != nil {
		return nil, err
	}
	return &dockerDaemon{Dockerd: d}, nil
}

// docker runs the docker CLI against this daemon and returns its stdout.
func (d *dockerDaemon) docker(ctx context.Context, args ...string) (string, error) {
	return d.Docker(ctx, args...)
}

// stop removes every container, stops dockerd and removes what it left.
func (d *dockerDaemon) stop() { d.Stop() }

// prepare loads the benchmark image and pushes it, untimed, to the
// registry the pulls come from.
func (d *dockerDaemon) prepare(ctx context.Context, tmp, archive, pullHost string) error {
	d.tmp = tmp
	if _, err := d.docker(ctx, "load", "-i", archive); err != nil {
		return err
	}
	d.pullRef = pullHost + "/docker-pull:1"
	if _, err := d.docker(ctx, "tag", imageName, d.pullRef); err != nil {
		return err
	}
	if _, err := d.docker(ctx, "push", d.pullRef); err != nil {
		return err
	}
	_, err := d.docker(ctx, "rmi", d.pullRef)
	return err
}

func (d *dockerDaemon) engine() *engine {
	return &engine{name: "docker", ops: []func(context.Context, int) (time.Duration, error){
		d.save, d.load, d.push, d.pull,
	}}
}

func (d *dockerDaemon) save(ctx context.Context, i int) (time.Duration, error) {
	p := filepath.Join(d.tmp, fmt.Sprintf("docker-save-%d.tar", i))
	os.Remove(d.saved)
	d.saved = p
	return timed(func() error {
		_, err := d.docker(ctx, "save", "-o", p, imageName)
		return err
	})
}

// removeAll removes every image, so that what comes next stores its
// layers anew.
func (d *dockerDaemon) removeAll(ctx context.Context) error {
	out, err := d.docker(ctx, "images", "-aq")
	if err != nil {
		return err
	}
	if ids := strings.Fields(out); len(ids) > 0 {
		slices.Sort(ids)
		ids = slices.Compact(ids)
		if _, err := d.docker(ctx, append([]string{"rmi", "-f"}, ids...)...); err != nil {
			return err
		}
	}
	return nil
}

func (d *dockerDaemon) load(ctx context.Context, i int) (time.Duration, error) {
	if err := d.removeAll(ctx); err != nil {
		return 0, err
	}
	return timed(func() error {
		_, err := d.docker(ctx, "load", "-i", d.saved)
		return err
	})
}

func (d *dockerDaemon) push(ctx context.Context, i int) (time.Duration, error) {
	reg, err := startRegistry(filepath.Join(d.tmp, fmt.Sprintf("reg-docker-push-%d", i)))
	if err != nil {
		return 0, err
	}
	defer reg.stop()
	ref := fmt.Sprintf("%s/docker-push-%d:1", reg.host, i)
	if _, err := d.docker(ctx, "tag", imageName, ref); err != nil {
		return 0, err
	}
	defer d.docker(context.Background(), "rmi", ref)
	return timed(func() error {
		_, err := d.docker(ctx, "push", ref)
		return err
	})
}

func (d *dockerDaemon) pull(ctx context.Context, i int) (time.Duration, error) {
	if err := d.removeAll(ctx); err != nil {
		return 0, err
	}
	dur, err := timed(func() error {
		_, err := d.docker(ctx, "pull", d.pullRef)
		return err
	})
	if err != nil {
		return 0, err
	}
	// The same image (same config, same ID) under the benchmark's name
	// again, for the next save.
	if _, err := d.docker(ctx, "tag", d.pullRef, imageName); err != nil {
		return 0, err
	}
	if _, err := d.docker(ctx, "rmi", d.pullRef); err != nil {
		return 0, err
	}
	return dur, nil
}
