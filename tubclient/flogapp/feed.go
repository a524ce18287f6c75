package flogapp

import (
	"sync"
	"sync/atomic"

	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// hub fans reconstructed events out to subscribers. Publishing never
// blocks: each subscriber has a bounded ring, and when it is full the
// oldest event is dropped and counted, as a live tub's subscriptions do.
type hub struct {
	mu   sync.Mutex
	subs map[*Feed]struct{}
}

// Feed is one subscriber's bounded queue of a watched tub's events.
type Feed struct {
	h       *hub
	mu      sync.Mutex
	ring    []snapshot.Event
	head    int // the oldest event
	n       int // events queued
	changed chan struct{}
	dropped atomic.Uint64
	closed  bool
}

func (h *hub) subscribe(capacity int) *Feed {
	f := &Feed{h: h, ring: make([]snapshot.Event, max(capacity, 1)), changed: make(chan struct{}, 1)}
	h.mu.Lock()
	if h.subs == nil {
		h.subs = make(map[*Feed]struct{})
	}
	h.subs[f] = struct{}{}
	h.mu.Unlock()
	return f
}

// publish copies evs into every subscriber's ring.
func (h *hub) publish(evs []snapshot.Event) {
	if len(evs) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for f := range h.subs {
		f.push(evs)
	}
}

func (f *Feed) push(evs []snapshot.Event) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	for _, ev := range evs {
		if f.n == len(f.ring) {
			f.head = (f.head + 1) % len(f.ring)
			f.n--
			f.dropped.Add(1)
		}
		f.ring[(f.head+f.n)%len(f.ring)] = ev
		f.n++
	}
	f.mu.Unlock()
	select {
	case f.changed <- struct{}{}:
	default:
	}
}

// Changed is signalled (one slot, coalescing) whenever events are queued.
func (f *Feed) Changed() <-chan struct{} { return f.changed }

// Drain removes and returns up to max queued events, oldest first; max
// <= 0 takes them all.
func (f *Feed) Drain(max int) []snapshot.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	if max <= 0 || max > f.n {
		max = f.n
	}
	out := make([]snapshot.Event, max)
	for i := range out {
		j := (f.head + i) % len(f.ring)
		out[i], f.ring[j] = f.ring[j], snapshot.Event{}
	}
	f.head = (f.head + max) % len(f.ring)
	f.n -= max
	return out
}

// Dropped counts events lost because the queue was full.
func (f *Feed) Dropped() uint64 { return f.dropped.Load() }

// Close unsubscribes; it is idempotent.
func (f *Feed) Close() {
	f.h.mu.Lock()
	delete(f.h.subs, f)
	f.h.mu.Unlock()
	f.mu.Lock()
	f.closed = true
	clear(f.ring)
	f.n = 0
	f.mu.Unlock()
}
