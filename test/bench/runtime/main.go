// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Command runtime compares berth's OCI runtime with Debian's runc on the
// same busybox bundle, whose process runs `true`, and prints the median
// time of each workload, the ratio runc/berth and the target.
//
// Workloads, the same commands for every runtime:
//
//	lifecycle: create --bundle B id; start id; state id until "stopped"; delete id
//	engine:    create --bundle B --pid-file P id; start id; wait4(P); delete id —
//	           what an engine such as containerd's shim does: as the child
//	           subreaper it waits for the container's init instead of polling
//	run:       run --bundle B id (waits for the process and deletes it);
//	           then, untimed, delete --force id in case it is still there
//
// Iterations are interleaved (berth, runc, runc, berth, ...) so that a
// slow moment of the machine hits both. Run it as root from the
// repository root (make bench).
//
// runc's create returns once the container's init is set up, and that
// init is then reparented to the nearest child subreaper. The benchmark
// makes itself one and reaps between commands, so exited inits do not
// pile up as zombies (runc reports a zombie init as stopped).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/runtime"
	"github.com/berth-project/berth/internal/testutil"
)

func main() {
	n := flag.Int("n", 30, "iterations per workload and runtime")
	berth := flag.String("berth", "bin/berth-runc", "berth's runc-compatible runtime")
	runc := flag.String("runc", "runc", "runc binary (skipped if not found)")
	mkrootfs := flag.String("mkbusybox", "hack/mkbusybox.sh", "script that makes the busybox rootfs")
	flag.Parse()
	if err := run(*n, *berth, *runc, *mkrootfs); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// workload is one measured sequence of runtime commands, and what to do
// afterwards, untimed.
type workload struct {
	name  string
	do    func(rt *runtimeCmd, id string) error
	after func(rt *runtimeCmd, id string)
}

// cgroupParent holds the containers' cgroups (one at a time).
var cgroupParent = fmt.Sprintf("/berth-bench-%d", os.Getpid())

var workloads = []workload{
	{"create+start+wait+delete", lifecycle, nil},
	{"same, waiting as a subreaper", engine, nil},
	{"run", runOnly, forceDelete},
}

func run(n int, berthPath, runcPath, mkrootfs string) error {
	if os.Geteuid() != 0 {
		return errors.New("must run as root")
	}
	// See the package comment: exited container inits come to us.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl PR_SET_CHILD_SUBREAPER: %w", err)
	}
	tmp, err := os.MkdirTemp("", "berth-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	defer testutil.RemoveCgroup(cgroupParent)

	bundle := filepath.Join(tmp, "bundle")
	if err := makeBundle(bundle, mkrootfs); err != nil {
		return err
	}

	var rts []*runtimeCmd
	for _, c := range []struct{ name, path string }{{"berth", berthPath}, {"runc", runcPath}} {
		rt := &runtimeCmd{name: c.name, bundle: bundle, root: filepath.Join(tmp, "root-"+c.name)}
		rt.results = make([][]time.Duration, len(workloads))
		rt.log, err = os.OpenFile(filepath.Join(tmp, c.name+".log"), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		defer rt.log.Close()
		if p, err := exec.LookPath(c.path); err != nil {
			rt.err = fmt.Errorf("not found: %w", err)
		} else {
			rt.path, _ = filepath.Abs(p)
		}
		rts = append(rts, rt)
	}
	defer func() {
		for _, rt := range rts {
			rt.cleanup()
		}
	}()

	// One untimed round warms the page cache and catches a broken runtime
	// before the timed rounds.
	for i := -1; i < n; i++ {
		for w, wl := range workloads {
			order := slices.Clone(rts)
			if i%2 != 0 {
				slices.Reverse(order)
			}
			for _, rt := range order {
				if rt.err != nil {
					continue
				}
				id := fmt.Sprintf("bench-%d-%s-%d-%d", os.Getpid(), rt.name, w, i+1)
				start := time.Now()
				err := wl.do(rt, id)
				d := time.Since(start)
				if wl.after != nil {
					wl.after(rt, id)
				}
				reap()
				if err != nil {
					rt.err = fmt.Errorf("%s: %w", wl.name, err)
					continue
				}
				if i >= 0 {
					rt.results[w] = append(rt.results[w], d)
				}
			}
		}
	}

	fmt.Printf("runtime benchmark: busybox bundle running `true`, %d interleaved iterations, medians\n", n)
	for _, rt := range rts {
		if rt.err != nil {
			fmt.Printf("  %s (%s): n/a: %v\n", rt.name, rt.path, rt.err)
		} else {
			fmt.Printf("  %s: %s\n", rt.name, rt.path)
		}
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tberth ms\trunc ms\trunc/berth\ttarget\t")
	for w, wl := range workloads {
		b, r := rts[0].median(w), rts[1].median(w)
		ratio := "n/a"
		if b > 0 && r > 0 {
			ratio = fmt.Sprintf("%.2fx", float64(r)/float64(b))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", wl.name, ms(b), ms(r), ratio, "≥2x")
	}
	return tw.Flush()
}

// makeBundle writes a busybox rootfs and a config.json that runs `true`.
func makeBundle(bundle, mkrootfs string) error {
	out, err := exec.Command("bash", mkrootfs, filepath.Join(bundle, "rootfs")).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", mkrootfs, err, out)
	}
	spec := runtime.DefaultSpec()
	spec.Process.Terminal = false
	spec.Process.Args = []string{"true"}
	// A cgroup parent of the benchmark's own, removed at the end.
	spec.Linux.CgroupsPath = cgroupParent + "/c"
	data, err := json.MarshalIndent(spec, "", "\t")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o644)
}

// reap collects every exited child without blocking. It runs only between
// commands, when no exec.Cmd is waiting, so it cannot steal their status.
func reap() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}

func ms(d time.Duration) string {
	if d <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000)
}

func lifecycle(rt *runtimeCmd, id string) error {
	if _, err := rt.cmd("create", "--bundle", rt.bundle, id); err != nil {
		return err
	}
	if _, err := rt.cmd("start", id); err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		reap()
		status, err := rt.status(id)
		if err != nil {
			return err
		}
		if status == "stopped" {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: still %q after 10s", id, status)
		}
		time.Sleep(200 * time.Microsecond)
	}
	_, err := rt.cmd("delete", id)
	return err
}

// engine waits for the container's init as its subreaper, with wait4(2),
// instead of asking the runtime for the state.
func engine(rt *runtimeCmd, id string) error {
	pidFile := filepath.Join(rt.root, id+".pid")
	defer os.Remove(pidFile)
	if _, err := rt.cmd("create", "--bundle", rt.bundle, "--pid-file", pidFile, id); err != nil {
		return err
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return err
	}
	var pid int
	if _, err := fmt.Sscan(string(data), &pid); err != nil {
		return fmt.Errorf("pid file: %w", err)
	}
	if _, err := rt.cmd("start", id); err != nil {
		return err
	}
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("wait for %d: %w", pid, err)
		}
		break
	}
	_, err = rt.cmd("delete", id)
	return err
}

func runOnly(rt *runtimeCmd, id string) error {
	_, err := rt.cmd("run", "--bundle", rt.bundle, id)
	return err
}

// forceDelete removes what run may leave behind. runc's run deletes the
// container itself, so this normally fails, and that is fine.
func forceDelete(rt *runtimeCmd, id string) {
	rt.cmd("delete", "--force", id)
}
