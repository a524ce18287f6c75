package tubclient

import (
	"testing"

	"github.com/tubscope/tubscope/negotiation"

	"github.com/tubscope/tubscope/tubclient/snapshot"
	"github.com/tubscope/tubscope/tubclient/snapshot/activity"
)

// A slow subscriber loses its oldest events, counted, and never blocks
// the publisher.
func TestSubscriptionBoundedAndCounted(t *testing.T) {
	var h hub
	slow := h.subscribe(4)
	fast := h.subscribe(100)
	for i := 1; i <= 10; i++ {
		h.publish(snapshot.Event{Seq: uint64(i)})
	}
	select {
	case <-slow.Changed():
	default:
		t.Fatal("no change signalled")
	}
	got := slow.Drain(0)
	if len(got) != 4 || got[0].Seq != 7 || got[3].Seq != 10 {
		t.Fatalf("slow subscriber kept %+v, want the newest four", got)
	}
	if slow.Dropped() != 6 || fast.Dropped() != 0 {
		t.Fatalf("dropped: slow %d, fast %d", slow.Dropped(), fast.Dropped())
	}
	if got := fast.Drain(3); len(got) != 3 || got[0].Seq != 1 {
		t.Fatalf("partial drain %+v", got)
	}
	if got := fast.Drain(0); len(got) != 7 || got[6].Seq != 10 {
		t.Fatalf("rest %+v", got)
	}
	if h.dropped() != 6 {
		t.Fatalf("hub dropped %d", h.dropped())
	}
	slow.Close()
	h.publish(snapshot.Event{Seq: 11})
	if got := slow.Drain(0); len(got) != 0 {
		t.Fatalf("closed subscription received %+v", got)
	}
}

// The decision log keeps the newest DecisionLogSize entries, oldest first,
// and counts them all.
func TestDecisionLogRing(t *testing.T) {
	tub := &Tub{cfg: Config{DecisionLogSize: 3}, id: &Identity{}}
	st := &state{policy: negotiation.Foolscap{}, activity: activity.New(0, 0, 0)}
	for i := 0; i < 7; i++ {
		tub.logDecision(st, snapshot.Decision{Rule: string(rune('a' + i))})
		if len(st.decisions) > 3 {
			t.Fatalf("log grew to %d entries", len(st.decisions))
		}
	}
	s := tub.assemble(tub.gatherLocked(st))
	var got string
	for _, d := range s.Decisions {
		got += d.Rule
	}
	if got != "efg" || s.DecisionsTotal != 7 || s.Decisions[2].Seq != 7 {
		t.Fatalf("log %q (total %d), want efg of 7", got, s.DecisionsTotal)
	}
}
