package scenario

import (
	"testing"
	"time"
)

// S1: the client restarts silently with the same key (Foolscap ticket #28's
// case). Its new incarnation tells the master the old broker is dead.
var s1 = map[string]expect{
	"foolscap":    {rule: "new-incarnation", max: 2 * time.Second, detach: "replaced by a new connection"},
	"handle-old":  {rule: "new-incarnation", max: 2 * time.Second, detach: "replaced by a new connection"},
	"attempt-id":  {rule: "new-incarnation", max: 2 * time.Second, detach: "replaced by a new connection"},
	"probe":       {rule: "new-incarnation", max: 2 * time.Second, detach: "replaced by a new connection"},
	"newest-wins": {rule: "newest-wins", max: 2 * time.Second, detach: "replaced by a new connection"},
	// The duplicate is refused but takes the old broker with it.
	"drop-both": {rule: "no-existing", reject: "drop-both", max: 3 * time.Second, detach: "dropped by drop-both"},
	// Locked out until the old broker is reaped by the disconnect timeout.
	"first-wins": {rule: "no-existing", reject: "first-wins", min: disconnect - keepalive, max: disconnect + 2*time.Second, detach: "disconnect timeout"},
	"age":        {rule: "no-existing", reject: "age-active", min: disconnect - keepalive, max: disconnect + 2*time.Second, detach: "disconnect timeout"},
}

func TestS1SilentRestartSameKey(t *testing.T) {
	forEachPolicy(t, s1, func(t *testing.T, pol string, e expect) {
		mid, sids := identities(t, 1)
		w := newWorld(t, "S1", pol)
		m := w.addNode("master", masterConfig(mid, policy(t, pol)), []string{"master:1"})
		c := w.addNode("client", clientConfig(sids[0]))
		cid := c.tub.TubID()
		if _, err := c.tub.ConnectTo(m.furl, nil); err != nil {
			t.Fatal(err)
		}
		w.must(5*time.Second, "first connection", func() bool { return agreed(m, c) })
		old := m.LiveBrokers(cid)[0].ID
		base := m.lastSeq()
		t0 := time.Now()
		if err := c.tub.Restart(true); err != nil {
			t.Fatal(err)
		}
		acc, o := w.checkRecovery(m, cid, base, t0, 30*time.Second, e)
		w.checkDetach(m, old, e.detach)
		w.must(5*time.Second, "both ends agree on the new connection", func() bool {
			return agreed(m, c) && m.LiveBrokers(cid)[0].ID == acc.BrokerID
		})
		if acc.OfferLast != "none 0" || acc.OfferIncarnation != c.tub.Incarnation() {
			w.errorf("accepted offer carried incarnation %s last %q, want the new incarnation %s and none 0",
				acc.OfferIncarnation, acc.OfferLast, c.tub.Incarnation())
		}
		record("S1", pol, o)
	})
}
