package tubclient

import (
	"errors"
	"fmt"
	"time"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// decide evaluates an offer as master, on the state goroutine. A probing
// policy may hold the verdict until the existing broker answers a PING.
func (t *Tub) decide(st *state, b *Broker, offer negotiation.Hello, version int, reply chan<- masterReply) {
	now := time.Now()
	in := negotiation.Input{Offer: offer, MyIncarnation: st.incarnation, MyAttemptIDs: !t.cfg.NoAttemptID, Now: now}
	existing := st.byPeer[offer.TubID]
	if existing != nil {
		in.Existing = &negotiation.Existing{
			SlaveIncarnation: existing.slaveIncarnation,
			SeqNum:           existing.seq,
			AttemptID:        existing.attempt,
			Created:          existing.created,
			LastReceived:     time.Unix(0, existing.lastRx.Load()),
		}
	}
	policy := st.policy
	if p := st.peers[offer.TubID]; p != nil && p.clone {
		if v, ok := negotiation.CloneGuard(in, p.lastAccept, t.cfg.CloneHoldoff); ok {
			t.finishDecide(st, b, offer, v, version, reply)
			return
		}
	}
	v := policy.Decide(in)
	if prober, ok := policy.(negotiation.Prober); ok && v.Probe && existing != nil {
		t.emit(t.verdictEvent(b, offer, v))
		wait := prober.ProbeWait(time.Duration(existing.rtt.Load()))
		t.probe(st, existing, wait, func(st *state, r negotiation.ProbeResult) {
			in.Now = time.Now()
			t.finishDecide(st, b, offer, prober.Resolve(in, r), version, reply)
		})
		return
	}
	t.finishDecide(st, b, offer, v, version, reply)
}

func (t *Tub) verdictEvent(b *Broker, offer negotiation.Hello, v negotiation.Verdict) snapshot.Event {
	return snapshot.Event{Kind: snapshot.KindVerdict, BrokerID: b.id, PeerTubID: offer.TubID,
		Role: snapshot.Master, Incarnation: offer.Incarnation, LastConnection: formatConn(offer.LastConnection),
		AttemptID: offer.AttemptID, Accept: boolp(v.Accept), Rule: string(v.Rule), Detail: v.Detail}
}

func (t *Tub) finishDecide(st *state, b *Broker, offer negotiation.Hello, v negotiation.Verdict, version int, reply chan<- masterReply) {
	now := time.Now()
	rec := snapshot.Decision{
		Time: now, PeerTubID: offer.TubID, BrokerID: b.id, Role: snapshot.Master,
		OfferIncarnation: offer.Incarnation, OfferLast: formatConn(offer.LastConnection),
		OfferAttemptID: offer.AttemptID, Accept: v.Accept, Rule: string(v.Rule), Detail: v.Detail,
	}
	if v.Accept && (b.closing.Load() || st.brokers[b.id] == nil) {
		// The offering connection died while the verdict was held.
		v.Accept = false
		rec.Accept = false
		rec.Detail = v.Detail + " (but the offering connection closed before the decision)"
	}
	if !v.Probe {
		t.emit(t.verdictEvent(b, offer, v))
	}
	existing := st.byPeer[offer.TubID]
	if !v.Accept {
		if v.DropExisting && existing != nil {
			t.detachLocked(st, existing, fmt.Sprintf("dropped by %s: a duplicate offer arrived", st.policy.Name()))
		}
		rec.Error = duplicateText
		t.logDecision(st, rec)
		reply <- masterReply{err: errors.New(duplicateText)}
		return
	}
	if existing != nil && existing != b {
		t.detachLocked(st, existing, fmt.Sprintf("replaced by a new connection (%s)", v.Rule))
	}
	seq := uint64(1)
	if e := st.master[offer.TubID]; e != nil {
		seq = e.SeqNum + 1
	}
	st.master[offer.TubID] = &snapshot.MasterEntry{PeerTubID: offer.TubID, SlaveIncarnation: offer.Incarnation,
		SeqNum: seq, AttemptID: offer.AttemptID, Updated: now}
	b.seq = seq
	b.slaveIncarnation = offer.Incarnation
	cur := negotiation.Connection{MasterIncarnation: st.incarnation, SeqNum: seq}
	b.ownIncarnation = st.incarnation
	t.attachLocked(st, b)
	st.peer(offer.TubID).lastAccept = now
	rec.Current = cur.String()
	t.logDecision(st, rec)
	reply <- masterReply{decision: negotiation.AcceptDecision(version, cur), lose: takeLoss(st, offer.TubID)}
}

// acceptDecision applies the master's decision as slave, on the state
// goroutine. It returns an error when the master refused.
func (t *Tub) acceptDecision(st *state, b *Broker, d negotiation.Decision) error {
	now := time.Now()
	rec := snapshot.Decision{
		Time: now, PeerTubID: b.peer, BrokerID: b.id, Role: snapshot.Slave,
		OfferIncarnation: b.ownIncarnation, OfferLast: b.sentLast, OfferAttemptID: b.attempt,
	}
	ev := snapshot.Event{Kind: snapshot.KindDecisionReceived, BrokerID: b.id, PeerTubID: b.peer, Role: snapshot.Slave,
		Incarnation: b.ownIncarnation, LastConnection: b.sentLast, AttemptID: b.attempt}
	if d.Error != "" {
		rec.Rule, rec.Error = string(negotiation.RuleMasterRejected), d.Error
		rec.Detail = fmt.Sprintf("the master refused our offer (last-connection %s): %s", orNone(b.sentLast), d.Error)
		ev.Accept, ev.Rule, ev.Detail, ev.Err = boolp(false), rec.Rule, rec.Detail, d.Error
		t.logDecision(st, rec)
		t.emit(ev)
		return errors.New(d.Error)
	}
	if b.closing.Load() || st.brokers[b.id] == nil {
		return errBrokerGone
	}
	if takeLoss(st, b.peer) {
		rec.Rule = string(negotiation.RuleDecisionLost)
		rec.Detail = "lost on arrival (fault injected): the master accepted this connection, but this tub never sees it"
		if d.Current != nil {
			rec.Current = d.Current.String()
			rec.Detail = fmt.Sprintf("lost on arrival (fault injected): the master numbered this connection %s, but this tub never sees it", rec.Current)
		}
		ev.Accept, ev.Rule, ev.Detail, ev.Current = boolp(false), rec.Rule, rec.Detail, rec.Current
		t.logDecision(st, rec)
		t.emit(ev)
		return errDecisionLost
	}
	existing := st.byPeer[b.peer]
	if existing == b {
		existing = nil
	}
	var held *negotiation.Connection
	if existing != nil && existing.seq > 0 {
		held = &negotiation.Connection{MasterIncarnation: existing.peerIncarnation, SeqNum: existing.seq}
	}
	v := negotiation.SlaveVerdict(held, d.Current)
	rec.Accept, rec.Rule, rec.Detail = v.Accept, string(v.Rule), v.Detail
	if d.Current != nil {
		rec.Current = d.Current.String()
	}
	ev.Accept, ev.Rule, ev.Detail, ev.Current = boolp(v.Accept), rec.Rule, rec.Detail, rec.Current
	if !v.Accept {
		t.logDecision(st, rec)
		t.emit(ev)
		return errors.New(v.Detail)
	}
	if d.Current != nil {
		st.slave[b.peer] = &snapshot.SlaveEntry{PeerTubID: b.peer, MasterIncarnation: d.Current.MasterIncarnation,
			SeqNum: d.Current.SeqNum, Updated: now}
		b.seq = d.Current.SeqNum
	}
	b.slaveIncarnation = b.ownIncarnation
	t.logDecision(st, rec)
	t.emit(ev)
	if existing != nil {
		t.detachLocked(st, existing, "the master chose a newer connection")
	}
	t.attachLocked(st, b)
	return nil
}

// errDecisionLost tells the slave's negotiation that LoseNextDecision
// claimed the decision it just read.
var errDecisionLost = errors.New("decision lost by fault injection")

// takeLoss consumes a LoseNextDecision armed for peer, or for any peer.
func takeLoss(st *state, peer string) bool {
	for _, key := range []string{peer, ""} {
		if st.loseDecision[key] {
			delete(st.loseDecision, key)
			return true
		}
	}
	return false
}

func orNone(s string) string {
	if s == "" {
		return "absent"
	}
	return s
}
