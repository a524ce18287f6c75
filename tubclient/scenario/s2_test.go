package scenario

import (
	"strings"
	"testing"
	"time"

	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// S2: the client restarts silently with a new key. Nothing ever offers to
// replace the old broker, so under every policy it lingers until the
// keepalive marks it suspect and the disconnect timeout reaps it; the new
// tubid connects beside it at once.
var s2 = map[string]struct{}{
	"foolscap": {}, "handle-old": {}, "attempt-id": {}, "probe": {},
	"age": {}, "newest-wins": {}, "first-wins": {}, "drop-both": {},
}

func TestS2SilentRestartNewKey(t *testing.T) {
	forEachPolicy(t, s2, func(t *testing.T, pol string, _ struct{}) {
		mid, sids := identities(t, 2)
		w := newWorld(t, "S2", pol)
		m := w.addNode("master", masterConfig(mid, policy(t, pol)), []string{"master:1"})
		c1 := w.addNode("client", clientConfig(sids[0]))
		r1, err := c1.tub.ConnectTo(m.furl, nil)
		if err != nil {
			t.Fatal(err)
		}
		w.must(5*time.Second, "first connection", func() bool { return agreed(m, c1) })
		old := m.LiveBrokers(c1.tub.TubID())[0].ID

		// The old process vanishes: its reconnector stops and its sockets
		// stay open but carry nothing.
		t0 := time.Now()
		r1.Stop()
		if err := c1.tub.Restart(true); err != nil {
			t.Fatal(err)
		}
		c2 := w.addNode("client-newkey", clientConfig(sids[1]))
		if _, err := c2.tub.ConnectTo(m.furl, nil); err != nil {
			t.Fatal(err)
		}
		w.must(2*time.Second, "the new key connects beside the old broker", func() bool {
			return agreed(m, c2) && len(m.LiveBrokers(c1.tub.TubID())) == 1
		})

		find := func(kind snapshot.Kind) *snapshot.Event {
			for _, ev := range m.Events(kind) {
				if ev.BrokerID == old {
					return &ev
				}
			}
			return nil
		}
		w.must(disconnect+time.Second, "old broker marked suspect", func() bool { return find(snapshot.KindBrokerSuspect) != nil })
		suspectAt := find(snapshot.KindBrokerSuspect).Time.Sub(t0)
		w.must(disconnect+time.Second, "old broker reaped", func() bool { return find(snapshot.KindBrokerDetached) != nil })
		det := find(snapshot.KindBrokerDetached)
		reapedAt := det.Time.Sub(t0)
		if !strings.Contains(det.Reason, "disconnect timeout") {
			w.errorf("old broker detached with reason %q, want a disconnect timeout", det.Reason)
		}
		if suspectAt > keepalive+time.Second || reapedAt < disconnect-keepalive || reapedAt > disconnect+time.Second {
			w.errorf("suspect after %s, reaped after %s; want suspect within %s and reaped within [%s, %s]",
				suspectAt, reapedAt, keepalive+time.Second, disconnect-keepalive, disconnect+time.Second)
		}
		if !agreed(m, c2) || len(c2.Events(snapshot.KindBrokerDetached)) != 0 {
			w.errorf("the new key's connection was disturbed")
		}
		if n := len(m.masterDecisions(c1.tub.TubID())); n != 1 {
			w.errorf("%d verdicts on the old key, want only the first", n)
		}
		record("S2", pol, outcome{recovered: true, rule: "no-existing", after: reapedAt,
			note: "old broker suspect after " + suspectAt.Round(10*time.Millisecond).String() + ", reaped by disconnect timeout"})
	})
}
