package storm

import (
	"strings"
	"testing"
	"time"

	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// A storm source shows one row per client in its state, the queen's
// answers as the decision log, the activity, and faults and outcomes as
// events; it rebuilds a changed snapshot at most every rebuildEvery.
func TestSource(t *testing.T) {
	now := t0
	s := NewSource()
	s.now = func() time.Time { return now }
	feed := s.Subscribe(8)
	defer feed.Close()
	s.Planned(Plan{N: 3, TubID: "queen", Target: "pb://queen@tcp:127.0.0.1:9/x", Fault: LostDecision, Rounds: 1,
		Hints: []TargetHint{{Hint: "tcp:127.0.0.1:9"}}, Children: 1, Sizes: []int{3}})
	s.Note("probe: fine")
	refusal := Reason{Refused: true, Text: duplicateText, Offer: "offer remembered no decision", Rule: "never-decided"}
	for _, ev := range []ClientEvent{
		{Kind: EventUp, Client: 0, Time: t0, TubID: "a"},
		{Kind: EventUp, Client: 1, Time: t0, TubID: "b"},
		{Kind: EventUp, Client: 2, Time: t0, TubID: "c"},
		{Kind: EventFault, Client: 0, Round: 1, Time: t0.Add(time.Second), TubID: "a"},
		{Kind: EventFault, Client: 1, Round: 1, Time: t0.Add(time.Second), TubID: "b"},
		{Kind: EventFail, Client: 0, Round: 1, Time: t0.Add(2 * time.Second), Reason: refusal, Err: "decision: peer said: Duplicate connection",
			Next: t0.Add(5 * time.Second), Sent: &Sent{Incarnation: "inc0", Last: "none 0", AttemptID: "att0"}},
		{Kind: EventFail, Client: 1, Round: 1, Time: t0.Add(2 * time.Second), Reason: Reason{Text: "negotiation timed out"}, Err: "timed out",
			Next: t0.Add(5 * time.Second)},
		{Kind: EventBack, Client: 1, Round: 1, Time: t0.Add(3 * time.Second), Recovery: 2 * time.Second, Sent: &Sent{Last: "none 0"}},
		{Kind: EventLost, Client: 1, Round: 1, Time: t0.Add(4 * time.Second), Flap: true},
		{Kind: EventFail, Client: 2, Round: 1, Time: t0.Add(4 * time.Second), Twin: true, Reason: refusal},
	} {
		s.Client(ev)
	}
	s.Client(ClientEvent{Kind: EventBack, Client: 7}) // out of range: ignored
	now = t0.Add(4 * time.Second)
	snap := s.Snapshot()
	if snap.Source.Kind != snapshot.SourceStorm || snap.Source.ReadOnly == "" || snap.TubID != "queen" || snap.Version != 1 {
		t.Errorf("source %+v tub %s version %d", snap.Source, snap.TubID, snap.Version)
	}
	if len(snap.Peers) != 3 {
		t.Fatalf("%d peers", len(snap.Peers))
	}
	a, b, c := snap.Peers[0], snap.Peers[1], snap.Peers[2]
	if a.State != snapshot.PeerLockedOut || a.Rejects != 1 || !a.LockedOutSince.Equal(t0.Add(2*time.Second)) || a.Nickname != "c0" {
		t.Errorf("client 0 %+v", a)
	}
	if b.State != snapshot.PeerBackingOff || b.BrokerID != 0 || len(b.History) != 2 || b.History[1].End != snapshot.ClosePeerClosed {
		t.Errorf("client 1 %+v", b)
	}
	if c.State != snapshot.PeerLive || c.BrokerID != 3 || len(snap.Brokers) != 1 || snap.Brokers[0].RemoteAddr != "127.0.0.1:9" {
		t.Errorf("client 2 %+v, brokers %+v", c, snap.Brokers)
	}
	if len(snap.Decisions) != 2 || snap.Decisions[0].Error != duplicateText || !strings.Contains(snap.Decisions[0].Detail, "never-decided") ||
		snap.Decisions[0].OfferLast != "none 0" || snap.Decisions[0].OfferIncarnation != "inc0" || !snap.Decisions[1].Accept {
		t.Errorf("decisions %+v", snap.Decisions)
	}
	act := snap.Activity
	offers, rejects := 0, 0
	for i := range act.Offers {
		offers += act.Offers[i]
		rejects += act.Rejects[i]
	}
	if offers != 3 || rejects != 2 || act.Reconnect.Total != 1 || act.Reconnect.Max != 2*time.Second {
		t.Errorf("activity: %d offers, %d rejects, reconnects %+v", offers, rejects, act.Reconnect)
	}
	if snap.Narration == nil || !strings.Contains(snap.Narration.Last, "round 1") {
		t.Errorf("narration %+v", snap.Narration)
	}

	s.Outcome(Outcome{Round: 1, Client: 0, TubID: "a", Outcome: OutcomeLockedOut, LockedOutFor: 9 * time.Second, Rejects: 1})
	if s.Snapshot() != snap {
		t.Error("rebuilt within rebuildEvery")
	}
	now = now.Add(rebuildEvery)
	if next := s.Snapshot(); next == snap || next.Version != 2 {
		t.Error("not rebuilt after rebuildEvery")
	}
	s.Finished(Result{Clients: 3, Back: 2, LockedOut: 1}, nil)
	now = now.Add(rebuildEvery)
	end := s.Snapshot()
	if len(end.Brokers) != 0 || end.Peers[0].State != snapshot.PeerIdle || !end.Peers[0].LockedOutSince.IsZero() ||
		end.Peers[0].LastError != "round 1: locked out for 9.00s, 1 refused offers" || end.Source.Status == "" {
		t.Errorf("after the end: brokers %v, client 0 %+v, status %q", end.Brokers, end.Peers[0], end.Source.Status)
	}

	var kinds []string
	for _, ev := range feed.Drain(0) {
		kinds = append(kinds, string(ev.Kind)+": "+firstNonEmpty(ev.Message, ev.Reason))
	}
	want := []string{"source: probe: fine", "fault: round 1: lost-decision strikes", "broker-detached: c1: its connection ended again",
		"source: round 1: c0 locked out for 9.00s", "source: done: 2 of 3 back"}
	if len(kinds) != len(want) {
		t.Fatalf("events %q", kinds)
	}
	for i := range want {
		if !strings.HasPrefix(kinds[i], want[i]) {
			t.Errorf("event %d %q, want %q…", i, kinds[i], want[i])
		}
	}
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// A full feed drops its oldest events and counts them; a closed one takes
// no more.
func TestFeedBounded(t *testing.T) {
	s := NewSource()
	f := s.Subscribe(2)
	for i := range 5 {
		s.Note(strings.Repeat("x", i+1))
	}
	if f.Dropped() != 3 {
		t.Errorf("dropped %d, want 3", f.Dropped())
	}
	select {
	case <-f.Changed():
	default:
		t.Error("no change signalled")
	}
	evs := f.Drain(1)
	if len(evs) != 1 || evs[0].Message != "xxxx" {
		t.Errorf("drained %+v", evs)
	}
	if evs := f.Drain(0); len(evs) != 1 || evs[0].Message != "xxxxx" {
		t.Errorf("drained %+v", evs)
	}
	f.Close()
	s.Note("after")
	if evs := f.Drain(0); len(evs) != 0 {
		t.Errorf("a closed feed got %+v", evs)
	}
}
