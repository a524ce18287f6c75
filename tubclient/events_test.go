package tubclient

import (
	"testing"

	"github.com/tubscope/tubscope/negotiation"

	"github.com/tubscope/tubscope/tubclient/snapshot"
	"github.com/tubscope/tubscope/tubclient/snapshot/activity"
)

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
