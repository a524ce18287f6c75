package scenario

import (
	"fmt"
	"testing"
	"time"

	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// S5: the FURL carries three hints to one tub (two names for one listener
// and a second listener). All three are dialed at once with one attempt id;
// one wins. A policy that accepts the late hint connections replaces the
// winner (a flap); the others refuse them.
var s5 = map[string]crossExpect{
	"foolscap":   {maxAttaches: 1, settle: time.Second},
	"handle-old": {maxAttaches: 1, settle: time.Second},
	"attempt-id": {maxAttaches: 1, settle: time.Second},
	"probe":      {maxAttaches: 1, settle: time.Second},
	"age":        {maxAttaches: 1, settle: time.Second},
	"first-wins": {maxAttaches: 1, settle: time.Second},
	// Each late hint replaces the one before, and a replaced winner sends
	// the client round again: the flap the other rules avoid. It stops
	// when one round's hints happen to reach the master one at a time.
	"newest-wins": {maxAttaches: 40, settle: 20 * time.Second},
	// A late hint drops the winner too, and the client dials again.
	"drop-both": {maxAttaches: 40, settle: 20 * time.Second},
}

func TestS5ParallelHints(t *testing.T) {
	forEachPolicy(t, s5, func(t *testing.T, pol string, e crossExpect) {
		mid, sids := identities(t, 1)
		w := newWorld(t, "S5", pol)
		m := w.addNode("master", masterConfig(mid, policy(t, pol)),
			[]string{"127.0.0.1:7001", "localhost:7001"}, []string{"127.0.0.1:7002"})
		c := w.addNode("client", clientConfig(sids[0]))
		cid := c.tub.TubID()
		if _, err := c.tub.ConnectTo(m.furl, nil); err != nil {
			t.Fatal(err)
		}
		after, ok := w.settled(m, c, e.settle+5*time.Second, 5*time.Second)
		if !ok {
			w.fail("no single agreed connection within %s", e.settle)
		}
		ds := m.masterDecisions(cid)
		attaches := len(m.Events(snapshot.KindBrokerAttached))
		cAttaches := len(c.Events(snapshot.KindBrokerAttached))
		detaches := len(m.Events(snapshot.KindBrokerDetached))
		// Neither a call ahead of the decision nor a sibling hint replacing
		// its own attempt's winner may cost an attach (see regression_test.go).
		races := decisionRaces(c) + siblingFlaps(ds)
		if races > 0 {
			w.errorf("%d extra attach(es): a decision raced by Banana or a sibling hint flap", races)
		}
		if attaches > e.maxAttaches || after > e.settle {
			w.errorf("settled after %s with %d attaches on the master, want at most %d within %s", after, attaches, e.maxAttaches, e.settle)
		}
		if e.maxAttaches == 1 && races == 0 && (cAttaches != 1 || detaches != 0) {
			w.errorf("%d attaches on the client and %d detaches on the master, want one attach each side and no detach", cAttaches, detaches)
		}
		attempts := make(map[string]bool)
		for _, d := range ds {
			attempts[d.OfferAttemptID] = true
		}
		if e.maxAttaches == 1 && races == 0 && len(attempts) != 1 {
			w.errorf("offers from %d attempts, want one attempt over three hints", len(attempts))
		}
		var rule string
		for _, d := range ds {
			if d.Accept {
				rule = d.Rule
			}
		}
		record("S5", pol, outcome{state: "settled after " + after.Round(10*time.Millisecond).String(), rule: rule,
			note: fmt.Sprintf("verdicts %s; %d attaches, %d detaches", formatCounts(verdictCounts(ds)), attaches, detaches)})
	})
}

// siblingFlaps counts accepted same-seqnum offers from an attempt that had
// already won: a hint connection that read the slave table after its
// sibling's decision arrived (see TestEngineBugSiblingHintFlap).
func siblingFlaps(ds []snapshot.Decision) int {
	won := make(map[string]bool)
	n := 0
	for _, d := range ds {
		if !d.Accept {
			continue
		}
		if d.Rule == "same-seqnum" && won[d.OfferAttemptID] {
			n++
		}
		won[d.OfferAttemptID] = true
	}
	return n
}
