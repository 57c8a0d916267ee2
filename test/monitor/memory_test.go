// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package monitor_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/monitor"
	"gotest.tools/v3/assert"
	"gotest.tools/v3/poll"
)

// BenchmarkIdleMemory measures the monitor's memory with no containers
// and with 100 idle ones (`sleep`, each with a json-file log), and
// reports the monitor's cost per container (Rss and Pss from
// /proc/PID/smaps_rollup). Run with:
//
//	go test ./test/monitor -run - -bench IdleMemory -benchtime 1x
func BenchmarkIdleMemory(b *testing.B) {
	const n = 100
	for range b.N {
		e := newEnv(b)
		settle := func() (rss, pss, anon float64) {
			// Let the monitor's heap settle (pooled buffers are freed
			// after two collections; the runtime returns memory in the
			// background).
			time.Sleep(3 * time.Second)
			return smapsAnon(b, e.monPid)
		}
		rss0, pss0, anon0 := settle()
		logs := b.TempDir()
		var pids []int
		for i := range n {
			id := fmt.Sprintf("idle%d", i)
			pids = append(pids, e.create(monitor.Config{ID: id, LogPath: filepath.Join(logs, id+".log")}, "echo started; exec sleep 1000"))
			assert.NilError(b, e.rt.Start(id))
		}
		poll.WaitOn(b, func(poll.LogT) poll.Result {
			data, _ := os.ReadFile(filepath.Join(logs, fmt.Sprintf("idle%d.log", n-1)))
			if strings.Contains(string(data), "started") {
				return poll.Success()
			}
			return poll.Continue("last container has not started")
		})
		rss1, pss1, anon1 := settle()
		var cPss float64
		for _, pid := range pids {
			_, p := smaps(b, pid)
			cPss += p
		}
		b.ReportMetric(rss0, "monitor-rss-MiB-idle")
		b.ReportMetric(pss0, "monitor-pss-MiB-idle")
		b.ReportMetric(rss1, "monitor-rss-MiB-100")
		b.ReportMetric(pss1, "monitor-pss-MiB-100")
		b.ReportMetric((rss1-rss0)/n, "monitor-rss-MiB/ctr")
		b.ReportMetric((pss1-pss0)/n, "monitor-pss-MiB/ctr")
		b.ReportMetric(anon0, "monitor-anon-MiB-idle")
		b.ReportMetric((anon1-anon0)/n, "monitor-anon-MiB/ctr")
		// Each test bundle has its own copy of busybox, so this is more
		// than containers of one image would cost.
		b.ReportMetric(cPss/n, "sleep-pss-MiB/ctr")
		e.stopMonitor()
	}
}

// smaps returns a process's Rss and Pss in MiB.
func smaps(b *testing.B, pid int) (rss, pss float64) {
	rss, pss, _ = smapsAnon(b, pid)
	return rss, pss
}

// smapsAnon also returns the anonymous (private, not file-backed) memory.
func smapsAnon(b *testing.B, pid int) (rss, pss, anon float64) {
	b.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	assert.NilError(b, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, err := strconv.ParseFloat(fields[1], 64)
		if err != nil {
			continue
		}
		switch fields[0] {
		case "Rss:":
			rss = kb / 1024
		case "Pss:":
			pss = kb / 1024
		case "Anonymous:":
			anon = kb / 1024
		}
	}
	return rss, pss, anon
}
