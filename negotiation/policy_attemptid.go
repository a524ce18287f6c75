package negotiation

// AttemptID is ticket #28's first design (Foolscap 0.2.0/0.2.1): offers carry
// this-connection, a per-attempt id shared by all hint connections of one
// attempt. Accepting "none" when the attempt ids differ closes 21.7's
// lockout after a lost first decision.
type AttemptID struct{}

func (AttemptID) Name() string { return PolicyAttemptID }

func (AttemptID) Decide(in Input) Verdict {
	if v, done := noExisting(in); done {
		return v
	}
	if v, done := oldPeerRule(in, 0); done {
		return v
	}
	if v, done := newIncarnationRule(in); done {
		return v
	}
	ex, o := in.Existing, in.Offer
	// Hint connections of one attempt share an id: the first one to arrive
	// already won.
	if o.AttemptID != "" && o.AttemptID == ex.AttemptID {
		return reject(RuleSameAttempt, "offer attempt id %s is the broker's own: a parallel hint connection of the attempt that already won", o.AttemptID)
	}
	if o.LastConnection.MasterIncarnation == NoMasterIncarnation {
		// A different attempt that still remembers no decision means our
		// first decision was lost and the peer came back to try again.
		if o.AttemptID != "" && ex.AttemptID != "" {
			return accept(RuleLostDecision, "offer attempt id %s differs from the broker's %s and remembers no decision: our first decision was lost", o.AttemptID, ex.AttemptID)
		}
		return reject(RuleNeverDecided, "offer last-connection is %s and attempt ids are missing (offer %q, broker %q), so as in Foolscap 21.7 it is taken for a parallel attempt", o.LastConnection, o.AttemptID, ex.AttemptID)
	}
	return seqNumRules(in, true)
}
