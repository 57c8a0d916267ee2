// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

const (
	concurrent = 20  // containers run at once in the concurrency row
	psSmall    = 100 // containers listed by ps -a
	psLarge    = 1000
	idle       = 100 // idle containers in the memory row
	// sh runs a trap as soon as the signal interrupts the wait builtin
	// (not only when a foreground sleep ends), so the container exits the
	// moment TERM arrives and the figure is the engine's own.
	stopCommand = `trap "exit 0" TERM; sleep 1000 & wait`
)

// row is one line of the CLI table: a value per iteration and client.
type row struct {
	name, target string
	rate         bool // containers/s (more is better), else milliseconds
	op           func(ctx context.Context, c *cli) (float64, error)
	vals         map[*cli][]float64
	errs         map[*cli]error
}

// bench holds the clients, the engines and what was measured.
type bench struct {
	n       int
	clis    []*cli
	engines []*engine
	rows    []*row
	steps   map[*engine]*[len(stepNames)][]float64 // run --rm through the API
	stepErr map[*engine]error
	mem     map[*engine]*memory
	notes   []string
}

var stepNames = [...]string{"create", "start", "wait for exit", "remove", "total"}

// memory is the growth per idle container, MiB.
type memory struct {
	pss    float64 // the engine's processes
	host   float64 // MemTotal - MemAvailable
	shmem  float64 // Shmem
	kernel float64 // Slab + PageTables + KernelStack
	err    error
}

