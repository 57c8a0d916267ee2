// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package events

import (
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
	"gotest.tools/v3/assert"
)

// TestKept publishes many more events than are kept: a subscriber from
// the beginning gets exactly the last keep, in order, and publishing
// costs no more than the event itself.
func TestKept(t *testing.T) {
	b := New()
	start := time.Now().Add(-time.Second)
	for i := range 5*keep + 7 {
		b.Publish(events.ContainerEventType, events.ActionStart, strconv.Itoa(i), nil)
	}
	past, _, cancel := b.Subscribe(start)
	defer cancel()
	assert.Equal(t, len(past), keep)
	for i, m := range past {
		assert.Equal(t, m.Actor.ID, strconv.Itoa(4*keep+7+i))
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const n = 10 * keep
	for range n {
		b.Publish(events.ContainerEventType, events.ActionDie, "x", nil)
	}
	runtime.ReadMemStats(&after)
	perEvent := (after.TotalAlloc - before.TotalAlloc) / n
	assert.Assert(t, perEvent < 1024, "%d bytes allocated per event", perEvent)
}
