package scenario

import (
	"fmt"
	"testing"
	"time"

	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// s6Row: whether the master sees the two processes alternate (policies
// that let a new incarnation replace the broker) and so flags a clone.
type s6Row struct{ clone bool }

// S6: two processes share one key and both keep dialing the master. Where
// each one's offer replaces the other's broker, the incarnations alternate:
// the master must flag a clone and rate-limit it instead of flapping at the
// reconnect rate. Where the first broker is kept, nothing alternates.
var s6 = map[string]s6Row{
	"foolscap": {clone: true}, "handle-old": {clone: true}, "attempt-id": {clone: true},
	"probe": {clone: true}, "newest-wins": {clone: true}, "drop-both": {clone: true},
	"first-wins": {clone: false}, "age": {clone: false},
}

const (
	s6Window  = 40 * time.Second
	s6Holdoff = 10 * time.Second
)

func TestS6Clone(t *testing.T) {
	forEachPolicy(t, s6, func(t *testing.T, pol string, e s6Row) {
		mid, sids := identities(t, 1)
		w := newWorld(t, "S6", pol)
		mcfg := masterConfig(mid, policy(t, pol))
		mcfg.CloneHoldoff = s6Holdoff
		m := w.addNode("master", mcfg, []string{"master:1"})
		c1 := w.addNode("clone-1", clientConfig(sids[0]))
		c2 := w.addNode("clone-2", clientConfig(sids[0]))
		cid := sids[0].TubID
		for _, c := range []*node{c1, c2} {
			if _, err := c.tub.ConnectTo(m.furl, nil); err != nil {
				t.Fatal(err)
			}
		}
		start := time.Now()
		var flagged *snapshot.Event
		w.waitFor(s6Window, func() bool {
			if evs := m.Events(snapshot.KindClone); len(evs) > 0 {
				flagged = &evs[0]
			}
			return false // watch the whole window
		})
		ds := m.masterDecisions(cid)
		accepts, limited := 0, 0
		for _, d := range ds {
			if d.Accept {
				accepts++
			}
			if d.Rule == "clone-rate-limited" {
				limited++
			}
		}
		peerFlag := false
		for _, p := range m.tub.Snapshot().Peers {
			if p.TubID == cid {
				peerFlag = p.Clone
			}
		}
		// One accept per process to start, then at most one per hold-off.
		maxAccepts := 2 + int(s6Window/s6Holdoff)
		if accepts > maxAccepts {
			w.errorf("%d accepted offers in %s, want at most %d", accepts, s6Window, maxAccepts)
		}
		if e.clone {
			if flagged == nil || !peerFlag || limited == 0 {
				w.errorf("clone event %v, peer flag %v, %d clone-rate-limited refusals; want a flagged, rate-limited clone", flagged != nil, peerFlag, limited)
			}
		} else if flagged != nil || peerFlag || accepts != 1 {
			w.errorf("clone event %v, peer flag %v, %d accepts; want the first broker kept and no clone", flagged != nil, peerFlag, accepts)
		}
		note := fmt.Sprintf("%d accepts in %s; verdicts %s", accepts, s6Window, formatCounts(verdictCounts(ds)))
		if flagged != nil {
			note = fmt.Sprintf("clone flagged after %s; %s", flagged.Time.Sub(start).Round(10*time.Millisecond), note)
		}
		state := "first broker kept"
		if flagged != nil {
			state = "clone rate-limited"
		}
		record("S6", pol, outcome{state: state, note: note})
	})
}
