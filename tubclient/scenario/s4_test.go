package scenario

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// crossExpect is a row of S4 and S5: how many brokers the master attaches
// before the pair settles on one connection.
type crossExpect struct {
	maxAttaches int           // master broker-attached events, first included
	settle      time.Duration // the pair agrees on one connection within this
}

// settled waits until a and b agree on one connection and no broker is
// attached or detached on either side for quiet. It returns the time from
// the start until the last change.
func (w *world) settled(a, b *node, bound, quiet time.Duration) (time.Duration, bool) {
	start := time.Now()
	changes := func() int {
		return len(a.Events(snapshot.KindBrokerAttached, snapshot.KindBrokerDetached)) +
			len(b.Events(snapshot.KindBrokerAttached, snapshot.KindBrokerDetached))
	}
	for time.Since(start) < bound {
		if _, ok := w.waitFor(bound-time.Since(start), func() bool { return agreed(a, b) }); !ok {
			return 0, false
		}
		n := changes()
		at := time.Now()
		if _, moved := w.waitFor(quiet, func() bool { return changes() != n }); !moved && agreed(a, b) {
			return at.Sub(start), true
		}
	}
	return 0, false
}

// S4: both tubs dial each other at the same instant. The master decides
// both offers; exactly one connection must survive and both ends must
// name the same one.
// Which offer the master sees first is a race, so a policy that accepts the
// second one (same-seqnum, lost-decision, newest-wins) attaches twice.
var s4 = map[string]crossExpect{
	"foolscap":    {maxAttaches: 2, settle: time.Second},
	"handle-old":  {maxAttaches: 2, settle: time.Second},
	"attempt-id":  {maxAttaches: 2, settle: time.Second},
	"probe":       {maxAttaches: 2, settle: time.Second},
	"age":         {maxAttaches: 2, settle: time.Second},
	"newest-wins": {maxAttaches: 2, settle: time.Second},
	"first-wins":  {maxAttaches: 2, settle: time.Second},
	// Both connections die; the retries, spread by jitter, settle.
	"drop-both": {maxAttaches: 4, settle: 10 * time.Second},
}

func TestS4CrossConnect(t *testing.T) {
	forEachPolicy(t, s4, func(t *testing.T, pol string, e crossExpect) {
		mid, sids := identities(t, 1)
		w := newWorld(t, "S4", pol)
		cfg := func(id *tubclient.Identity) tubclient.Config {
			c := clientConfig(id)
			c.Policy = policy(t, pol)
			// Foolscap's default jitter, so retries from both sides do not
			// stay in lockstep.
			c.Backoff.Jitter = 0
			return c
		}
		m := w.addNode("master", cfg(mid), []string{"master:1"})
		s := w.addNode("slave", cfg(sids[0]), []string{"slave:1"})
		rm, err := m.tub.ConnectTo(s.furl, nil)
		if err != nil {
			t.Fatal(err)
		}
		rs, err := s.tub.ConnectTo(m.furl, nil)
		if err != nil {
			t.Fatal(err)
		}
		after, ok := w.settled(m, s, e.settle+5*time.Second, 5*time.Second)
		if !ok {
			w.fail("no single agreed connection within %s", e.settle)
		}
		w.must(3*time.Second, "both reconnectors hold the surviving connection", func() bool {
			return onBroker(rm, m.LiveBrokers(s.tub.TubID())) && onBroker(rs, s.LiveBrokers(m.tub.TubID()))
		})
		attaches := len(m.Events(snapshot.KindBrokerAttached))
		ds := m.masterDecisions(s.tub.TubID())
		// Nothing may reach the wire ahead of a decision (see
		// TestDecisionNeverRacedByCall).
		races := decisionRaces(s)
		if races > 0 {
			w.errorf("%d decision(s) preceded by Banana bytes", races)
		}
		if attaches > e.maxAttaches || after > e.settle {
			w.errorf("settled after %s with %d attaches on the master, want at most %d within %s", after, attaches, e.maxAttaches, e.settle)
		}
		last := ds[len(ds)-1]
		for i := len(ds) - 1; i >= 0; i-- {
			if ds[i].Accept {
				last = ds[i]
				break
			}
		}
		record("S4", pol, outcome{state: "settled after " + after.Round(10*time.Millisecond).String(), rule: last.Rule,
			note: fmt.Sprintf("verdicts %s; %d attaches; %d raced decisions", formatCounts(verdictCounts(ds)), attaches, races)})
	})
}

// verdictCounts counts verdicts by rule and outcome.
func verdictCounts(ds []snapshot.Decision) map[string]int {
	m := make(map[string]int)
	for _, d := range ds {
		k := "refuse " + d.Rule
		if d.Accept {
			k = "accept " + d.Rule
		}
		m[k]++
	}
	return m
}

// onBroker reports whether r's reference rides the one broker in live.
func onBroker(r *tubclient.Reconnector, live []snapshot.Broker) bool {
	ref := r.Reference()
	return ref != nil && len(live) == 1 && ref.Broker().ID() == live[0].ID
}

// decisionRaces counts n's negotiations that failed because bytes other
// than the decision block arrived where the decision was due.
func decisionRaces(n *node) int {
	races := 0
	for _, ev := range n.Events(snapshot.KindNegotiationFailed) {
		if ev.Reason == "decision" && strings.Contains(ev.Err, "not valid UTF-8") {
			races++
		}
	}
	return races
}