func (b *bench) all(ctx context.Context) error {
	// Phase 1: single operations.
	execIDs := map[*engine]string{}
	for _, e := range b.engines {
		id, err := e.runDetached(ctx, "sleep", "100000")
		if err != nil {
			return err
		}
		execIDs[e] = id
	}
	rows := []*row{
		{name: "run --rm busybox true ¹", target: "≤ 25 ms", op: func(ctx context.Context, c *cli) (float64, error) {
			return ms(c.cmd(ctx, c.runArgs(false, "true")...))
		}},
		{name: "run --rm --network none busybox true", target: "≤ 12 ms", op: func(ctx context.Context, c *cli) (float64, error) {
			return ms(c.cmd(ctx, c.runArgs(true, "true")...))
		}},
		{name: "create", target: "≤ 5 ms", op: func(ctx context.Context, c *cli) (float64, error) {
			args := []string{"create"}
			if c.eng.forceNone {
				args = append(args, "--network", "none")
			}
			d, out, err := c.cmd(ctx, append(args, imageRef, "true")...)
			if id := strings.TrimSpace(out); id != "" {
				if rerr := c.eng.remove(context.WithoutCancel(ctx), id); err == nil {
					err = rerr
				}
			}
			return ms(d, out, err)
		}},
		{name: "start (of a created `true`)", target: "", op: func(ctx context.Context, c *cli) (float64, error) {
			id, err := c.eng.create(ctx, "true")
			if err != nil {
				return 0, err
			}
			defer c.eng.remove(context.WithoutCancel(ctx), id)
			return ms(c.cmd(ctx, "start", id))
		}},
		{name: "exec true (running container)", target: "≤ 8 ms", op: func(ctx context.Context, c *cli) (float64, error) {
			return ms(c.cmd(ctx, "exec", execIDs[c.eng], "true"))
		}},
		{name: "stop -t 1 (exits on TERM)", target: "≤ 15 ms", op: func(ctx context.Context, c *cli) (float64, error) {
			id, err := c.eng.runDetached(ctx, "sh", "-c", stopCommand)
			if err != nil {
				return 0, err
			}
			defer c.eng.remove(context.WithoutCancel(ctx), id)
			// Let sh set its trap (without it, TERM to a pid 1 does
			// nothing).
			time.Sleep(100 * time.Millisecond)
			return ms(c.cmd(ctx, "stop", "-t", "1", id))
		}},
	}
	progress("single operations")
	if err := b.interleave(ctx, rows, true); err != nil {
		return err
	}
	for _, e := range b.engines {
		if err := b.leftovers(ctx, e, 1, "the single-operation rows"); err != nil {
			return err
		}
		if err := e.removeAll(ctx); err != nil {
			return err
		}
	}

	progress("run --rm steps through the API")
	if err := b.apiSteps(ctx); err != nil {
		return err
	}

	progress("%d concurrent runs", concurrent)
	conc := &row{name: fmt.Sprintf("%d concurrent run --rm true ¹", concurrent), target: "≥ 60 /s", rate: true,
		op: func(ctx context.Context, c *cli) (float64, error) {
			var wg sync.WaitGroup
			errs := make([]error, concurrent)
			start := time.Now()
			for i := range concurrent {
				wg.Go(func() { _, _, errs[i] = c.cmd(ctx, c.runArgs(false, "true")...) })
			}
			wg.Wait()
			d := time.Since(start)
			if err := firstErr(errs); err != nil {
				return 0, err
			}
			return concurrent / d.Seconds(), nil
		}}
	if err := b.interleave(ctx, []*row{conc}, false); err != nil {
		return err
	}
	for _, e := range b.engines {
		if err := b.leftovers(ctx, e, 0, "the concurrent runs"); err != nil {
			return err
		}
	}

	b.mem = map[*engine]*memory{}
	for _, e := range b.engines {
		progress("%s: memory of %d idle containers", e.name, idle)
		m := e.memory(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		b.mem[e] = m
		if err := e.removeAll(ctx); err != nil {
			return err
		}
	}

	for _, count := range []int{psSmall, psLarge} {
		progress("ps -a with %d containers", count)
		for _, e := range b.engines {
			if err := e.populate(ctx, count); err != nil {
				return err
			}
		}
		target := "≤ 10 ms"
		if count != psSmall {
			target = "none"
		}
		ps := &row{name: fmt.Sprintf("ps -a, %d containers ²", count), target: target,
			op: func(ctx context.Context, c *cli) (float64, error) { return ms(c.cmd(ctx, "ps", "-a")) }}
		if err := b.interleave(ctx, []*row{ps}, true); err != nil {
			return err
		}
	}
	for _, e := range b.engines {
		if err := e.removeAll(ctx); err != nil {
			return err
		}
	}

	return nil
}

func ms(d time.Duration, _ string, err error) (float64, error) {
	return float64(d.Microseconds()) / 1000, err
}

func firstErr(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// interleave runs every row n times for every client (after a warm-up
// round when warm is set), the clients in one order and then the reverse.
func (b *bench) interleave(ctx context.Context, rows []*row, warm bool) error {
	b.rows = append(b.rows, rows...)
	for _, r := range rows {
		r.vals, r.errs = map[*cli][]float64{}, map[*cli]error{}
	}
	first := 0
	if warm {
		first = -1
	}
	for i := first; i < b.n; i++ {
		for _, r := range rows {
			order := slices.Clone(b.clis)
			if i%2 != 0 {
				slices.Reverse(order)
			}
			for _, c := range order {
				if r.errs[c] != nil {
					continue
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				v, err := r.op(ctx, c)
				if err != nil {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					r.errs[c] = err
					continue
				}
				if i >= 0 {
					r.vals[c] = append(r.vals[c], v)
				}
			}
		}
	}
	return nil
}

// leftovers notes containers that should have gone (run --rm).
func (b *bench) leftovers(ctx context.Context, e *engine, want int, after string) error {
	l, err := e.api.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		return fmt.Errorf("%s: list: %w", e.name, err)
	}
	if len(l.Items) != want {
		b.notes = append(b.notes, fmt.Sprintf("%s: %d containers left after %s, %d expected", e.name, len(l.Items), after, want))
	}
	return nil
}

// populate creates containers (not started) until the engine has count.
func (e *engine) populate(ctx context.Context, count int) error {
	l, err := e.api.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		return fmt.Errorf("%s: list: %w", e.name, err)
	}
	return parallel(ctx, count-len(l.Items), 8, func(int) error {
		_, err := e.create(ctx, "true")
		return err
	})
}

// apiSteps times the steps of run --rm --network none through the API.
func (b *bench) apiSteps(ctx context.Context) error {
	b.steps = map[*engine]*[len(stepNames)][]float64{}
	b.stepErr = map[*engine]error{}
	for _, e := range b.engines {
		b.steps[e] = new([len(stepNames)][]float64)
	}
	for i := -1; i < b.n; i++ {
		order := slices.Clone(b.engines)
		if i%2 != 0 {
			slices.Reverse(order)
		}
		for _, e := range order {
			if b.stepErr[e] != nil {
				continue
			}
			s, err := e.runSteps(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				b.stepErr[e] = err
				continue
			}
			if i >= 0 {
				for k, v := range s {
					b.steps[e][k] = append(b.steps[e][k], v)
				}
			}
		}
	}
	return nil
}

// runSteps does what `docker run --rm` does, minus attaching: create,
// wait (next-exit) registered before start, start, the exit, remove.
func (e *engine) runSteps(ctx context.Context) ([len(stepNames)]float64, error) {
	var s [len(stepNames)]float64
	t0 := time.Now()
	r, err := e.api.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config:     &container.Config{Image: imageRef, Cmd: []string{"true"}},
		HostConfig: &container.HostConfig{NetworkMode: "none"},
	})
	if err != nil {
		return s, fmt.Errorf("create: %w", err)
	}
	t1 := time.Now()
	defer e.remove(context.WithoutCancel(ctx), r.ID)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := e.api.ContainerWait(wctx, r.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	t2 := time.Now()
	if _, err := e.api.ContainerStart(ctx, r.ID, client.ContainerStartOptions{}); err != nil {
		return s, fmt.Errorf("start: %w", err)
	}
	t3 := time.Now()
	select {
	case res := <-w.Result:
		if res.Error != nil {
			return s, fmt.Errorf("wait: %s", res.Error.Message)
		}
	case err := <-w.Error:
		return s, fmt.Errorf("wait: %w", err)
	}
	t4 := time.Now()
	if err := e.remove(ctx, r.ID); err != nil {
		return s, err
	}
	t5 := time.Now()
	msOf := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	s = [len(stepNames)]float64{msOf(t1.Sub(t0)), msOf(t3.Sub(t2)), msOf(t4.Sub(t3)), msOf(t5.Sub(t4)), msOf(t5.Sub(t2) + t1.Sub(t0))}
	return s, nil
}

// memory measures the growth of the engine's processes' Pss and of the
// host's used memory from no container to idle running ones.
func (e *engine) memory(ctx context.Context) *memory {
	m := &memory{}
	settle := func() (pss int64, host [3]int64, err error) {
		time.Sleep(2 * time.Second)
		if pss, err = e.pss(); err != nil {
			return 0, host, err
		}
		host, err = hostMemory()
		return pss, host, err
	}
	pss0, host0, err := settle()
	if err != nil {
		m.err = err
		return m
	}
	err = parallel(ctx, idle, 4, func(int) error {
		_, err := e.runDetached(ctx, "sleep", "100000")
		return err
	})
	if err != nil {
		m.err = err
		return m
	}
	pss1, host1, err := settle()
	if err != nil {
		m.err = err
		return m
	}
	per := func(a, b int64) float64 { return float64(b-a) / idle / (1 << 20) }
	m.pss = per(pss0, pss1)
	m.host = per(host0[0], host1[0])
	m.shmem = per(host0[1], host1[1])
	m.kernel = per(host0[2], host1[2])
	return m
}
