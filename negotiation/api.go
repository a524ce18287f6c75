// Package negotiation holds Foolscap's connection-negotiation logic with no I/O:
// the plaintext prelude, hello and decision blocks, master selection, and the
// duplicate-connection policies. Every decision is a Verdict value.
package negotiation

import "time"

// MaxHeaderBytes bounds any prelude, hello or decision block (Foolscap's limit).
const MaxHeaderBytes = 4096

// Block is a parsed "key: value\r\n...\r\n\r\n" block with lowercased keys.
type Block map[string]string

// Connection names one accepted connection as the master numbered it:
// the master's incarnation plus its per-peer counter. MasterIncarnation is
// "none" when the slave has never received a decision from this master.
type Connection struct {
	MasterIncarnation string
	SeqNum            uint64
}

// Hello is one side's offer: everything a hello block carries.
type Hello struct {
	TubID          string
	Incarnation    string      // "" when absent (pre-0.2 peers)
	LastConnection *Connection // nil when absent (server-side hellos, old peers)
	AttemptID      string      // this-connection; "" when absent
	BananaMin      int
	BananaMax      int
	VocabMin       int
	VocabMax       int
}

// Decision is the master's answer to a slave's hello.
type Decision struct {
	BananaVersion int
	Current       *Connection // current-connection; nil when absent
	VocabIndex    int
	VocabHash     string // 4 hex chars
	Error         string // non-empty for an error block
}

// Rule is a stable, machine-readable name for the rule that produced a Verdict.
type Rule string

// Verdict is the master's decision on one offer.
type Verdict struct {
	Accept bool
	Rule   Rule
	Detail string // one sentence naming the values compared
	// DropExisting asks the tub to drop the existing broker even though the
	// offer is rejected (the drop-both policy). On Accept the existing broker
	// is always replaced.
	DropExisting bool
	// Probe asks the tub to PING the existing broker before deciding: the
	// final verdict comes from Resolve on the policy that asked.
	Probe bool
}

// Existing is what the master knows about its established broker for the
// offering tubid.
type Existing struct {
	SlaveIncarnation string
	SeqNum           uint64
	AttemptID        string
	Created          time.Time
	LastReceived     time.Time
}

// Input is everything a policy may look at. No clocks: Now comes in.
type Input struct {
	Offer         Hello
	Existing      *Existing // nil when there is no established broker
	MyIncarnation string
	MyAttemptIDs  bool // whether this tub sends this-connection
	Now           time.Time
}

// ProbeResult is what a liveness probe of the existing broker saw.
type ProbeResult struct {
	Alive bool
	RTT   time.Duration // when Alive
	Wait  time.Duration // how long the tub waited
}

// Policy decides duplicate offers.
type Policy interface {
	Name() string
	Decide(in Input) Verdict
}

// Prober is implemented by policies that can ask for a probe (Verdict.Probe).
type Prober interface {
	Policy
	// ProbeWait is how long to wait for a PONG given the broker's last RTT
	// (0 when unknown).
	ProbeWait(lastRTT time.Duration) time.Duration
	// Resolve turns a probe result into the final verdict.
	Resolve(in Input, r ProbeResult) Verdict
}
