package tubclient

import (
	"errors"
	"fmt"
	"time"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// offerReceivedLocked records the peer's hello.
// It does nothing before the hello has been read, or once done.
func (t *Tub) offerReceivedLocked(st *state, h *handshake) {
	if h.offer.TubID == "" || h.offerSeen {
		return
	}
	h.offerSeen = true
	now := time.Now()
	o := h.offer
	if p := st.pending[h.id]; p != nil {
		p.peer = o.TubID
	}
	t.sawIncarnation(st, o.TubID, o.Incarnation, now)
	t.emitLocked(st, snapshot.Event{Kind: snapshot.KindOfferReceived, BrokerID: h.id, PeerTubID: o.TubID,
		Side: h.side, Remote: h.remote, Incarnation: o.Incarnation, AttemptID: o.AttemptID,
		LastConnection: formatConn(o.LastConnection),
		BananaRange:    fmt.Sprintf("%d %d", o.BananaMin, o.BananaMax),
		VocabRange:     fmt.Sprintf("%d %d", o.VocabMin, o.VocabMax)})
}

// held is the master's record of the established broker an offer competes with.
func held(b *Broker) *negotiation.Existing {
	if b == nil {
		return nil
	}
	return &negotiation.Existing{
		SlaveIncarnation: b.slaveIncarnation,
		SeqNum:           b.seq,
		AttemptID:        b.attempt,
		Created:          b.attached,
		LastReceived:     time.Unix(0, b.lastRx.Load()),
	}
}

// decide evaluates an offer as master, on the state goroutine. A probing
// policy may hold the verdict until the existing broker answers a PING.
func (t *Tub) decide(st *state, h *handshake, reply chan<- decideReply) {
	offer := h.offer
	in := negotiation.Input{Offer: offer, MyIncarnation: st.incarnation, MyAttemptIDs: !t.cfg.NoAttemptID, Now: time.Now()}
	existing := st.byPeer[offer.TubID]
	in.Existing = held(existing)
	if p := st.peers[offer.TubID]; p != nil && p.clone {
		if v, ok := negotiation.CloneGuard(in, p.lastAccept, t.cfg.CloneHoldoff); ok {
			t.finishDecide(st, h, in, v, reply)
			return
		}
	}
	policy := st.policy
	v := policy.Decide(in)
	if prober, ok := policy.(negotiation.Prober); ok && v.Probe && existing != nil {
		t.emitLocked(st, t.decisionEvent(snapshot.KindVerdict, t.masterDecision(st, h, in, v)))
		wait := prober.ProbeWait(time.Duration(existing.rtt.Load()))
		t.probe(st, existing, wait, func(st *state, r negotiation.ProbeResult) {
			in.Now = time.Now()
			t.finishDecide(st, h, in, prober.Resolve(in, r), reply)
		})
		return
	}
	t.finishDecide(st, h, in, v, reply)
}

// masterDecision is the decision-log row for a verdict on h's offer.
func (t *Tub) masterDecision(st *state, h *handshake, in negotiation.Input, v negotiation.Verdict) snapshot.Decision {
	o := h.offer
	d := snapshot.Decision{
		Time: in.Now, PeerTubID: o.TubID, BrokerID: h.id, Role: snapshot.Master,
		OfferIncarnation: o.Incarnation, OfferLast: formatConn(o.LastConnection),
		OfferAttemptID: o.AttemptID, Accept: v.Accept, Rule: string(v.Rule), Detail: v.Detail,
	}
	if e := in.Existing; e != nil {
		d.Existing = &snapshot.Held{SlaveIncarnation: e.SlaveIncarnation, SeqNum: e.SeqNum,
			AttemptID: e.AttemptID, Created: e.Created, LastReceived: e.LastReceived}
		if b := st.byPeer[o.TubID]; b != nil {
			d.Existing.BrokerID = b.id
		}
		d.WhatIf = whatIf(st.policy.Name(), in, v)
	}
	return d
}

// whatIf re-decides the same inputs under every other policy and keeps
// the verdicts that differ. A probing policy's answer depends on the
// probe, so it is asked as if the held connection had stayed silent.
func whatIf(current string, in negotiation.Input, v negotiation.Verdict) []snapshot.Alternative {
	var out []snapshot.Alternative
	for _, name := range negotiation.PolicyNames() {
		if name == current {
			continue
		}
		p, err := negotiation.PolicyByName(name)
		if err != nil {
			continue
		}
		alt := p.Decide(in)
		if prober, ok := p.(negotiation.Prober); ok && alt.Probe {
			alt = prober.Resolve(in, negotiation.ProbeResult{Alive: false, Wait: prober.ProbeWait(0)})
			alt.Detail = "if the held connection stayed silent through a probe: " + alt.Detail
		}
		if alt.Accept != v.Accept {
			out = append(out, snapshot.Alternative{Policy: name, Accept: alt.Accept, Rule: string(alt.Rule), Detail: alt.Detail})
		}
	}
	return out
}

// decisionEvent is the event form of a decision-log row: one decision type
// serves the log, the events and the views.
func (t *Tub) decisionEvent(kind snapshot.Kind, d snapshot.Decision) snapshot.Event {
	return snapshot.Event{Kind: kind, Time: d.Time, BrokerID: d.BrokerID, PeerTubID: d.PeerTubID, Role: d.Role,
		Incarnation: d.OfferIncarnation, LastConnection: d.OfferLast, AttemptID: d.OfferAttemptID,
		Accept: boolp(d.Accept), Rule: d.Rule, Detail: d.Detail, Current: d.Current, Err: d.Error}
}

func (t *Tub) finishDecide(st *state, h *handshake, in negotiation.Input, v negotiation.Verdict, reply chan<- decideReply) {
	rec := t.masterDecision(st, h, in, v)
	offer := h.offer
	p := st.pending[h.id]
	if v.Accept && (p == nil || p.aborted) {
		// The offering connection died while the verdict was held.
		rec.Accept = false
		rec.Detail = v.Detail + " (but the offering connection closed before the decision)"
	}
	if !v.Probe || !rec.Accept {
		t.emitLocked(st, t.decisionEvent(snapshot.KindVerdict, rec))
	}
	st.activity.Offer(rec.Time, offer.TubID, rec.Accept, rec.Rule)
	existing := st.byPeer[offer.TubID]
	if !rec.Accept {
		if v.DropExisting && existing != nil {
			t.endLocked(st, existing.id, ending{reason: snapshot.ClosePolicy,
				detail: fmt.Sprintf("dropped by %s: a duplicate offer arrived", st.policy.Name())})
		}
		rec.Error = duplicateText
		t.logDecision(st, rec)
		t.peerRejected(st, offer.TubID, rec.Time, fmt.Sprintf("we refused its offer (%s)", rec.Rule))
		reply <- decideReply{err: ErrDuplicateConnection}
		return
	}
	seq := uint64(1)
	if e := st.master[offer.TubID]; e != nil {
		seq = e.SeqNum + 1
	}
	st.master[offer.TubID] = &snapshot.MasterEntry{PeerTubID: offer.TubID, SlaveIncarnation: offer.Incarnation,
		SeqNum: seq, AttemptID: offer.AttemptID, Updated: rec.Time}
	cur := negotiation.Connection{MasterIncarnation: st.incarnation, SeqNum: seq}
	rec.Current = cur.String()
	t.logDecision(st, rec)
	st.peer(offer.TubID).lastAccept = rec.Time
	decision := negotiation.AcceptDecision(h.version, cur).Block().Encode()
	b := t.attachLocked(st, h, attachment{seq: seq, slaveInc: offer.Incarnation, ownInc: st.incarnation,
		rule: rec.Rule, replaces: existing, decision: decision, loseDecision: takeLoss(st, offer.TubID)})
	reply <- decideReply{b: b}
}

// acceptDecision applies the master's decision as slave, on the state
// goroutine. It answers with an error when the master refused.
func (t *Tub) acceptDecision(st *state, h *handshake, reply chan<- decideReply) {
	d := h.decision
	peer := h.offer.TubID
	rec := snapshot.Decision{
		Time: time.Now(), PeerTubID: peer, BrokerID: h.id, Role: snapshot.Slave,
		OfferIncarnation: h.ownInc, OfferLast: formatConn(h.last), OfferAttemptID: h.attempt,
	}
	if d.Current != nil {
		rec.Current = d.Current.String()
	}
	finish := func(err error) {
		t.logDecision(st, rec)
		t.emitLocked(st, t.decisionEvent(snapshot.KindDecisionReceived, rec))
		st.activity.Offer(rec.Time, peer, rec.Accept, rec.Rule)
		reply <- decideReply{err: err}
	}
	if d.Error != "" {
		rec.Rule, rec.Error = string(negotiation.RuleMasterRejected), d.Error
		rec.Detail = masterRejectedDetail(h.last, d.Error)
		t.peerRejected(st, peer, rec.Time, "the master refused our offer: "+d.Error)
		finish(errors.New(d.Error))
		return
	}
	p := st.pending[h.id]
	if p == nil || p.aborted {
		reply <- decideReply{err: errors.New("connection closed during negotiation")}
		return
	}
	if takeLoss(st, peer) {
		p.silent = true
		rec.Rule = string(negotiation.RuleDecisionLost)
		rec.Detail = "lost on arrival (fault injected): the master accepted this connection, but this tub never sees it"
		if rec.Current != "" {
			rec.Detail = fmt.Sprintf("lost on arrival (fault injected): the master numbered this connection %s, but this tub never sees it", rec.Current)
		}
		finish(errDecisionLost)
		return
	}
	existing := st.byPeer[peer]
	var heldConn *negotiation.Connection
	if existing != nil && existing.seq > 0 {
		heldConn = &negotiation.Connection{MasterIncarnation: existing.peerIncarnation, SeqNum: existing.seq}
	}
	v := negotiation.SlaveVerdict(heldConn, d.Current)
	rec.Accept, rec.Rule, rec.Detail = v.Accept, string(v.Rule), v.Detail
	if !v.Accept {
		finish(errors.New(v.Detail))
		return
	}
	var seq uint64
	if d.Current != nil {
		st.slave[peer] = &snapshot.SlaveEntry{PeerTubID: peer, MasterIncarnation: d.Current.MasterIncarnation,
			SeqNum: d.Current.SeqNum, Updated: rec.Time}
		seq = d.Current.SeqNum
	}
	t.logDecision(st, rec)
	t.emitLocked(st, t.decisionEvent(snapshot.KindDecisionReceived, rec))
	st.activity.Offer(rec.Time, peer, true, rec.Rule)
	b := t.attachLocked(st, h, attachment{seq: seq, slaveInc: h.ownInc, ownInc: h.ownInc, rule: rec.Rule, replaces: existing})
	reply <- decideReply{b: b}
}

// masterRejectedDetail explains a refusal as slave: the master sends only
// "Duplicate connection", so the sentence says what our offer carried,
// which is what the master's rules weighed.
func masterRejectedDetail(last *negotiation.Connection, text string) string {
	if text != duplicateText {
		return "the master refused our offer: " + text
	}
	switch {
	case last == nil:
		return "the master already holds a connection with us and our offer carried no last-connection, so it kept the old one"
	case last.MasterIncarnation == "none":
		return "the master already holds a connection with us, and our offer (last-connection none) says we never saw its decision, so it took this for a parallel attempt"
	default:
		return fmt.Sprintf("the master already holds a connection with us and our offer (last-connection %s) does not name it, so it kept the old one", last)
	}
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

func boolp(v bool) *bool { return &v }

// formatConn renders a last-connection as its hello line carries it, ""
// when absent.
func formatConn(c *negotiation.Connection) string {
	if c == nil {
		return ""
	}
	return c.String()
}
