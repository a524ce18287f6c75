package reconstruct

import (
	"fmt"
	"strings"
	"time"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient/flog"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// decideMaster records the verdict of a negotiation in which the logging
// tub was master: accept at its sendDecision line, reject at "rejecting
// the offer".
func (r *Reconstructor) decideMaster(n *nego, accept bool, t time.Time) {
	if n.decided {
		return
	}
	n.decided = true
	r.finish(n)
	ts := r.tub(n.local)
	rule, detail := r.masterRule(n, accept)
	d := snapshot.Decision{Time: t, PeerTubID: n.peer, Role: snapshot.Master, Accept: accept,
		Rule: string(rule), Detail: detail}
	if n.offer != nil {
		d.OfferIncarnation = n.offer.Incarnation
		d.OfferAttemptID = n.offer.AttemptID
		if n.offer.LastConnection != nil {
			d.OfferLast = n.offer.LastConnection.String()
		}
	}
	var p *peerState
	if n.peer != "" {
		p = ts.peer(r, n.peer, t)
	}
	if n.existing != nil {
		d.Existing = r.held(n, p, t)
	}
	if accept {
		d.Current = n.current
	} else {
		d.Error = "Duplicate connection"
	}
	if !r.opts.NoWhatIf {
		d.WhatIf = r.whatIf(n, d, ts, t)
	}
	if p != nil && accept {
		d.BrokerID = r.attach(ts, p, n, t, string(rule))
	} else if p != nil {
		p.snap.Rejects++
		p.snap.LastError, p.snap.LastErrorAt = fmt.Sprintf("offer rejected (%s)", rule), t
	}
	r.logDecision(ts, d)
	ts.activity.Offer(t, n.peer, accept, string(rule))
	r.emit(snapshot.Event{Time: t, Kind: snapshot.KindVerdict, TubID: ts.tubID, BrokerID: d.BrokerID,
		PeerTubID: n.peer, Role: snapshot.Master, Side: n.side, Remote: n.remote, Incarnation: d.OfferIncarnation,
		LastConnection: d.OfferLast, AttemptID: d.OfferAttemptID, Accept: boolp(accept), Rule: d.Rule,
		Detail: d.Detail, Current: d.Current})
	if accept && n.current != "" {
		r.emit(snapshot.Event{Time: t, Kind: snapshot.KindDecisionSent, TubID: ts.tubID, BrokerID: d.BrokerID,
			PeerTubID: n.peer, Role: snapshot.Master, Current: n.current, Accept: boolp(true)})
	}
}

// masterRule names the rule that decided, with the sentence tubscope's
// own policy gives for it when the logged inputs reproduce it.
func (r *Reconstructor) masterRule(n *nego, accept bool) (negotiation.Rule, string) {
	var rule negotiation.Rule
	switch {
	case n.ruleSeen:
		rule = n.rule
	case n.oldPeer && !n.handleOld && !accept:
		// One Foolscap line covers both: the offer tells which was missing.
		rule = negotiation.RuleNoIncarnation
		if n.offer != nil && n.offer.Incarnation != "" {
			rule = negotiation.RuleNoLastConnection
		}
	case !n.duplicate && accept && n.rootSeen:
		// No "got offer for an existing connection": nothing was held.
		rule = negotiation.RuleNoExisting
	default:
		return RuleUnknown, fmt.Sprintf("Foolscap %s the offer; the log no longer holds the lines that say why", verdictWord(accept))
	}
	in, ok := r.input(n, n.last)
	handleOld := rule == negotiation.RuleHandleOldAged || rule == negotiation.RuleHandleOldYoung
	if ok && handleOld && (in.Existing == nil || in.Existing.Created.IsZero() || n.threshold < 0) {
		// The verdict turned on an age or a threshold the log does not show.
		ok = false
	}
	if ok {
		threshold := time.Duration(0)
		if n.handleOld {
			threshold = time.Duration(n.threshold) * time.Second
		}
		v := negotiation.Foolscap{HandleOld: threshold}.Decide(in)
		if v.Rule == rule && v.Accept == accept {
			return rule, v.Detail
		}
	}
	return rule, r.loggedDetail(n, rule, accept)
}

// loggedDetail says what the log itself shows when the inputs are not
// all there to reproduce the rule.
func (r *Reconstructor) loggedDetail(n *nego, rule negotiation.Rule, accept bool) string {
	switch {
	case rule == negotiation.RuleNoExisting && n.peer != "":
		return fmt.Sprintf("no established broker for tubid %s, so the offer is accepted", n.peer)
	case rule == negotiation.RuleNoExisting:
		return "no established broker for the offering tub, so the offer is accepted"
	case rule == negotiation.RuleHandleOldYoung && n.age >= 0:
		return fmt.Sprintf("offer cannot be compared (no my-incarnation or last-connection) and the broker is only %ds old, under the %ds handle-old threshold", n.age, n.threshold)
	case rule == negotiation.RuleHandleOldAged:
		if created, ok := r.heldCreated(n, n.last); ok {
			return fmt.Sprintf("offer cannot be compared (no my-incarnation or last-connection) and the broker is %s old, old enough for the handle-old threshold (Foolscap does not log it when it accepts)", n.last.Sub(created).Round(time.Millisecond))
		}
		return "offer cannot be compared (no my-incarnation or last-connection) and the broker is old enough for the handle-old threshold"
	case rule == negotiation.RuleNewerSeqNum && n.existing != nil:
		return fmt.Sprintf("offer seqnum %d is newer than the broker's %d, which no well-behaved peer sends", n.newerOffer, n.existing.SeqNum)
	case n.ruleSeen:
		return fmt.Sprintf("Foolscap %s the offer: %s", verdictWord(accept), n.ruleEvent.Text())
	}
	return fmt.Sprintf("Foolscap %s the offer", verdictWord(accept))
}

func verdictWord(accept bool) string {
	if accept {
		return "accepted"
	}
	return "rejected"
}

// input rebuilds the inputs Foolscap decided on: the offer, the broker it
// held, its own incarnation. ok is false when the log lacks the offer.
func (r *Reconstructor) input(n *nego, t time.Time) (negotiation.Input, bool) {
	if n.offer == nil {
		return negotiation.Input{}, false
	}
	in := negotiation.Input{Offer: *n.offer, MyIncarnation: n.localInc, Now: t}
	if in.MyIncarnation == "" {
		if c, err := negotiation.ParseConnection(n.current); err == nil {
			in.MyIncarnation = c.MasterIncarnation
		} else if ts := r.tub(n.local); len(ts.incarnations) > 0 {
			in.MyIncarnation = ts.incarnations[len(ts.incarnations)-1]
		}
	}
	if n.existing != nil {
		ex := &negotiation.Existing{SlaveIncarnation: n.existing.MasterIncarnation, SeqNum: n.existing.SeqNum}
		if created, ok := r.heldCreated(n, t); ok {
			ex.Created = created
		}
		in.Existing = ex
	}
	return in, true
}

// heldCreated is when the held broker attached: from the reconstructed
// broker when its seqnum matches, else from handle-old's logged age.
func (r *Reconstructor) heldCreated(n *nego, t time.Time) (time.Time, bool) {
	if n.peer != "" && n.existing != nil {
		if p := r.tub(n.local).peers[n.peer]; p != nil && p.broker != nil && p.broker.SeqNum == n.existing.SeqNum {
			return p.broker.Created, true
		}
	}
	if n.age >= 0 {
		return t.Add(-time.Duration(n.age) * time.Second), true
	}
	return time.Time{}, false
}

// held is the decision's record of the connection the offer competed
// with.
func (r *Reconstructor) held(n *nego, p *peerState, t time.Time) *snapshot.Held {
	h := &snapshot.Held{SlaveIncarnation: n.existing.MasterIncarnation, SeqNum: n.existing.SeqNum}
	if p != nil && p.broker != nil && p.broker.SeqNum == n.existing.SeqNum {
		h.BrokerID = p.broker.ID
		h.Created = p.broker.Created
		h.LastReceived = p.broker.LastReceived
	} else if created, ok := r.heldCreated(n, t); ok {
		h.Created = created
	}
	return h
}

// logDecision appends to the tub's capped decision log.
func (r *Reconstructor) logDecision(ts *tubState, d snapshot.Decision) {
	ts.decTotal++
	r.stats.Decisions++
	d.Seq = ts.decTotal
	if len(ts.decisions) < r.opts.MaxDecisions {
		ts.decisions = append(ts.decisions, d)
		return
	}
	ts.decisions[ts.decHead] = d
	ts.decHead = (ts.decHead + 1) % len(ts.decisions)
}

// attach makes the negotiated connection the peer's broker, replacing
// the one held: Foolscap has already dropped it when it accepts (as
// master) or when its master decided again (as slave).
func (r *Reconstructor) attach(ts *tubState, p *peerState, n *nego, t time.Time, rule string) uint64 {
	r.brokers++
	id := r.brokers
	seq := uint64(0)
	if c, err := negotiation.ParseConnection(n.current); err == nil {
		seq = c.SeqNum
	}
	if old := p.broker; old != nil {
		r.endBroker(ts, p, snapshot.CloseReplaced, "replaced by a new connection", id, t)
		p.replaced = append(p.replaced, old.ID)
		if len(p.replaced) > 16 {
			p.replaced = p.replaced[1:]
		}
	}
	b := &snapshot.Broker{ID: id, PeerTubID: p.snap.TubID, Role: n.role, Side: n.side, State: snapshot.Live,
		RemoteAddr: n.remote, SeqNum: seq, Created: t}
	if n.offer != nil {
		b.PeerIncarnation = n.offer.Incarnation
	}
	if n.role == snapshot.Master {
		b.SlaveIncarnation = b.PeerIncarnation
		if n.slaveIR != "" {
			b.SlaveIncarnation = n.slaveIR
		}
	} else {
		b.SlaveIncarnation = n.localInc
	}
	p.broker = b
	p.snap.State, p.snap.BrokerID, p.snap.Connected = snapshot.PeerLive, id, t
	p.snap.Attempts, p.snap.Rejects, p.snap.LockedOutSince = 0, 0, time.Time{}
	rec := snapshot.ConnectionRecord{BrokerID: id, Side: n.side, Role: n.role, Remote: n.remote, Opened: n.started,
		Attached: t, SeqNum: seq, PeerIncarnation: b.PeerIncarnation, Rule: rule}
	p.snap.History = append(p.snap.History, rec)
	if over := len(p.snap.History) - r.opts.MaxHistory; over > 0 {
		p.snap.History = p.snap.History[over:]
	}
	if n.role == snapshot.Master {
		p.master = &snapshot.MasterEntry{PeerTubID: p.snap.TubID, SlaveIncarnation: b.SlaveIncarnation, SeqNum: seq, Updated: t}
	} else if c, err := negotiation.ParseConnection(n.current); err == nil {
		p.slave = &snapshot.SlaveEntry{PeerTubID: p.snap.TubID, MasterIncarnation: c.MasterIncarnation, SeqNum: c.SeqNum, Updated: t}
	}
	ts.activity.Attached(t, p.snap.TubID)
	r.emit(snapshot.Event{Time: t, Kind: snapshot.KindBrokerAttached, TubID: ts.tubID, BrokerID: id,
		PeerTubID: p.snap.TubID, Role: n.role, Side: n.side, Remote: n.remote, Incarnation: b.PeerIncarnation,
		Current: n.current, Rule: rule})
	return id
}

// endBroker closes the peer's broker in the tables and its history.
func (r *Reconstructor) endBroker(ts *tubState, p *peerState, why snapshot.CloseReason, detail string, by uint64, t time.Time) {
	b := p.broker
	if b == nil {
		return
	}
	for i := len(p.snap.History) - 1; i >= 0; i-- {
		h := &p.snap.History[i]
		if h.BrokerID == b.ID {
			h.End, h.Detail, h.ReplacedBy = why, detail, by
			if why != snapshot.CloseReplaced {
				// A replaced connection closes when its loss is logged.
				h.Closed = t
			}
			break
		}
	}
	p.broker = nil
	p.snap.State, p.snap.BrokerID, p.snap.Connected = snapshot.PeerIdle, 0, time.Time{}
	if !p.snap.LockedOutSince.IsZero() {
		p.snap.State = snapshot.PeerLockedOut
	}
	if why != snapshot.CloseReplaced {
		ts.activity.Lost(t, p.snap.TubID)
	}
	r.emit(snapshot.Event{Time: t, Kind: snapshot.KindBrokerDetached, TubID: ts.tubID, BrokerID: b.ID,
		PeerTubID: p.snap.TubID, Role: b.Role, Side: b.Side, Close: why, Reason: detail})
}

// decideSlave records a decision the logging tub received as slave.
func (r *Reconstructor) decideSlave(n *nego, d map[string]string, t time.Time) {
	if n.decided {
		return
	}
	n.decided = true
	r.finish(n)
	ts := r.tub(n.local)
	dec := snapshot.Decision{Time: t, PeerTubID: n.peer, Role: snapshot.Slave,
		OfferIncarnation: n.localInc, OfferLast: n.localLast}
	var p *peerState
	if n.peer != "" {
		p = ts.peer(r, n.peer, t)
		if n.offer != nil {
			r.sawIncarnation(p, n.offer.Incarnation, t)
		}
	}
	if msg, refused := d[negotiation.KeyError]; refused {
		dec.Rule, dec.Error = string(negotiation.RuleMasterRejected), msg
		dec.Detail = fmt.Sprintf("the master refused our offer (last-connection %s): %s", orNone(n.localLast), msg)
		if p != nil {
			p.snap.Rejects++
			p.snap.LastError, p.snap.LastErrorAt = "rejected by the master: "+msg, t
			if p.snap.LockedOutSince.IsZero() {
				p.snap.LockedOutSince = t
			}
			if p.broker == nil {
				p.snap.State = snapshot.PeerLockedOut
			}
		}
	} else {
		dec.Accept = true
		n.current = d[negotiation.KeyCurrent]
		var got *negotiation.Connection
		if c, err := negotiation.ParseConnection(n.current); err == nil {
			got = &c
		}
		v := negotiation.SlaveVerdict(nil, got)
		dec.Rule, dec.Detail, dec.Current = string(v.Rule), v.Detail, n.current
		if p != nil && p.broker != nil {
			dec.Detail += ", so the connection held so far is dropped"
		}
		if p != nil {
			dec.BrokerID = r.attach(ts, p, n, t, dec.Rule)
		}
	}
	r.logDecision(ts, dec)
	r.emit(snapshot.Event{Time: t, Kind: snapshot.KindDecisionReceived, TubID: ts.tubID, BrokerID: dec.BrokerID,
		PeerTubID: n.peer, Role: snapshot.Slave, Side: n.side, Remote: n.remote, Incarnation: dec.OfferIncarnation,
		LastConnection: dec.OfferLast, Accept: boolp(dec.Accept), Rule: dec.Rule, Detail: dec.Detail,
		Current: dec.Current, Err: dec.Error})
}

func orNone(s string) string {
	if s == "" {
		return "absent"
	}
	return s
}

// failed handles negotiationFailed: a rejected offer's last line, or a
// negotiation that ended before any decision.
func (r *Reconstructor) failed(n *nego, ev flog.Event, t time.Time) {
	if n.ruleSeen && !n.decided {
		r.decideMaster(n, n.ruleAccept, t)
	}
	if n.decided {
		return
	}
	n.decided = true
	r.finish(n)
	why := strings.TrimPrefix(strings.TrimPrefix(ev.Message(), "negotiationFailed"), ": ")
	if why == "" {
		if f, ok := ev.Failure(); ok {
			why = firstLine(fmt.Sprint(flogValueText(f)))
		}
	}
	if why == "" {
		why = "negotiation failed"
	}
	ts := r.tub(n.local)
	if n.peer != "" {
		p := ts.peer(r, n.peer, t)
		p.snap.LastError, p.snap.LastErrorAt = "negotiation failed: "+why, t
		p.snap.Attempts++
	}
	r.emit(snapshot.Event{Time: t, Kind: snapshot.KindNegotiationFailed, TubID: ts.tubID, PeerTubID: n.peer,
		Role: n.role, Side: n.side, Remote: n.remote, Close: snapshot.CloseNegotiationFailed, Err: why})
}

func flogValueText(v any) string {
	if p, ok := v.(flog.Placeholder); ok {
		return p.Repr()
	}
	return fmt.Sprint(v)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// lost handles "connection to XXXX lost": Foolscap names the peer by the
// first four characters of its tubid only, and logs the loss of a
// replaced connection too, once its socket closes. A replaced connection
// still open takes the loss first; otherwise the established one ends.
func (r *Reconstructor) lost(ev flog.Event, t time.Time) bool {
	prefix := strings.TrimSuffix(strings.TrimPrefix(ev.Message(), "connection to "), " lost")
	if prefix == "" || prefix == "?" {
		return false
	}
	var best *peerState
	var bestTub *tubState
	for _, id := range r.tubOrder {
		ts := r.tubs[id]
		for _, p := range ts.byPrefix[lostPrefix(prefix)] {
			if !strings.HasPrefix(p.snap.TubID, prefix) || (p.broker == nil && len(p.replaced) == 0) {
				continue
			}
			if best == nil || len(p.replaced) > len(best.replaced) ||
				(len(p.replaced) == len(best.replaced) && p.lastActive.After(best.lastActive)) {
				best, bestTub = p, ts
			}
		}
	}
	if best == nil {
		return false
	}
	if len(best.replaced) > 0 {
		id := best.replaced[0]
		best.replaced = best.replaced[1:]
		for i := len(best.snap.History) - 1; i >= 0; i-- {
			if h := &best.snap.History[i]; h.BrokerID == id {
				h.Closed = t
				break
			}
		}
		return true
	}
	r.endBroker(bestTub, best, snapshot.ClosePeerClosed, "connection lost (Foolscap logs no reason)", 0, t)
	return true
}
