package ui

import (
	"fmt"
	"sync"
	"time"

	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// fakeEngine publishes hand-made snapshots, records every Do and counts
// Snapshot calls.
type fakeEngine struct {
	mu        sync.Mutex
	snap      *snapshot.Snapshot
	snapshots int
	actions   []Action
	doErr     error
	clients   []string
	demo      bool
	feed      *fakeFeed
}

func newFakeEngine(s *snapshot.Snapshot) *fakeEngine {
	if s.Version == 0 {
		s.Version = 1
	}
	return &fakeEngine{snap: s, feed: newFakeFeed(1 << 20)}
}

func (e *fakeEngine) Snapshot() *snapshot.Snapshot {
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

// publish installs s as the next version, as an engine's atomic store.
func (e *fakeEngine) publish(s *snapshot.Snapshot) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s.Version = e.snap.Version + 1
	e.snap = s
}

func (e *fakeEngine) current() *snapshot.Snapshot {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.snap
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

// tubid makes a 32-character tubid from a name.
func tubid(name string) string {
	return fmt.Sprintf("%-32s", name+"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")[:32]
}

// testSnapshot has three live peers (alice, bob, carol) with one broker
// each, extra live peers named peerNNNNNN, and n decisions.
func testSnapshot(extra int, decisions int) *snapshot.Snapshot {
	s := &snapshot.Snapshot{
		Version:          1,
		Source:           snapshot.Source{Name: "queen", Kind: snapshot.SourceEmbedded},
		Taken:            t0,
		TubID:            "selftubid0000000000000000000000",
		Incarnation:      "inc00001",
		IncarnationCount: 1,
		Listening:        []string{"tcp:127.0.0.1:5000"},
		Policy:           "foolscap",
	}
	add := func(id uint64, tub, nick string, role snapshot.Role, remote string, created time.Time) {
		s.Brokers = append(s.Brokers, snapshot.Broker{
			ID: id, PeerTubID: tub, Nickname: nick, Role: role,
			Side: snapshot.Server, State: snapshot.Live, RemoteAddr: remote,
			PeerIncarnation: "pinc" + nick, Created: created, LastReceived: t0,
		})
		s.Peers = append(s.Peers, snapshot.Peer{TubID: tub, Nickname: nick, State: snapshot.PeerLive, BrokerID: id, Connected: created})
	}
	for i, name := range []string{"alice", "bob", "carol"} {
		add(uint64(i+1), tubid(name), name, snapshot.Master, fmt.Sprintf("127.0.0.1:%d", 6000+i), t0.Add(-time.Minute))
	}
	for i := range extra {
		add(uint64(100+i), fmt.Sprintf("peer%06d", i), fmt.Sprintf("peer%06d", i), snapshot.Slave,
			fmt.Sprintf("10.0.%d.%d:7000", i/250, i%250), t0.Add(-time.Duration(i)*time.Second))
	}
	sortPeers(s)
	s.Decisions = makeDecisions(s, decisions)
	s.DecisionsTotal = uint64(len(s.Decisions))
	return s
}

// sortPeers orders peers by tubid, as the engine publishes them.
func sortPeers(s *snapshot.Snapshot) {
	ps := s.Peers
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && ps[j].TubID < ps[j-1].TubID; j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
}

// makeDecisions is n decisions over the snapshot's peers; every third a
// reject, so no three in a row are alike and none group.
func makeDecisions(s *snapshot.Snapshot, n int) []snapshot.Decision {
	ds := make([]snapshot.Decision, 0, n)
	for i := range n {
		b := s.Brokers[i%len(s.Brokers)]
		ds = append(ds, snapshot.Decision{
			Seq: uint64(i + 1), Time: t0.Add(time.Duration(i) * time.Millisecond),
			PeerTubID: b.PeerTubID, BrokerID: b.ID, Role: snapshot.Master,
			OfferIncarnation: "offinc", OfferLast: "none 0", OfferAttemptID: fmt.Sprintf("att%05d", i),
			Accept: i%3 != 0, Rule: []string{"never-decided", "same-seqnum", "new-incarnation"}[i%3], Detail: fmt.Sprintf("decision %d", i+1),
		})
	}
	return ds
}

// clone copies a snapshot deeply enough for a test to change its tables.
func clone(s *snapshot.Snapshot) *snapshot.Snapshot {
	c := *s
	c.Brokers = append([]snapshot.Broker(nil), s.Brokers...)
	c.Peers = append([]snapshot.Peer(nil), s.Peers...)
	c.Decisions = append([]snapshot.Decision(nil), s.Decisions...)
	return &c
}
