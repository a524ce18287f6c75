package replay

import (
	"sync"
	"sync/atomic"

	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// hub fans reconstructed events out to subscribers. Publishing never
// blocks: each subscriber has a bounded ring, and when it is full the
// oldest event is dropped and counted (the same contract as a live tub's
// subscriptions).
type hub struct {
	mu   sync.Mutex
	subs map[*Subscription]struct{}
}

// Subscription is one subscriber's bounded event queue.
type Subscription struct {
	h       *hub
	mu      sync.Mutex
	ring    []snapshot.Event
	head    int // index of the oldest event
	n       int // events queued
	changed chan struct{}
	dropped atomic.Uint64
	closed  bool
}

func (h *hub) subscribe(capacity int) *Subscription {
	capacity = max(capacity, 1)
	s := &Subscription{h: h, ring: make([]snapshot.Event, capacity), changed: make(chan struct{}, 1)}
	h.mu.Lock()
	if h.subs == nil {
		h.subs = make(map[*Subscription]struct{})
	}
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	return s
}

func (h *hub) publish(evs []snapshot.Event) {
	if len(evs) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		s.push(evs)
	}
}

func (s *Subscription) push(evs []snapshot.Event) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	for _, ev := range evs {
		if s.n == len(s.ring) {
			s.head = (s.head + 1) % len(s.ring)
			s.n--
			s.dropped.Add(1)
		}
		s.ring[(s.head+s.n)%len(s.ring)] = ev
		s.n++
	}
	s.mu.Unlock()
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// Changed is signalled (one slot, coalescing) whenever events are queued.
func (s *Subscription) Changed() <-chan struct{} { return s.changed }

// Drain removes and returns up to max queued events, oldest first; max
// <= 0 takes them all.
func (s *Subscription) Drain(max int) []snapshot.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	if max <= 0 || max > s.n {
		max = s.n
	}
	out := make([]snapshot.Event, max)
	for i := range out {
		out[i] = s.ring[(s.head+i)%len(s.ring)]
		s.ring[(s.head+i)%len(s.ring)] = snapshot.Event{}
	}
	s.head = (s.head + max) % len(s.ring)
	s.n -= max
	return out
}

// Dropped counts events lost because the queue was full.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close unsubscribes; it is idempotent.
func (s *Subscription) Close() {
	s.h.mu.Lock()
	delete(s.h.subs, s)
	s.h.mu.Unlock()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}
