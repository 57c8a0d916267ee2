// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Command network compares berth's bridge networking with Docker 20.10's
// (Debian's docker.io, when /usr/sbin/dockerd is installed) on the two
// network rows of DESIGN.md §4, through the same stock docker CLI:
//
//   - the latency bridge networking adds to `run --rm busybox true` over
//     `--network none` (medians of interleaved runs, target ≤ 5 ms);
//   - HTTP throughput of a file served by busybox httpd in a container,
//     fetched from the host through a port published on 127.0.0.1 and
//     directly from the container's address (target ≥ 95 % of direct).
//
// berth runs as a testutil.Daemon with its own bridge and subnet. The
// private dockerd gets a bridge this program makes (its own name, a free
// subnet) and runs with --iptables=false: it must not touch the host's
// iptables, so its published ports go through its userland proxy
// (docker-proxy), Docker's default path for traffic from 127.0.0.1. Traffic
// goes only to 127.0.0.1 and to the two bridges' containers. Everything is
// removed on the way out. Run it as root from the repository root (make
// bench).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/berth-project/berth/internal/testutil"
)

const imageRef = "busybox:latest"

func main() {
	o := options{}
	flag.IntVar(&o.n, "n", 15, "timed iterations per latency row and engine")
	flag.IntVar(&o.rounds, "rounds", 5, "timed transfers per throughput row and engine")
	flag.IntVar(&o.sizeMB, "size", 200, "size of the file fetched, in MB")
	flag.StringVar(&o.berth, "berth", "bin/berth", "berth binary (make build)")
	flag.StringVar(&o.mkrootfs, "mkbusybox", "hack/mkbusybox.sh", "script that makes the busybox rootfs")
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
	n, rounds, sizeMB int
	berth, mkrootfs   string
}

// engine is one daemon driven by the docker CLI.
type engine struct {
	name string
	env  []string
}

func (e *engine) docker(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = e.env
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("%s: docker %s: %v: %s", e.name, strings.Join(args, " "), err, ee.Stderr)
		}
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

func run(ctx context.Context, o options) error {
	if os.Geteuid() != 0 {
		return errors.New("must run as root")
	}
	tmp, err := os.MkdirTemp("", "berth-bench-net.")
	if err != nil {
		return err
	}
	defer func() {
		testutil.UnmountUnder(tmp)
		os.RemoveAll(tmp)
	}()
	progress("making the busybox image")
	bin := filepath.Join(tmp, "berth")
	if out, err := exec.Command("cp", o.berth, bin).CombinedOutput(); err != nil {
		return fmt.Errorf("copy %s: %v: %s", o.berth, err, out)
	}
	rootfs := filepath.Join(tmp, "rootfs")
	if out, err := exec.CommandContext(ctx, "bash", o.mkrootfs, rootfs).CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w: %s", o.mkrootfs, err, out)
	}
	busybox := filepath.Join(tmp, "busybox.tar")
	if out, err := exec.CommandContext(ctx, "tar", "--numeric-owner", "-C", rootfs, "-cf", busybox, ".").CombinedOutput(); err != nil {
		return fmt.Errorf("tar busybox rootfs: %w: %s", err, out)
	}
	cliEnv := append(os.Environ(), "DOCKER_CONFIG="+filepath.Join(tmp, "cli"), "DOCKER_CLI_HINTS=false")

	progress("starting berth")
	bd, err := testutil.NewDaemon(bin)
	if err != nil {
		return err
	}
	defer bd.Cleanup()
	if err := bd.Start(); err != nil {
		return err
	}
	engines := []*engine{{name: "berth", env: append(slices.Clone(cliEnv), "DOCKER_HOST="+bd.Host)}}
	if _, err := engines[0].docker(ctx, "import", busybox, imageRef); err != nil {
		return err
	}

	var dockerErr error
	if _, err := os.Stat(testutil.DockerdPath); err != nil {
		dockerErr = errors.New("not installed")
	} else {
		progress("starting dockerd")
		br, remove, err := makeBridge()
		if err != nil {
			return err
		}
		defer remove()
		dd, err := testutil.StartDockerd(ctx, "--bridge", br, "--userland-proxy=true")
		if err != nil {
			dockerErr = err
		} else {
			defer dd.Stop()
			e := &engine{name: "Docker 20.10", env: append(slices.Clone(cliEnv), "DOCKER_HOST="+dd.Host)}
			if _, err := e.docker(ctx, "import", busybox, imageRef); err != nil {
				dockerErr = err
			} else {
				engines = append(engines, e)
			}
		}
	}

	lat := map[*engine][2][]float64{}
	progress("run --rm busybox true, bridge and none, %d rounds", o.n)
	for i := range o.n + 1 {
		order := slices.Clone(engines)
		if i%2 == 1 {
			slices.Reverse(order)
		}
		for _, e := range order {
			cases := [][]string{{"run", "--rm", imageRef, "true"}, {"run", "--rm", "--network", "none", imageRef, "true"}}
			var got [2]float64
			for k := range 2 {
				j := k
				if i%2 == 1 {
					j = 1 - k
				}
				t0 := time.Now()
				if _, err := e.docker(ctx, cases[j]...); err != nil {
					return err
				}
				got[j] = ms(time.Since(t0))
			}
			if i == 0 {
				continue // warm-up
			}
			l := lat[e]
			l[0], l[1] = append(l[0], got[0]), append(l[1], got[1])
			lat[e] = l
		}
	}

	tput := map[*engine][2]float64{}
	for _, e := range engines {
		progress("%s: HTTP throughput, %d MB × %d", e.name, o.sizeMB, o.rounds)
		direct, published, err := throughput(ctx, e, o)
		if err != nil {
			return err
		}
		tput[e] = [2]float64{direct, published}
	}

	fmt.Printf("\nnetwork: medians of %d interleaved runs (docker CLI %s) and of %d transfers of %d MB\n\n", o.n, cliVersion(), o.rounds, o.sizeMB)
	fmt.Printf("%-46s", "")
	for _, e := range engines {
		fmt.Printf("%16s", e.name)
	}
	fmt.Printf("%14s\n", "target")
	row := func(name, target string, f func(e *engine) string) {
		fmt.Printf("%-46s", name)
		for _, e := range engines {
			fmt.Printf("%16s", f(e))
		}
		fmt.Printf("%14s\n", target)
	}
	row("run --rm busybox true (bridge)", "≤ 25 ms", func(e *engine) string { return fmt.Sprintf("%.1f ms", median(lat[e][0])) })
	row("run --rm --network none busybox true", "≤ 12 ms", func(e *engine) string { return fmt.Sprintf("%.1f ms", median(lat[e][1])) })
	row("added by bridge networking", "≤ 5 ms", func(e *engine) string {
		return fmt.Sprintf("%+.1f ms", median(lat[e][0])-median(lat[e][1]))
	})
	row("HTTP to the container's address", "", func(e *engine) string { return fmt.Sprintf("%.0f MB/s", tput[e][0]) })
	row("HTTP through 127.0.0.1:port", "", func(e *engine) string { return fmt.Sprintf("%.0f MB/s", tput[e][1]) })
	row("published / direct", "≥ 95 %", func(e *engine) string { return fmt.Sprintf("%.0f %%", 100*tput[e][1]/tput[e][0]) })
	if dockerErr != nil {
		fmt.Printf("\nDocker 20.10: not measured: %v\n", dockerErr)
	} else {
		fmt.Printf("\nDocker runs with --iptables=false (this host's iptables are not its to change): its ports go through docker-proxy.\n")
	}
	return nil
}

