package scenario

import (
	"testing"
	"time"
)

// S8: a legacy client (hellos without my-incarnation or last-connection)
// restarts silently. Its offer cannot be compared with the broker, and the
// master reaps nothing by timeout here, so only the policies that guess
// (age, the handle-old heuristic, probing) or do not compare recover.
var s8 = map[string]expect{
	"foolscap":   {reject: "no-incarnation"},
	"attempt-id": {reject: "no-incarnation"},
	"first-wins": {reject: "first-wins"},
	// Both sides of the 60 s default threshold.
	"handle-old": {rule: "handle-old-aged", reject: "handle-old-young", min: 59 * time.Second, max: 62 * time.Second},
	// A short threshold: a few young refusals, then aged.
	"handle-old-2s": {rule: "handle-old-aged", reject: "handle-old-young", min: 2 * time.Second, max: 4 * time.Second},
	"probe":         {rule: "probe-silent", max: 2 * time.Second},
	"newest-wins":   {rule: "newest-wins", max: 2 * time.Second},
	"drop-both":     {rule: "no-existing", reject: "drop-both", max: 3 * time.Second},
	"age":           {rule: "age-silent", reject: "age-active", min: 58 * time.Second, max: 62 * time.Second},
}

func TestS8LegacyPeer(t *testing.T) {
	forEachPolicy(t, s8, func(t *testing.T, pol string, e expect) {
		mid, sids := identities(t, 1)
		w := newWorld(t, "S8", pol)
		cfg := masterConfig(mid, nil)
		cfg.DisconnectTimeout = 0
		m := w.addNode("master", cfg, []string{"master:1"})
		ccfg := clientConfig(sids[0])
		ccfg.LegacyHello = true
		c := w.addNode("legacy-client", ccfg)
		cid := c.tub.TubID()
		if _, err := c.tub.ConnectTo(m.furl, nil); err != nil {
			t.Fatal(err)
		}
		w.must(5*time.Second, "first connection", func() bool { return agreed(m, c) })
		// The policy is switched on the running tub, as an operator would.
		if err := m.tub.SetPolicy(policy(t, pol)); err != nil {
			t.Fatal(err)
		}
		base := m.lastSeq()
		t0 := time.Now()
		if err := c.tub.Restart(true); err != nil {
			t.Fatal(err)
		}
		acc, o := w.checkRecovery(m, cid, base, t0, 90*time.Second, e)
		for _, d := range m.masterDecisions(cid) {
			if d.OfferIncarnation != "" || d.OfferLast != "" {
				w.errorf("legacy offer carried incarnation %q last %q", d.OfferIncarnation, d.OfferLast)
				break
			}
		}
		if e.rule != "" {
			w.must(5*time.Second, "both ends agree on the new connection", func() bool {
				return agreed(m, c) && m.LiveBrokers(cid)[0].ID == acc.BrokerID
			})
		}
		record("S8", pol, o)
	})
}
