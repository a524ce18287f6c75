package ui

import (
	"fmt"
	"sync"
	"time"

	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// fakeEngine serves a hand-made snapshot, records every Do and counts
// Snapshot calls.
type fakeEngine struct {
	mu        sync.Mutex
	snap      snapshot.Snapshot
	snapshots int
	actions   []Action
	doErr     error
	clients   []string
	demo      bool
	feed      *fakeFeed
}

func newFakeEngine(s snapshot.Snapshot) *fakeEngine {
	return &fakeEngine{snap: s, feed: newFakeFeed(1 << 20)}
}

func (e *fakeEngine) Snapshot() snapshot.Snapshot {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.snapshots++
	return e.snap
}

func (e *fakeEngine) Subscribe(capacity int) Feed { return e.feed }

func (e *fakeEngine) Do(a Action) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.actions = append(e.actions, a)
	return e.doErr
}

func (e *fakeEngine) Demo() ([]string, bool) { return e.clients, e.demo }

func (e *fakeEngine) setSnapshot(s snapshot.Snapshot) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.snap = s
}

func (e *fakeEngine) snapshotCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.snapshots
}

func (e *fakeEngine) recorded() []Action {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Action(nil), e.actions...)
}

// fakeFeed is a bounded queue with a one-slot changed signal, like the
// engine's: publishing never blocks, overflow is counted.
type fakeFeed struct {
	mu      sync.Mutex
	events  []snapshot.Event
	cap     int
	dropped uint64
	changed chan struct{}
	closed  bool
}

func newFakeFeed(capacity int) *fakeFeed {
	return &fakeFeed{cap: capacity, changed: make(chan struct{}, 1)}
}

func (f *fakeFeed) publish(evs ...snapshot.Event) {
	f.mu.Lock()
	for _, ev := range evs {
		if len(f.events) >= f.cap {
			f.dropped++
			continue
		}
		f.events = append(f.events, ev)
	}
	f.mu.Unlock()
	select {
	case f.changed <- struct{}{}:
	default:
	}
}

func (f *fakeFeed) Changed() <-chan struct{} { return f.changed }

func (f *fakeFeed) Drain(max int) []snapshot.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := min(max, len(f.events))
	out := append([]snapshot.Event(nil), f.events[:n]...)
	f.events = f.events[n:]
	return out
}

func (f *fakeFeed) Dropped() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dropped
}

func (f *fakeFeed) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
}

func (f *fakeFeed) pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.events)
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// testSnapshot has three peers (alice, bob, carol), one broker each, and
// n extra brokers to peers named peerNNNN.
func testSnapshot(extra int, decisions int) snapshot.Snapshot {
	s := snapshot.Snapshot{
		Taken:            t0,
		TubID:            "selftubid0000000000000000000000",
		Incarnation:      "inc00001",
		IncarnationCount: 1,
		Listening:        []string{"tcp:127.0.0.1:5000"},
		Policy:           "foolscap",
	}
	for i, name := range []string{"alice", "bob", "carol"} {
		tubid := fmt.Sprintf("%c%c%caaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 'a'+i, 'a'+i, 'a'+i)
		s.Brokers = append(s.Brokers, snapshot.Broker{
			ID: uint64(i + 1), PeerTubID: tubid, Nickname: name, Role: snapshot.Master,
			Side: snapshot.Server, State: snapshot.Live, RemoteAddr: fmt.Sprintf("127.0.0.1:%d", 6000+i),
			PeerIncarnation: "pinc" + name, Created: t0.Add(-time.Minute), LastReceived: t0,
		})
		s.Peers = append(s.Peers, snapshot.Peer{TubID: tubid, Nickname: name})
	}
	for i := range extra {
		tubid := fmt.Sprintf("peer%06d", i)
		s.Brokers = append(s.Brokers, snapshot.Broker{
			ID: uint64(100 + i), PeerTubID: tubid, Role: snapshot.Slave, Side: snapshot.Client,
			State: snapshot.Live, RemoteAddr: fmt.Sprintf("10.0.%d.%d:7000", i/250, i%250),
			Created: t0.Add(-time.Duration(i) * time.Second), LastReceived: t0,
		})
	}
	s.Decisions = makeDecisions(s, decisions)
	s.DecisionsTotal = uint64(len(s.Decisions))
	return s
}

func makeDecisions(s snapshot.Snapshot, n int) []snapshot.Decision {
	ds := make([]snapshot.Decision, 0, n)
	for i := range n {
		b := s.Brokers[i%len(s.Brokers)]
		ds = append(ds, snapshot.Decision{
			Seq: uint64(i + 1), Time: t0.Add(time.Duration(i) * time.Millisecond),
			PeerTubID: b.PeerTubID, BrokerID: b.ID, Role: snapshot.Master,
			OfferIncarnation: "offinc", OfferLast: "none 0", OfferAttemptID: fmt.Sprintf("att%05d", i),
			Accept: i%3 != 0, Rule: "first-connection", Detail: "no existing connection",
		})
	}
	return ds
}
