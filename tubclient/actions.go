package tubclient

import (
	"fmt"
	"net"
	"sort"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// maxZombies bounds the sockets kept open (black-holed) after silent
// restarts; past it the oldest are closed.
const maxZombies = 20000

// Restart simulates a process restart: a new incarnation and empty
// master/slave tables. Clean closes every connection (close_notify and
// FIN). Silent leaves them open and black-holed, as when a machine behind
// a NAT loses power: the peers learn nothing until their timers fire.
func (t *Tub) Restart(silent bool) error {
	return t.do(func(st *state) {
		brokers := make([]*Broker, 0, len(st.brokers))
		for _, b := range st.brokers {
			brokers = append(brokers, b)
		}
		sort.Slice(brokers, func(i, j int) bool { return brokers[i].id < brokers[j].id })
		for _, b := range brokers {
			if silent {
				t.abandonLocked(st, b)
			} else {
				t.detachLocked(st, b, "clean restart")
			}
		}
		st.incarnation = newIncarnation()
		st.incCount++
		clear(st.master)
		clear(st.slave)
		msg := fmt.Sprintf("clean restart: %d connections closed", len(brokers))
		if silent {
			msg = fmt.Sprintf("silent restart: %d connections left black-holed", len(brokers))
		}
		t.emit(snapshot.Event{Kind: snapshot.KindIncarnation, Incarnation: st.incarnation, Message: msg})
	})
}

// abandonLocked forgets b as a dead process would: its socket stays open
// but carries nothing, and no close is announced to the peer.
func (t *Tub) abandonLocked(st *state, b *Broker) {
	b.raw.BlackHole()
	b.closing.Store(true) // nothing more is written
	if b.state != snapshot.Negotiating && st.byPeer[b.peer] == b {
		// A negotiating broker's peer fields belong to its own goroutine.
		delete(st.byPeer, b.peer)
	}
	b.state = brokerClosed
	delete(st.brokers, b.id)
	close(b.done)
	if b.pb != nil {
		b.pb.fail(&DeadReferenceError{Reason: "tub restarted"})
	}
	b.observers = nil
	st.keepZombie(b.raw)
}

// keepZombie keeps a black-holed socket open until the tub closes,
// the oldest going first past maxZombies.
func (st *state) keepZombie(raw net.Conn) {
	st.zombies = append(st.zombies, raw)
	if len(st.zombies) > maxZombies {
		st.zombies[0].Close()
		st.zombies = st.zombies[1:]
	}
}

// DropBroker closes one connection cleanly.
func (t *Tub) DropBroker(id uint64) error {
	return t.withBroker(id, func(st *state, b *Broker) {
		t.detachLocked(st, b, "dropped by operator")
	})
}

// BlackHoleBroker stops all traffic on one connection, both ways, without
// closing it.
func (t *Tub) BlackHoleBroker(id uint64) error {
	return t.withBroker(id, func(st *state, b *Broker) {
		b.raw.BlackHole()
		t.emit(snapshot.Event{Kind: snapshot.KindFault, BrokerID: b.id, PeerTubID: b.peerIfKnown(),
			Message: "black-holed: no bytes either way, no FIN"})
	})
}

// ResetBroker aborts one connection with a TCP RST.
func (t *Tub) ResetBroker(id uint64) error {
	return t.withBroker(id, func(st *state, b *Broker) {
		b.raw.Reset()
		t.emit(snapshot.Event{Kind: snapshot.KindFault, BrokerID: b.id, PeerTubID: b.peerIfKnown(), Message: "reset (RST)"})
	})
}

// BrokerConn gives fault injection access to one broker's socket.
func (t *Tub) BrokerConn(id uint64) (net.Conn, error) {
	var c net.Conn
	err := t.withBroker(id, func(st *state, b *Broker) { c = b.raw })
	return c, err
}

func (t *Tub) withBroker(id uint64, f func(*state, *Broker)) error {
	var found bool
	err := t.do(func(st *state) {
		if b := st.brokers[id]; b != nil {
			found = true
			f(st, b)
		}
	})
	if err == nil && !found {
		err = fmt.Errorf("no broker %d", id)
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
	t.post(func(st *state) { st.peer(peer).nickname = name })
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
		t.emit(snapshot.Event{Kind: snapshot.KindFault, PeerTubID: peer, Message: "the next decision to this peer will be lost"})
	})
}

// Forget drops the slave-table entry for peer, so the next offer to it
// carries last-connection "none 0".
func (t *Tub) Forget(peer string) error {
	return t.do(func(st *state) { delete(st.slave, peer) })
}

// peerIfKnown is the peer's tubid once the state goroutine owns the
// broker's fields, "" while it still negotiates. Call on the state goroutine.
func (b *Broker) peerIfKnown() string {
	if b.state == snapshot.Negotiating {
		return ""
	}
	return b.peer
}

// Note puts a remark about peer into the event stream as a fault event:
// the demo narrates the faults it injects into its clients this way.
func (t *Tub) Note(peer, message string) {
	t.emit(snapshot.Event{Kind: snapshot.KindFault, PeerTubID: peer, Message: message})
}
