package negotiation

import "testing"

func TestSlaveVerdict(t *testing.T) {
	c := func(ir string, seq uint64) *Connection { return &Connection{MasterIncarnation: ir, SeqNum: seq} }
	rows := []struct {
		name      string
		held, got *Connection
		accept    bool
		rule      Rule
		detail    []string
	}{
		{"first decision", nil, c(myIR, 1), true, RuleMasterAccepted, []string{myIR + " 1"}},
		{"old master", c(myIR, 2), nil, true, RuleMasterAccepted, []string{"old master"}},
		{"newer seqnum", c(myIR, 1), c(myIR, 2), true, RuleMasterAccepted, []string{myIR + " 2"}},
		{"overtaken", c(myIR, 2), c(myIR, 1), false, RuleOvertakenDecision, []string{myIR + " 1", myIR + " 2"}},
		// A restarted master starts counting again: its decision wins
		// whatever the old incarnation's seqnum was.
		{"new master incarnation", c(otherIR, 9), c(myIR, 1), true, RuleMasterAccepted, []string{myIR + " 1"}},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			v := SlaveVerdict(row.held, row.got)
			if v.Accept != row.accept || v.Rule != row.rule {
				t.Fatalf("got accept=%v rule=%s, want accept=%v rule=%s (%s)", v.Accept, v.Rule, row.accept, row.rule, v.Detail)
			}
			checkDetail(t, v, row.detail)
		})
	}
}
