// Package feed fans events out to subscribers without ever blocking the
// publisher: each subscriber has a bounded ring, and when it is full the
// oldest event is dropped and counted, so a slow reader loses history,
// visibly, and the source never waits on it. A live tub, a replay, a
// watched logport and a storm all publish this way.
package feed

import (
	"sync"
	"sync/atomic"

	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// Hub is a set of subscriptions; the zero value is ready to use.
type Hub struct {
	mu   sync.Mutex
	subs map[*Subscription]struct{}
}

// Subscription is one subscriber's bounded event queue.
type Subscription struct {
	h       *Hub
	mu      sync.Mutex
	ring    []snapshot.Event
	head    int // index of the oldest event
	n       int // events queued
	changed chan struct{}
	dropped atomic.Uint64
	closed  bool
}

// Subscribe adds a subscriber holding up to capacity events.
func (h *Hub) Subscribe(capacity int) *Subscription {
	s := &Subscription{h: h, ring: make([]snapshot.Event, max(capacity, 1)), changed: make(chan struct{}, 1)}
	h.mu.Lock()
	if h.subs == nil {
		h.subs = make(map[*Subscription]struct{})
	}
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	return s
}

// Publish queues evs for every subscriber.
func (h *Hub) Publish(evs ...snapshot.Event) {
	if len(evs) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		s.push(evs)
	}
}

// Dropped sums what the current subscribers have lost.
func (h *Hub) Dropped() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	var n uint64
	for s := range h.subs {
		n += s.Dropped()
	}
	return n
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
		j := (s.head + i) % len(s.ring)
		out[i], s.ring[j] = s.ring[j], snapshot.Event{}
	}
	s.head = (s.head + max) % len(s.ring)
	s.n -= max
	return out
}

// Dropped counts events lost because the queue was full.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close unsubscribes and lets go of what was queued; it is idempotent.
func (s *Subscription) Close() {
	s.h.mu.Lock()
	delete(s.h.subs, s)
	s.h.mu.Unlock()
	s.mu.Lock()
	s.closed = true
	clear(s.ring)
	s.n = 0
	s.mu.Unlock()
}
