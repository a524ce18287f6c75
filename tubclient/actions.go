package tubclient

import (
	"fmt"
	"net"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// Restart simulates a process restart: a new incarnation and empty
// master/slave tables. Clean closes every connection (close_notify and
// FIN). Silent leaves them open and black-holed, as when a machine behind
// a NAT loses power: the peers learn nothing until their timers fire.
func (t *Tub) Restart(silent bool) error {
	return t.do(func(st *state) {
		e := ending{reason: snapshot.CloseRestart, detail: "clean restart"}
		if silent {
			e = ending{reason: snapshot.CloseAbandoned, detail: "tub restarted", leaveOpen: true}
		}
		n := len(st.brokers) + len(st.pending)
		for _, id := range sortedIDs(st.pending) {
			t.endLocked(st, id, e)
		}
		for _, id := range sortedIDs(st.brokers) {
			t.endLocked(st, id, e)
		}
		st.incarnation = newIncarnation()
		inc := st.incarnation
		t.incarnation.Store(&inc)
		st.incCount++
		clear(st.master)
		clear(st.slave)
		msg := fmt.Sprintf("clean restart: %d connections closed", n)
		if silent {
			msg = fmt.Sprintf("silent restart: %d connections left black-holed", n)
		}
		t.emitLocked(st, snapshot.Event{Kind: snapshot.KindIncarnation, Incarnation: st.incarnation, Message: msg})
	})
}

// DropBroker closes one connection cleanly.
func (t *Tub) DropBroker(id uint64) error {
	return t.withConn(id, func(st *state, _ *connHandle) {
		t.endLocked(st, id, ending{reason: snapshot.CloseOperator, detail: "dropped by operator"})
	})
}

// BlackHoleBroker stops all traffic on one connection, both ways, without
// closing it.
func (t *Tub) BlackHoleBroker(id uint64) error {
	return t.withConn(id, func(st *state, c *connHandle) {
		c.raw.BlackHole()
		t.emitLocked(st, snapshot.Event{Kind: snapshot.KindFault, BrokerID: id, PeerTubID: c.peer,
			Message: "black-holed: no bytes either way, no FIN"})
	})
}

// ResetBroker aborts one connection with a TCP RST.
func (t *Tub) ResetBroker(id uint64) error {
	return t.withConn(id, func(st *state, c *connHandle) {
		c.raw.Reset()
		t.emitLocked(st, snapshot.Event{Kind: snapshot.KindFault, BrokerID: id, PeerTubID: c.peer, Message: "reset (RST)"})
	})
}

// BrokerConn gives fault injection access to one connection's socket.
func (t *Tub) BrokerConn(id uint64) (net.Conn, error) {
	var conn net.Conn
	err := t.withConn(id, func(_ *state, c *connHandle) { conn = c.raw })
	return conn, err
}

// connHandle is what fault injection needs of a connection, negotiating or
// attached.
type connHandle struct {
	raw interface {
		net.Conn
		BlackHole()
		Reset() error
	}
	peer string
}

func (t *Tub) withConn(id uint64, f func(*state, *connHandle)) error {
	var found bool
	err := t.do(func(st *state) {
		if b := st.brokers[id]; b != nil {
			found = true
			f(st, &connHandle{raw: b.raw, peer: b.peer})
		} else if p := st.pending[id]; p != nil {
			found = true
			f(st, &connHandle{raw: p.raw, peer: p.peer})
		}
	})
	if err == nil && !found {
		err = fmt.Errorf("no connection %d", id)
	}
	return err
}

// SetPolicyByName switches to a named policy.
func (t *Tub) SetPolicyByName(name string) error {
	p, err := negotiation.PolicyByName(name)
	if err != nil {
		return err
	}
	return t.SetPolicy(p)
}

// CyclePolicy switches to the next policy in negotiation's order.
func (t *Tub) CyclePolicy() (string, error) {
	next := negotiation.Cycle(t.Policy())
	return next, t.SetPolicyByName(next)
}

// SetNickname labels a peer in snapshots.
func (t *Tub) SetNickname(peer, name string) {
	t.post(func(st *state) {
		st.peer(peer).nickname = name
		if b := st.byPeer[peer]; b != nil {
			b.row = nil
		}
	})
}

// LoseNextDecision makes the next accepting decision between this tub and
// peer ("" for any peer) vanish. As master, the socket is black-holed both
// ways just before the decision is written; as slave, as it arrives, and
// the socket is left open so no FIN reaches the master. Either way the
// slave times out and comes back remembering nothing, while the master
// holds a broker that is dead: Foolscap 21.7 then refuses every retry.
func (t *Tub) LoseNextDecision(peer string) error {
	return t.do(func(st *state) {
		st.loseDecision[peer] = true
		t.emitLocked(st, snapshot.Event{Kind: snapshot.KindFault, PeerTubID: peer, Message: "the next decision to this peer will be lost"})
	})
}

// Forget drops the slave-table entry for peer, so the next offer to it
// carries last-connection "none 0".
func (t *Tub) Forget(peer string) error {
	return t.do(func(st *state) { delete(st.slave, peer); st.changed = true })
}

// Note puts an application's remark about peer into the event stream (the
// demo narrates the faults it injects into its clients this way).
func (t *Tub) Note(peer, message string) {
	t.post(func(st *state) {
		t.emitLocked(st, snapshot.Event{Kind: snapshot.KindFault, PeerTubID: peer, Message: message})
	})
}
