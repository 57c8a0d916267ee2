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
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/testutil"
)

const imageRef = "busybox:latest"

func main() {
	o := options{}
	flag.IntVar(&o.n, "n", 15, "timed iterations per latency row and engine")
	flag.IntVar(&o.rounds, "rounds", 15, "timed transfers per throughput row and engine")
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

	tput := map[*engine]rates{}
	for _, e := range engines {
		progress("%s: HTTP throughput, %d MB × %d", e.name, o.sizeMB, o.rounds)
		t, err := throughput(ctx, e, o)
		if err != nil {
			return err
		}
		tput[e] = t
	}

	fmt.Printf("\nnetwork: medians of %d interleaved runs (docker CLI %s) and of %d transfers of %d MB\n(a ratio is the median of the ratios of transfers made one after the other)\n\n", o.n, cliVersion(), o.rounds, o.sizeMB)
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
	row("HTTP to the container's address", "", func(e *engine) string { return fmt.Sprintf("%.0f MB/s", tput[e].direct) })
	row("HTTP through 127.0.0.1:port", "", func(e *engine) string { return fmt.Sprintf("%.0f MB/s", tput[e].published) })
	row("published / direct", "≥ 95 %", func(e *engine) string { return fmt.Sprintf("%.0f %%", 100*tput[e].ratio) })
	row("  the same from an IPv6 socket (::ffff:127.0.0.1)", "", func(e *engine) string { return fmt.Sprintf("%.0f %%", 100*tput[e].mappedRatio) })
	if dockerErr != nil {
		fmt.Printf("\nDocker 20.10: not measured: %v\n", dockerErr)
	} else {
		fmt.Printf("\nDocker runs with --iptables=false (this host's iptables are not its to change): its ports go through docker-proxy.\n")
		fmt.Printf("berth connects the host's IPv4 TCP sockets to the container directly (internal/network/redirect_linux.go);\nan IPv6 socket to the IPv4-mapped address goes through its nftables DNAT and masquerade.\n")
	}
	return nil
}

// rates are the medians of a throughput measurement, in MB/s, and of the
// ratios to direct of transfers made one after the other.
type rates struct {
	direct, published, ratio, mappedRatio float64
}

// throughput serves a file from a container with a port published on
// 127.0.0.1 and fetches it directly, through the port, and through the
// port from an IPv6 socket to ::ffff:127.0.0.1, in turn (the order
// rotates every round).
func throughput(ctx context.Context, e *engine, o options) (rates, error) {
	name := "bench-http-" + randHex(4)
	id, err := e.docker(ctx, "run", "-d", "--name", name, "-p", "127.0.0.1::80", imageRef, "sh", "-c",
		fmt.Sprintf("mkdir /www && dd if=/dev/zero of=/www/big bs=1M count=%d 2>/dev/null && exec httpd -f -p 80 -h /www", o.sizeMB))
	if err != nil {
		return rates{}, err
	}
	defer e.docker(context.WithoutCancel(ctx), "rm", "-f", id)
	ip, err := e.docker(ctx, "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", id)
	if err != nil {
		return rates{}, err
	}
	hp, err := e.docker(ctx, "port", id, "80/tcp")
	if err != nil {
		return rates{}, err
	}
	hp = strings.Split(hp, "\n")[0]
	_, port, _ := net.SplitHostPort(hp)
	ways := []struct {
		url  string
		dial func(ctx context.Context, network, addr string) (net.Conn, error)
	}{
		{"http://" + net.JoinHostPort(ip, "80") + "/big", nil},
		{"http://" + hp + "/big", nil},
		{"http://" + hp + "/big", func(ctx context.Context, _, _ string) (net.Conn, error) { return dialMapped(ctx, port) }},
	}
	want := int64(o.sizeMB) << 20
	deadline := time.Now().Add(60 * time.Second)
	for {
		if n, _, err := fetch(ways[0].url, nil); err == nil && n == want {
			break
		}
		if time.Now().After(deadline) {
			return rates{}, fmt.Errorf("%s: %s did not serve the file", e.name, ways[0].url)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var got [3][]float64
	for i := range o.rounds + 1 {
		for k := range ways {
			j := (k + i) % len(ways)
			n, d, err := fetch(ways[j].url, ways[j].dial)
			if err != nil {
				return rates{}, fmt.Errorf("%s: %w", e.name, err)
			}
			if n != want {
				return rates{}, fmt.Errorf("%s: %s: got %d bytes, want %d", e.name, ways[j].url, n, want)
			}
			if i > 0 {
				got[j] = append(got[j], float64(n)/1e6/d.Seconds())
			}
		}
	}
	var ratio, mapped []float64
	for i := range got[0] {
		ratio = append(ratio, got[1][i]/got[0][i])
		mapped = append(mapped, got[2][i]/got[0][i])
	}
	return rates{direct: median(got[0]), published: median(got[1]), ratio: median(ratio), mappedRatio: median(mapped)}, nil
}

// fetch GETs url over a new connection (made by dial if not nil) and
// reads the body.
func fetch(url string, dial func(ctx context.Context, network, addr string) (net.Conn, error)) (int64, time.Duration, error) {
	c := http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, DisableCompression: true, DialContext: dial}}
	t0 := time.Now()
	resp, err := c.Get(url)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	// io.Discard would read through its own 8 KiB buffer (it is an
	// io.ReaderFrom): hide that, so the client reads 256 KiB at a time
	// and is not what limits the rate
	n, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, resp.Body, make([]byte, 256<<10))
	return n, time.Since(t0), err
}

// dialMapped connects an IPv6 socket to ::ffff:127.0.0.1:port (Go's net
// package would make an IPv4 socket for it).
func dialMapped(_ context.Context, port string) (net.Conn, error) {
	p, err := strconv.Atoi(port)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "tcp6")
	defer f.Close()
	if err := unix.Connect(fd, &unix.SockaddrInet6{Port: p, Addr: netip.MustParseAddr("::ffff:127.0.0.1").As16()}); err != nil {
		return nil, fmt.Errorf("connect [::ffff:127.0.0.1]:%d: %w", p, err)
	}
	return net.FileConn(f)
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
