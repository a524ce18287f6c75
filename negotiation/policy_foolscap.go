package negotiation

import "time"

// Foolscap is Foolscap 21.7's duplicate-connection rule set. HandleOld > 0
// is its handle-old-duplicate-connections option: offers too old to compare
// replace a broker at least that old.
type Foolscap struct {
	HandleOld time.Duration
}

func (Foolscap) Name() string { return PolicyFoolscap }

func (p Foolscap) Decide(in Input) Verdict {
	if v, done := noExisting(in); done {
		return v
	}
	return foolscapRules(in, p.HandleOld)
}

// HandleOld is Foolscap with handle-old-duplicate-connections set, for peers
// that send no incarnation or no last-connection. Threshold defaults to 60 s.
type HandleOld struct {
	Threshold time.Duration
}

func (HandleOld) Name() string { return PolicyHandleOld }

func (p HandleOld) Decide(in Input) Verdict {
	if v, done := noExisting(in); done {
		return v
	}
	return foolscapRules(in, orDefault(p.Threshold, DefaultAgeThreshold))
}

// foolscapRules are the seven steps of Foolscap 21.7's
// compareOfferAndExisting, in its order. in.Existing must be set.
func foolscapRules(in Input, handleOld time.Duration) Verdict {
	if v, done := oldPeerRule(in, handleOld); done {
		return v
	}
	if v, done := newIncarnationRule(in); done {
		return v
	}
	ex, lc := in.Existing, in.Offer.LastConnection
	// Step 3: the peer never heard a decision from us, yet we hold a broker
	// for it, so this is most likely a parallel attempt via another hint.
	if lc.MasterIncarnation == NoMasterIncarnation {
		return reject(RuleNeverDecided, "offer last-connection is %s while the broker holds seqnum %d: the peer never heard our decision, most likely a parallel attempt", lc, ex.SeqNum)
	}
	return seqNumRules(in, false)
}

// oldPeerRule is step 1: an offer without my-incarnation or last-connection
// cannot be compared, so it is rejected to avoid flapping unless the
// handle-old age heuristic is on.
func oldPeerRule(in Input, handleOld time.Duration) (Verdict, bool) {
	o := in.Offer
	if o.Incarnation != "" && o.LastConnection != nil {
		return Verdict{}, false
	}
	if handleOld > 0 {
		age := brokerAge(in)
		if age >= handleOld {
			return accept(RuleHandleOldAged, "offer cannot be compared (no my-incarnation or last-connection) and the broker is %s old, at least the %s handle-old threshold", age, handleOld), true
		}
		return reject(RuleHandleOldYoung, "offer cannot be compared (no my-incarnation or last-connection) and the broker is only %s old, under the %s handle-old threshold", age, handleOld), true
	}
	if o.Incarnation == "" {
		return reject(RuleNoIncarnation, "offer carries no my-incarnation to compare with the broker's slave incarnation %q, so the broker is kept", in.Existing.SlaveIncarnation), true
	}
	return reject(RuleNoLastConnection, "offer from incarnation %s carries no last-connection (a server-side or pre-0.2 hello), so the broker is kept", o.Incarnation), true
}

// newIncarnationRule is step 2: a different slave incarnation means the peer
// restarted, so the existing broker is dead.
func newIncarnationRule(in Input) (Verdict, bool) {
	if in.Offer.Incarnation == in.Existing.SlaveIncarnation {
		return Verdict{}, false
	}
	return accept(RuleNewIncarnation, "offer incarnation %s differs from the broker's %s: the peer restarted", in.Offer.Incarnation, in.Existing.SlaveIncarnation), true
}

// seqNumRules are steps 4 to 7, applied once the offer names a master
// incarnation. acceptOlder is the 0.2.0/0.2.1 variant that accepted an
// older seqnum.
func seqNumRules(in Input, acceptOlder bool) Verdict {
	ex, lc := in.Existing, in.Offer.LastConnection
	// Step 4: the peer last heard from a previous run of ours, so our
	// current broker never reached it.
	if lc.MasterIncarnation != in.MyIncarnation {
		return accept(RuleOldMasterIncarnation, "offer last-connection names master incarnation %s, not ours %s: the peer last heard a previous run of this tub", lc.MasterIncarnation, in.MyIncarnation)
	}
	switch {
	case lc.SeqNum == ex.SeqNum:
		// Step 5: the peer knows the current connection yet reconnected.
		return accept(RuleSameSeqNum, "offer seqnum %d equals the broker's %d: the peer knows this connection and reconnected, so it considers it dead", lc.SeqNum, ex.SeqNum)
	case lc.SeqNum < ex.SeqNum:
		// Step 6: a late or parallel offer.
		if acceptOlder {
			return accept(RuleOlderSeqNum, "offer seqnum %d is older than the broker's %d, which this policy takes as a lost decision and accepts", lc.SeqNum, ex.SeqNum)
		}
		return reject(RuleOlderSeqNum, "offer seqnum %d is older than the broker's %d: a late or parallel offer", lc.SeqNum, ex.SeqNum)
	default:
		// Step 7: cannot happen with a well-behaved peer.
		return reject(RuleNewerSeqNum, "offer seqnum %d is newer than the broker's %d, which no well-behaved peer sends", lc.SeqNum, ex.SeqNum)
	}
}
