package tubclient

import (
	"cmp"
	"net"
	"slices"
	"time"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// ending says how and why a connection ends.
type ending struct {
	reason snapshot.CloseReason
	detail string
	err    error // a failed negotiation's error, for its event
	// leaveOpen keeps the socket open and silent (a silent restart, a lost
	// decision): the peer learns nothing until its own timers fire.
	leaveOpen  bool
	replacedBy uint64
}

// endLocked is the one way a connection ends, negotiating or attached:
// idempotent, on the state goroutine, with a typed reason. It closes (or
// abandons) the socket, drops the connection from the tables, fails its
// calls, records it in the peer's history, emits the event, and runs
// disconnect observers on their own goroutine so they may call the tub.
func (t *Tub) endLocked(st *state, id uint64, e ending) {
	now := time.Now()
	if p := st.pending[id]; p != nil {
		delete(st.pending, id)
		if e.leaveOpen {
			p.raw.BlackHole()
			st.keepZombie(p.raw)
		} else {
			p.raw.Close()
		}
		msg := e.detail
		if e.err != nil {
			msg = e.err.Error()
		}
		phase := *p.phase.Load()
		if ne, ok := e.err.(*NegotiationError); ok {
			phase = ne.Phase
		}
		t.emitLocked(st, snapshot.Event{Kind: snapshot.KindNegotiationFailed, BrokerID: id, PeerTubID: p.peer,
			Side: p.side, Remote: p.remote, Err: msg, Reason: phase, Close: e.reason})
		if p.peer != "" {
			t.peerRecord(st, p.peer, snapshot.ConnectionRecord{BrokerID: id, Side: p.side, Remote: p.remote,
				Opened: p.opened, Closed: now, End: e.reason, Detail: msg})
		}
		return
	}
	b := st.brokers[id]
	if b == nil || b.ended {
		return
	}
	b.ended = true
	delete(st.brokers, id)
	if st.byPeer[b.peer] == b {
		delete(st.byPeer, b.peer)
	}
	if e.leaveOpen {
		b.raw.BlackHole()
		b.out.shutdown(stopLeave)
		st.keepZombie(b.raw)
	} else {
		// A writer stuck on a peer that does not read gives up soon.
		b.raw.SetWriteDeadline(now.Add(closeGrace))
		b.out.shutdown(stopClean)
	}
	for _, pr := range st.probes[b] {
		pr.timer.Stop()
		pr.finish(st, negotiation.ProbeResult{Alive: false, Wait: time.Since(pr.start)})
	}
	delete(st.probes, b)
	close(b.done)
	b.pb.fail(&DeadReferenceError{Reason: e.detail})
	t.emitLocked(st, snapshot.Event{Kind: snapshot.KindBrokerDetached, BrokerID: b.id, PeerTubID: b.peer,
		Role: b.role, Side: b.side, Remote: b.remote, Reason: e.detail, Close: e.reason})
	t.peerEnded(st, b, e, now)
	if obs := b.observers; len(obs) > 0 {
		b.observers = nil
		t.spawn(func() {
			for _, f := range obs {
				f(e.detail)
			}
		})
	}
}

// keepZombie keeps a black-holed socket open until the tub closes, the
// oldest going first past maxZombies.
func (st *state) keepZombie(raw net.Conn) {
	st.zombies = append(st.zombies, raw)
	if len(st.zombies) > maxZombies {
		st.zombies[0].Close()
		st.zombies = st.zombies[1:]
	}
}

// maxZombies bounds the sockets kept open (black-holed) after silent
// restarts; past it the oldest are closed.
const maxZombies = 20000

// sortedIDs lists a map's connection ids in order, so bulk ends (a
// restart, Close) happen in a stable order.
func sortedIDs[V any](m map[uint64]V) []uint64 {
	ids := make([]uint64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, cmp.Compare)
	return ids
}
