package scenario

import (
	"testing"
	"time"
)

// S3: the master's first decision is lost on the wire. The master holds a
// dead broker; the client times out and comes back remembering nothing
// ("none 0") with the same incarnation. The master sends no keepalive
// disconnects here, so a policy that waits for the broker to die waits for
// the whole bound.
var s3 = map[string]expect{
	// Foolscap 21.7's lockout: the offer looks like a parallel hint attempt.
	"foolscap":   {reject: "never-decided"},
	"handle-old": {reject: "never-decided"},
	"first-wins": {reject: "first-wins"},
	// Within about one retry: the client's negotiation timeout plus backoff.
	"attempt-id":  {rule: "lost-decision", min: negTimeout, max: negTimeout + 2*time.Second},
	"probe":       {rule: "probe-silent", min: negTimeout, max: negTimeout + 2*time.Second},
	"newest-wins": {rule: "newest-wins", min: negTimeout, max: negTimeout + 2*time.Second},
	"drop-both":   {rule: "no-existing", reject: "drop-both", min: negTimeout, max: negTimeout + 3*time.Second},
	// The dead broker has received nothing since it was made.
	"age": {rule: "age-silent", reject: "age-active", min: 60 * time.Second, max: 62 * time.Second},
}

const s3Bound = 90 * time.Second

func TestS3LostDecision(t *testing.T) { testS3(t, "S3", false) }

// The same loss taken by the client as the decision arrives: it leaves the
// socket open and silent by itself, so the master sees no FIN without any
// help from the network. The verdicts are the same.
func TestS3LostOnArrival(t *testing.T) { testS3(t, "S3 on arrival", true) }

func testS3(t *testing.T, name string, onArrival bool) {
	forEachPolicy(t, s3, func(t *testing.T, pol string, e expect) {
		mid, sids := identities(t, 1)
		w := newWorld(t, name, pol)
		cfg := masterConfig(mid, policy(t, pol))
		cfg.DisconnectTimeout = 0
		m := w.addNode("master", cfg, []string{"master:1"})
		c := w.addNode("client", clientConfig(sids[0]))
		cid := c.tub.TubID()
		loser, peer := m.tub, cid
		if onArrival {
			loser, peer = c.tub, m.tub.TubID()
		} else {
			// The decision is lost in a partition, which also eats the FIN
			// the client sends when it gives up; a FIN would tell the master.
			c.finless.Store(true)
		}
		if err := loser.LoseNextDecision(peer); err != nil {
			t.Fatal(err)
		}
		r, err := c.tub.ConnectTo(m.furl, nil)
		if err != nil {
			t.Fatal(err)
		}
		w.must(time.Second, "the first offer accepted", func() bool { return len(m.acceptsAfter(cid, 0)) == 1 })
		first := m.acceptsAfter(cid, 0)[0]
		acc, o := w.checkRecovery(m, cid, first.Seq, first.Time, s3Bound, e)
		for _, d := range m.masterDecisions(cid) {
			if d.Seq > first.Seq && (d.OfferLast != "none 0" || d.OfferIncarnation != first.OfferIncarnation) {
				w.errorf("retry offered incarnation %s last %q, want the same incarnation remembering none 0", d.OfferIncarnation, d.OfferLast)
				break
			}
		}
		if e.rule == "" {
			if len(c.LiveBrokers(m.tub.TubID())) != 0 || r.Reference() != nil {
				w.errorf("the client holds a connection while the master refuses it")
			}
		} else {
			w.must(5*time.Second, "both ends agree on the new connection", func() bool {
				return agreed(m, c) && m.LiveBrokers(cid)[0].ID == acc.BrokerID
			})
		}
		record(name, pol, o)
	})
}
