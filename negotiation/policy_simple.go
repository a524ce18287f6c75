package negotiation

import "time"

// FirstWins is Foolscap 0.1.7 and earlier: any offer is rejected while a
// broker exists, so a silently dead broker blocks reconnects until TCP
// gives up on it.
type FirstWins struct{}

func (FirstWins) Name() string { return PolicyFirstWins }

func (FirstWins) Decide(in Input) Verdict {
	if v, done := noExisting(in); done {
		return v
	}
	return reject(RuleFirstWins, "a broker with seqnum %d already exists for tubid %s, and the first connection always wins", in.Existing.SeqNum, in.Offer.TubID)
}

// NewestWins always replaces the broker with the newer offer; parallel hint
// connections can then flap.
type NewestWins struct{}

func (NewestWins) Name() string { return PolicyNewestWins }

func (NewestWins) Decide(in Input) Verdict {
	if v, done := noExisting(in); done {
		return v
	}
	return accept(RuleNewestWins, "the offer replaces the broker with seqnum %d for tubid %s, because the newest connection always wins", in.Existing.SeqNum, in.Offer.TubID)
}

// DropBoth rejects the offer and drops the broker too, so both sides start
// over with a single fresh connection.
type DropBoth struct{}

func (DropBoth) Name() string { return PolicyDropBoth }

func (DropBoth) Decide(in Input) Verdict {
	if v, done := noExisting(in); done {
		return v
	}
	v := reject(RuleDropBoth, "a duplicate offer for tubid %s drops both it and the broker with seqnum %d, so the peers reconnect afresh", in.Offer.TubID, in.Existing.SeqNum)
	v.DropExisting = true
	return v
}

// Age replaces a broker that has been silent for at least Threshold
// (default 60 s), measured from its last received byte, or from its creation
// when it has received nothing.
type Age struct {
	Threshold time.Duration
}

func (Age) Name() string { return PolicyAge }

func (p Age) Decide(in Input) Verdict {
	if v, done := noExisting(in); done {
		return v
	}
	threshold := orDefault(p.Threshold, DefaultAgeThreshold)
	last := in.Existing.LastReceived
	if last.IsZero() {
		last = in.Existing.Created
	}
	silent := in.Now.Sub(last)
	if silent >= threshold {
		return accept(RuleAgeSilent, "the broker has been silent for %s, at least the %s threshold, so it is presumed dead", silent, threshold)
	}
	return reject(RuleAgeActive, "the broker was heard from %s ago, under the %s threshold, so it is kept", silent, threshold)
}
