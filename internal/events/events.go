// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package events is the daemon's event bus: services publish what they did
// (container start, image pull …) as Engine API event messages; the
// /events endpoint subscribes, replaying the recent past for "since".
package events

import (
	"sync"
	"time"

	"github.com/moby/moby/api/types/events"
)

// keep is how many past events are kept for replay.
const keep = 1024

// Bus delivers events to subscribers. The zero value is not usable; call New.
type Bus struct {
	mu   sync.Mutex
	past []events.Message
	subs map[chan events.Message]struct{}
}

// New returns an empty bus.
func New() *Bus {
	return &Bus{subs: map[chan events.Message]struct{}{}}
}

// Publish records and delivers an event of typ with action on the object
// id with attrs. A subscriber too slow to take it misses it rather than
// stalling the daemon.
func (b *Bus) Publish(typ events.Type, action events.Action, id string, attrs map[string]string) {
	now := time.Now().UTC()
	m := events.Message{
		Type:     typ,
		Action:   action,
		Actor:    events.Actor{ID: id, Attributes: attrs},
		Scope:    "local",
		Time:     now.Unix(),
		TimeNano: now.UnixNano(),
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	// The oldest go in batches: trimming to keep at every event once
	// there were more copied all of them twice per event (a new slice,
	// then the append that outgrew it), some 200 KB a container start.
	b.past = append(b.past, m)
	if len(b.past) >= 2*keep {
		n := copy(b.past, b.past[len(b.past)-keep:])
		clear(b.past[n:])
		b.past = b.past[:n]
	}
	for ch := range b.subs {
		select {
		case ch <- m:
		default:
		}
	}
}

// Subscribe returns the kept events at or after since (none for a zero
// since) and a channel of those to come; cancel ends the subscription.
func (b *Bus) Subscribe(since time.Time) (past []events.Message, ch <-chan events.Message, cancel func()) {
	c := make(chan events.Message, 256)
	b.mu.Lock()
	if !since.IsZero() {
		for _, m := range b.kept() {
			if m.TimeNano >= since.UnixNano() {
				past = append(past, m)
			}
		}
	}
	b.subs[c] = struct{}{}
	b.mu.Unlock()
	return past, c, func() {
		b.mu.Lock()
		delete(b.subs, c)
		b.mu.Unlock()
	}
}

// kept is the last keep events. The caller holds b.mu.
func (b *Bus) kept() []events.Message {
	return b.past[max(0, len(b.past)-keep):]
}
