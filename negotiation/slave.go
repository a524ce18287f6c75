package negotiation

// Rules a slave applies to the master's accepting decision. The master's
// verdict is final, but decisions travel on different connections: when the
// master accepts two offers in a row (a cross-connect, a lost decision), the
// later one can arrive first. Seqnums grow with every accept, so the higher
// one is the connection the master kept.
const (
	RuleMasterAccepted    Rule = "master-accepted"
	RuleMasterRejected    Rule = "master-rejected" // the decision was an error block
	RuleDecisionLost      Rule = "decision-lost"   // lost on arrival by fault injection
	RuleOvertakenDecision Rule = "overtaken-decision"
)

// SlaveVerdict decides whether a slave adopts the connection an accepting
// decision numbered as got. held is how the master numbered the broker the
// slave already has with it (nil when it has none, or the master sent no
// current-connection).
func SlaveVerdict(held, got *Connection) Verdict {
	if got == nil {
		return accept(RuleMasterAccepted, "the master accepted without a current-connection (an old master): nothing to remember")
	}
	if held != nil && held.MasterIncarnation == got.MasterIncarnation && held.SeqNum > got.SeqNum {
		return reject(RuleOvertakenDecision,
			"the master numbered this connection %s but the connection we hold is %s: its newer decision arrived first, so the master has dropped this one",
			got, held)
	}
	return accept(RuleMasterAccepted, "the master numbered this connection %s", got)
}
