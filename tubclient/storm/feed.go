package storm

import (
	"sync"
	"sync/atomic"

	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// Feed is one subscriber's bounded queue of a Source's events. Pushing
// never blocks: when the queue is full the oldest event is dropped and
// counted.
type Feed struct {
	src     *Source
	mu      sync.Mutex
	ring    []snapshot.Event
	head, n int
	changed chan struct{}
	dropped atomic.Uint64
	closed  bool
}

func newFeed(src *Source, capacity int) *Feed {
	return &Feed{src: src, ring: make([]snapshot.Event, max(capacity, 1)), changed: make(chan struct{}, 1)}
}

func (f *Feed) push(ev snapshot.Event) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	if f.n == len(f.ring) {
		f.head = (f.head + 1) % len(f.ring)
		f.n--
		f.dropped.Add(1)
	}
	f.ring[(f.head+f.n)%len(f.ring)] = ev
	f.n++
	f.mu.Unlock()
	select {
	case f.changed <- struct{}{}:
	default:
	}
}

// Changed is signalled (one slot, coalescing) when events are queued.
func (f *Feed) Changed() <-chan struct{} { return f.changed }

// Drain removes and returns up to max queued events (all when max ≤ 0),
// oldest first.
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

// Dropped counts events lost to a full queue.
func (f *Feed) Dropped() uint64 { return f.dropped.Load() }

// Close unsubscribes.
func (f *Feed) Close() {
	f.src.unsubscribe(f)
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
}
