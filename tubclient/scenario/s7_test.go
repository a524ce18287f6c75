package scenario

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// S7: the master restarts silently. The slave hears nothing more, reaps
// its broker by the disconnect timeout and dials again; its offer names the
// master's previous incarnation. The restarted master holds no broker for
// it, so every policy accepts with no-existing (old-master-incarnation
// would need a surviving broker, which a restarted process cannot have).
var s7 = map[string]expect{
	"foolscap": {}, "handle-old": {}, "attempt-id": {}, "probe": {},
	"age": {}, "newest-wins": {}, "first-wins": {}, "drop-both": {},
}

func TestS7MasterSilentRestart(t *testing.T) {
	for k := range s7 {
		s7[k] = expect{rule: "no-existing", min: disconnect - keepalive, max: disconnect + 2*time.Second}
	}
	forEachPolicy(t, s7, func(t *testing.T, pol string, e expect) {
		mid, sids := identities(t, 1)
		w := newWorld(t, "S7", pol)
		m := w.addNode("master", masterConfig(mid, policy(t, pol)), []string{"master:1"})
		c := w.addNode("client", clientConfig(sids[0]))
		cid := c.tub.TubID()
		if _, err := c.tub.ConnectTo(m.furl, nil); err != nil {
			t.Fatal(err)
		}
		w.must(5*time.Second, "first connection", func() bool { return agreed(m, c) })
		old := c.LiveBrokers(m.tub.TubID())[0].ID
		oldInc := m.tub.Incarnation()
		base := m.lastSeq()
		t0 := time.Now()
		if err := m.tub.Restart(true); err != nil {
			t.Fatal(err)
		}
		acc, o := w.checkRecovery(m, cid, base, t0, 30*time.Second, e)
		w.checkDetach(c, old, "disconnect timeout")
		if want := oldInc + " 1"; acc.OfferLast != want {
			w.errorf("the slave's offer carried last-connection %q, want the old master incarnation %q", acc.OfferLast, want)
		}
		if want := m.tub.Incarnation() + " 1"; acc.Current != want {
			w.errorf("the restarted master numbered the connection %q, want %q", acc.Current, want)
		}
		w.must(5*time.Second, "both ends agree on the new connection", func() bool { return agreed(m, c) })
		var slaveSaw string
		for _, d := range c.Decisions(snapshot.Slave, m.tub.TubID()) {
			if d.Accept && strings.HasPrefix(d.Current, m.tub.Incarnation()) {
				slaveSaw = d.Current
			}
		}
		if slaveSaw == "" {
			w.errorf("the slave logged no decision from the restarted master")
		}
		o.note = strings.TrimSuffix(fmt.Sprintf("offer last-connection named the old master incarnation; %s", o.note), "; ")
		record("S7", pol, o)
	})
}