// throughput serves a file from a container with a port published on
// 127.0.0.1 and fetches it directly and through the port, alternately.
func throughput(ctx context.Context, e *engine, o options) (direct, published float64, err error) {
	name := "bench-http-" + randHex(4)
	id, err := e.docker(ctx, "run", "-d", "--name", name, "-p", "127.0.0.1::80", imageRef, "sh", "-c",
		fmt.Sprintf("mkdir /www && dd if=/dev/zero of=/www/big bs=1M count=%d 2>/dev/null && exec httpd -f -p 80 -h /www", o.sizeMB))
	if err != nil {
		return 0, 0, err
	}
	defer e.docker(context.WithoutCancel(ctx), "rm", "-f", id)
	ip, err := e.docker(ctx, "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", id)
	if err != nil {
		return 0, 0, err
	}
	hp, err := e.docker(ctx, "port", id, "80/tcp")
	if err != nil {
		return 0, 0, err
	}
	hp = strings.Split(hp, "\n")[0]
	urls := []string{"http://" + net.JoinHostPort(ip, "80") + "/big", "http://" + hp + "/big"}
	want := int64(o.sizeMB) << 20
	deadline := time.Now().Add(60 * time.Second)
	for {
		if n, _, err := fetch(urls[0]); err == nil && n == want {
			break
		}
		if time.Now().After(deadline) {
			return 0, 0, fmt.Errorf("%s: %s did not serve the file", e.name, urls[0])
		}
		time.Sleep(100 * time.Millisecond)
	}
	var rates [2][]float64
	for i := range o.rounds + 1 {
		for k := range 2 {
			j := k
			if i%2 == 1 {
				j = 1 - k
			}
			n, d, err := fetch(urls[j])
			if err != nil {
				return 0, 0, fmt.Errorf("%s: %w", e.name, err)
			}
			if n != want {
				return 0, 0, fmt.Errorf("%s: %s: got %d bytes, want %d", e.name, urls[j], n, want)
			}
			if i > 0 {
				rates[j] = append(rates[j], float64(n)/1e6/d.Seconds())
			}
		}
	}
	return median(rates[0]), median(rates[1]), nil
}

func fetch(url string) (int64, time.Duration, error) {
	c := http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, DisableCompression: true}}
	t0 := time.Now()
	resp, err := c.Get(url)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	n, err := io.CopyBuffer(io.Discard, resp.Body, make([]byte, 256<<10))
	return n, time.Since(t0), err
}

// makeBridge makes a bridge for the private dockerd on a free subnet.
func makeBridge() (string, func(), error) {
	name := "bbd" + randHex(4)
	la := netlink.NewLinkAttrs()
	la.Name = name
	br := &netlink.Bridge{LinkAttrs: la}
	if err := netlink.LinkAdd(br); err != nil {
		return "", nil, fmt.Errorf("bridge for dockerd: %w", err)
	}
	remove := func() { netlink.LinkDel(br) }
	sub := testutil.FreeSubnet()
	gw := sub.Addr().Next()
	addr, _ := netlink.ParseAddr(netip.PrefixFrom(gw, sub.Bits()).String())
	if err := netlink.AddrAdd(br, addr); err != nil {
		remove()
		return "", nil, err
	}
	if err := netlink.LinkSetUp(br); err != nil {
		remove()
		return "", nil, err
	}
	return name, remove, nil
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func cliVersion() string {
	out, _ := exec.Command("docker", "version", "--format", "{{.Client.Version}}").Output()
	return strings.TrimSpace(string(out))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

var began = time.Now()

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: %5.1fs "+format+"\n", append([]any{time.Since(began).Seconds()}, args...)...)
}
