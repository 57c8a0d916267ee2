// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package main

import (
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/berth-project/berth/internal/testutil"
)

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

// ratio is how far berth is ahead: Docker's figure over berth's, or
// berth's over Docker's for rates.
func ratio(berth, docker float64, rate bool) string {
	if berth <= 0 || docker <= 0 {
		return "n/a"
	}
	if rate {
		return fmt.Sprintf("%.2fx", berth/docker)
	}
	return fmt.Sprintf("%.2fx", docker/berth)
}

func (b *bench) print(w io.Writer, dockerCLIVersion string, dockerErr error) {
	dockerd := "Docker: n/a"
	if out, err := exec.Command(testutil.DockerdPath, "--version").Output(); err == nil {
		dockerd = strings.TrimSpace(string(out))
	}
	if dockerErr != nil {
		dockerd = "docker: " + dockerErr.Error()
	}
	fmt.Fprintf(w, "daemon benchmark: busybox, medians of %d interleaved iterations per client (after a warm-up round)\n", b.n)
	fmt.Fprintf(w, "clients: berth CLI; docker CLI %s against both daemons; %s (private dockerd, --bridge none)\n",
		strings.TrimSpace(dockerCLIVersion), dockerd)

	// columns: the three clients (the third may be missing)
	byLabel := map[string]*cli{}
	for _, c := range b.clis {
		byLabel[c.label] = c
	}
	labels := []string{"berth CLI→berth", "docker CLI→berth", "docker CLI→dockerd"}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "workload\t%s\tratio\tratio same CLI\ttarget\t\n", strings.Join(labels, "\t"))
	var errs []string
	for _, r := range b.rows {
		fig := make([]float64, len(labels))
		cells := make([]string, len(labels))
		for i, l := range labels {
			c := byLabel[l]
			switch {
			case c == nil:
				cells[i] = "n/a"
			case r.errs[c] != nil:
				cells[i] = "error"
				errs = append(errs, fmt.Sprintf("%s, %s: %v", r.name, l, r.errs[c]))
			default:
				fig[i] = median(r.vals[c])
				if r.rate {
					cells[i] = fmt.Sprintf("%.1f /s", fig[i])
				} else {
					cells[i] = fmt.Sprintf("%.1f ms", fig[i])
				}
			}
		}
		target := r.target
		if target == "" {
			target = "none"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", r.name, strings.Join(cells, "\t"),
			ratio(fig[0], fig[2], r.rate), ratio(fig[1], fig[2], r.rate), target)
	}
	tw.Flush()
	fmt.Fprintln(w, "ratio: Docker's figure ÷ berth's (for /s berth's ÷ Docker's), above 1 means berth is ahead; \"ratio\" takes berth through its own CLI, \"ratio same CLI\" through the docker CLI")
	fmt.Fprintln(w, "¹ berth runs on its default bridge; Docker runs with --network none in both run rows (--bridge none leaves it no bridge; test/bench/network compares bridges)")
	fmt.Fprintln(w, "² containers created, not started; made through the API")
	fmt.Fprintln(w, "stop: the container is `sh -c 'trap \"exit 0\" TERM; sleep 1000 & wait'`, which exits as soon as TERM arrives")

	fmt.Fprintln(w)
	fmt.Fprintln(w, "run --rm --network none busybox true through the Engine API (Go SDK, no CLI, no attach), median ms per step")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "step\tberth\tdocker\tratio\t")
	for k, name := range stepNames {
		var fig [2]float64
		var cells [2]string
		for i := range cells {
			cells[i] = "n/a"
			if i >= len(b.engines) {
				continue
			}
			e := b.engines[i]
			if err := b.stepErr[e]; err != nil {
				cells[i] = "error"
				if k == 0 {
					errs = append(errs, fmt.Sprintf("API run steps, %s: %v", e.name, err))
				}
				continue
			}
			fig[i] = median(b.steps[e][k])
			cells[i] = fmt.Sprintf("%.1f", fig[i])
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", name, cells[0], cells[1], ratio(fig[0], fig[1], false))
	}
	tw.Flush()
	fmt.Fprintln(w, "total: create + start + wait for exit + remove (the medians of each step need not add up to it)")

	fmt.Fprintln(w)
	fmt.Fprintf(w, "host memory per idle running container (%d × busybox sleep), MiB\n", idle)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "measure\tberth\tdocker\tratio\ttarget\t")
	for k, name := range []string{"engine processes' Pss growth ³", "host used memory growth ⁴", "  of which Shmem", "  of which kernel (Slab, page tables, stacks)"} {
		var fig [2]float64
		var cells [2]string
		for i := range cells {
			cells[i] = "n/a"
			if i >= len(b.engines) {
				continue
			}
			e := b.engines[i]
			m := b.mem[e]
			if m == nil || m.err != nil {
				cells[i] = "error"
				if m != nil && k == 0 {
					errs = append(errs, fmt.Sprintf("memory, %s: %v", e.name, m.err))
				}
				continue
			}
			fig[i] = [...]float64{m.pss, m.host, m.shmem, m.kernel}[k]
			cells[i] = fmt.Sprintf("%.3f", fig[i])
		}
		target := "≤ 0.25 MiB"
		if k > 0 {
			target = "none"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", name, cells[0], cells[1], ratio(fig[0], fig[1], false), target)
	}
	tw.Flush()
	fmt.Fprintf(w, "³ the target compares this: growth of the summed Pss (smaps_rollup) from 0 to %d containers ÷ %d; berth: daemon + monitor; docker: dockerd + containerd + every containerd-shim-runc-v2\n", idle, idle)
	fmt.Fprintln(w, "⁴ growth of MemTotal − MemAvailable ÷ containers: includes the containers' own processes and the kernel's share (namespaces, cgroups, mounts); noisy when the host is busy")

	for _, c := range b.clis {
		for note, count := range c.notes {
			b.notes = append(b.notes, fmt.Sprintf("%s wrote to stderr (%d×, command succeeded): %s", c.label, count, note))
		}
	}
	if len(errs)+len(b.notes) > 0 {
		fmt.Fprintln(w)
	}
	for _, e := range errs {
		fmt.Fprintln(w, "error:", e)
	}
	slices.Sort(b.notes)
	for _, n := range b.notes {
		fmt.Fprintln(w, "note:", n)
	}
}
