// Package snapshot holds the immutable, plain-data view of a tub that the
// engine publishes and the views render: tables, brokers, peers, the
// decision log, and the typed events. It has no behaviour and no I/O.
package snapshot

import "time"

// Role is this tub's role on one connection: the master (higher tubid)
// decides offers; the slave receives decisions.
type Role string

const (
	Master Role = "master"
	Slave  Role = "slave"
)

// Side says who dialed: Client (we dialed out) or Server (they dialed in).
type Side string

const (
	Client Side = "client"
	Server Side = "server"
)

// BrokerState is a broker's life stage. A closed broker leaves the
// snapshot's broker list; its end is kept in its peer's History.
type BrokerState string

const (
	Negotiating BrokerState = "negotiating"
	Live        BrokerState = "live"
	Suspect     BrokerState = "suspect" // nothing received past the keepalive
)

// Broker is one connection to a peer tub.
type Broker struct {
	ID               uint64
	PeerTubID        string
	Nickname         string
	Role             Role
	Side             Side
	State            BrokerState
	LocalAddr        string
	RemoteAddr       string
	PeerIncarnation  string
	SlaveIncarnation string // the slave's incarnation on this connection
	SeqNum           uint64 // the master's counter for this connection
	AttemptID        string // this-connection of the offer that created it
	Created          time.Time
	LastReceived     time.Time
	LastSent         time.Time
	PingsOutstanding int
	PingsSent        uint64 // keepalive and probe PINGs sent on this connection
	PongsReceived    uint64
	RTT              time.Duration // last measured PING/PONG round trip
	Faults           string        // active fault injection, "" when none
	TLS              string        // e.g. "TLS 1.3 X25519MLKEM768"; "" before the handshake
}

// MasterEntry is a row of the master table: what this tub, as master,
// numbered its accepted connections from one peer.
type MasterEntry struct {
	PeerTubID        string
	SlaveIncarnation string
	SeqNum           uint64
	AttemptID        string
	Updated          time.Time
}

// SlaveEntry is a row of the slave table: the last decision this tub, as
// slave, received from one master; replayed as last-connection.
type SlaveEntry struct {
	PeerTubID         string
	MasterIncarnation string
	SeqNum            uint64
	Updated           time.Time
}

// IncarnationSeen records one incarnation of a peer.
type IncarnationSeen struct {
	Incarnation string
	FirstSeen   time.Time
	LastSeen    time.Time
	Offers      int
}

// ReconnectorState is where an outbound reconnector stands.
type ReconnectorState string

const (
	Connecting ReconnectorState = "connecting"
	Waiting    ReconnectorState = "waiting"
	Connected  ReconnectorState = "connected"
	Stopped    ReconnectorState = "stopped"
)

// Reconnector is the state of the outbound connection loop to one FURL.
type Reconnector struct {
	FURL        string
	State       ReconnectorState
	Attempts    int
	Delay       time.Duration
	NextAttempt time.Time // zero unless Waiting
	LastError   string
}

// PeerState is where this tub stands with one peer, connected or not. It
// is what the inspector's main table shows first.
type PeerState string

const (
	PeerConnecting PeerState = "connecting"  // an outbound attempt is in flight
	PeerLive       PeerState = "live"        // an established broker
	PeerSuspect    PeerState = "suspect"     // a broker, silent past the keepalive
	PeerBackingOff PeerState = "backing-off" // a reconnector waits after a failure
	PeerLockedOut  PeerState = "locked-out"  // the master refuses our offers (since LockedOutSince)
	PeerRefused    PeerState = "refused"     // the address refused or could not be reached
	PeerIdle       PeerState = "idle"        // known, no connection, nothing dialling
)

// Peer is everything known about one remote tub.
type Peer struct {
	TubID        string
	Nickname     string
	Hints        []string
	Incarnations []IncarnationSeen // oldest first
	Reconnector  *Reconnector      // nil when we do not dial this peer
	Clone        bool              // interleaving incarnations seen: two processes share its key

	State       PeerState
	BrokerID    uint64    // the established broker, 0 when none
	Connected   time.Time // when that broker attached; zero when none
	LastError   string    // the newest failure: refused, rejected, lost...
	LastErrorAt time.Time
	// Attempts counts failed connection attempts, and Rejects offers the
	// master refused, since the last attach.
	Attempts int
	Rejects  int
	// LockedOutSince is the first refusal since the last attach; zero
	// while not locked out.
	LockedOutSince time.Time
	NextAttempt    time.Time // the reconnector's next try; zero when none is due
	// History is the peer's connections, newest last and capped: each one
	// attached, replaced (and by whom), or lost, with why.
	History []ConnectionRecord
	// Evictions counts how often this peer's idle state was forgotten to
	// bound memory; LastEvicted is the newest.
	Evictions   int
	LastEvicted time.Time
}

// CloseReason says, as data, why a connection ended. The sentence for
// people travels beside it (ConnectionRecord.Detail, Event.Reason).
type CloseReason string

const (
	CloseReplaced          CloseReason = "replaced"           // a newer connection to the same peer won
	CloseRejected          CloseReason = "rejected"           // the master refused the offer
	CloseNegotiationFailed CloseReason = "negotiation-failed" // ended before a decision
	ClosePeerClosed        CloseReason = "peer-closed"        // EOF or close_notify from the peer
	ClosePeerError         CloseReason = "peer-error"         // the peer sent a Banana ERROR
	CloseProtocolError     CloseReason = "protocol-error"     // the peer broke the protocol
	CloseReadError         CloseReason = "read-error"
	CloseWriteError        CloseReason = "write-error" // a write failed or timed out: the peer stopped reading
	CloseOverBudget        CloseReason = "over-budget" // the connection's memory hard limit
	CloseDisconnectTimeout CloseReason = "disconnect-timeout"
	CloseOperator          CloseReason = "operator"       // dropped by hand
	CloseRestart           CloseReason = "restart"        // a clean restart of this tub
	CloseAbandoned         CloseReason = "abandoned"      // a silent restart: left open and black-holed
	ClosePolicy            CloseReason = "policy-dropped" // a policy dropped the held connection (drop-both)
	CloseTubClosed         CloseReason = "tub-closed"
)

// ConnectionRecord is one connection in a peer's history.
type ConnectionRecord struct {
	BrokerID        uint64
	Side            Side
	Role            Role
	Remote          string
	Opened          time.Time // TCP up
	Attached        time.Time // zero when it never became the broker
	Closed          time.Time // zero while open
	SeqNum          uint64
	PeerIncarnation string
	Rule            string      // the rule that accepted it
	End             CloseReason // "" while open
	Detail          string      // why it ended, in words
	ReplacedBy      uint64      // the broker that replaced it, 0 when none
}

// Decision is one line of the decision log: an offer and its outcome. When
// this tub was master it is our verdict; as slave it is the master's answer.
type Decision struct {
	Seq              uint64
	Time             time.Time
	PeerTubID        string
	BrokerID         uint64
	Role             Role
	OfferIncarnation string
	OfferLast        string // "none 0", "<ir> <seq>" or "" when absent
	OfferAttemptID   string
	Accept           bool
	Rule             string
	Detail           string
	Current          string // current-connection sent/received on accept
	Error            string // error text sent/received on reject
	// Existing is the connection the offer was weighed against, as the
	// master held it; nil when there was none (or as slave).
	Existing *Held
	// WhatIf lists the other policies whose verdict on the same inputs
	// differs from this one.
	WhatIf []Alternative
}

// Held is the master's record of the connection an offer competes with.
type Held struct {
	BrokerID         uint64
	SlaveIncarnation string
	SeqNum           uint64
	AttemptID        string
	Created          time.Time
	LastReceived     time.Time
}

// Alternative is another policy's verdict on the same offer.
type Alternative struct {
	Policy string
	Accept bool
	Rule   string
	Detail string
}

// SourceKind says what a snapshot describes.
type SourceKind string

const (
	SourceEmbedded SourceKind = "embedded" // tubscope's own tub
	SourceWatched  SourceKind = "watched"  // a remote tub seen through its logport
	SourceReplay   SourceKind = "replay"   // saved flog files, replayed
	SourceStorm    SourceKind = "storm"    // a staged storm, seen from its clients
)

// Source names what a snapshot describes and whether actions apply to it.
type Source struct {
	Name     string // a short label for the tub switcher
	Kind     SourceKind
	ReadOnly string // why connection actions do not apply; "" when they do
	// Status is the source's own trouble, e.g. "logport lost: retrying in
	// 4s"; "" when all is well.
	Status string
	Replay *ReplayCursor // replay sources only
}

// ReplayCursor is where a replay stands.
type ReplayCursor struct {
	Start, End time.Time // the span of the events read so far
	At         time.Time // the cursor: events up to here are applied
	Playing    bool
	Speed      float64
	Trigger    time.Time // an incident's trigger event; zero when none
	Applied    int       // events applied
	Read       int       // events read from the files so far
	Done       bool      // the files are read to the end
}

// Snapshot is an immutable copy of a tub's tables at one instant. The
// engine publishes a new one only when something changed; Version grows
// with each.
type Snapshot struct {
	Version          uint64
	Source           Source
	Taken            time.Time
	TubID            string
	FURL             string
	Incarnation      string
	IncarnationCount int // how many incarnations this tub has had
	Listening        []string
	Policy           string
	KeepaliveTimeout time.Duration
	Brokers          []Broker
	Peers            []Peer
	MasterTable      []MasterEntry
	SlaveTable       []SlaveEntry
	Decisions        []Decision // newest last, capped
	DecisionsTotal   uint64
	EventsDropped    uint64
	Activity         Activity
	Narration        *Narration // the demo's story line; nil outside the demo
}

// Narration is the demo's story line: where the scenario stands, what the
// script does next and when, and what just happened and why.
type Narration struct {
	Step   string    // e.g. "2/4 power cut behind a NAT"
	Next   string    // what the script does next
	NextAt time.Time // zero when nothing is scheduled
	Last   string    // what just happened, and why, in one sentence
	LastAt time.Time
}

// Activity is the storm at a glance: offers and rejects per bucket, the
// rules that fired, who offers most, and how long peers took to come back.
type Activity struct {
	Bucket  time.Duration // width of one bucket
	End     time.Time     // end of the newest bucket
	Offers  []int         // per bucket, oldest first; the last is the bucket in progress
	Rejects []int
	Window  time.Duration // the span Rules and Offenders count over
	Rules   []RuleCount   // most frequent first
	// Offenders are the peers with the most offers in the window, most first.
	Offenders []Offender
	Reconnect Histogram // from losing a broker to the peer's next attach
}

// RuleCount is how often one rule decided in the window.
type RuleCount struct {
	Rule   string
	Accept bool
	Count  int
}

// Offender is one peer's offers in the window.
type Offender struct {
	PeerTubID string
	Offers    int
	Rejects   int
}

// Histogram buckets durations: Counts[i] counts samples ≤ Bounds[i], and
// the last count those above every bound.
type Histogram struct {
	Bounds   []time.Duration
	Counts   []int
	Total    int
	P50, P99 time.Duration
	Max      time.Duration
}

// Kind names an event type.
type Kind string

const (
	KindOfferReceived      Kind = "offer-received"
	KindVerdict            Kind = "verdict"
	KindDecisionSent       Kind = "decision-sent"
	KindDecisionReceived   Kind = "decision-received"
	KindBrokerAttached     Kind = "broker-attached"
	KindBrokerDetached     Kind = "broker-detached"
	KindBrokerSuspect      Kind = "broker-suspect"
	KindReconnectScheduled Kind = "reconnect-scheduled"
	KindNegotiationFailed  Kind = "negotiation-failed"
	KindIncarnation        Kind = "incarnation"  // this tub started or restarted
	KindPolicy             Kind = "policy"       // the policy changed
	KindFault              Kind = "fault"        // a fault was injected or cleared
	KindCall               Kind = "call"         // a PB call was answered or failed
	KindClone              Kind = "clone"        // interleaving incarnations for one tubid
	KindPeerEvicted        Kind = "peer-evicted" // idle per-peer state forgotten to bound memory
	KindRefused            Kind = "refused"      // a socket refused by a cap (negotiations, per address, fds)
	KindSource             Kind = "source"       // a source's own status changed (logport lost, replay done)
)

// Event is one change in a tub. Fields beyond Kind/Time are filled as the
// kind needs; the JSON form omits the empty ones.
type Event struct {
	Seq       uint64    `json:"seq"`
	Time      time.Time `json:"time"`
	Kind      Kind      `json:"kind"`
	TubID     string    `json:"tub,omitempty"` // the tub that emitted it
	BrokerID  uint64    `json:"broker,omitempty"`
	PeerTubID string    `json:"peer,omitempty"`
	Role      Role      `json:"role,omitempty"`
	Side      Side      `json:"side,omitempty"`
	Remote    string    `json:"remote,omitempty"`
	// Offers and decisions.
	Incarnation    string `json:"incarnation,omitempty"`
	LastConnection string `json:"last_connection,omitempty"`
	AttemptID      string `json:"attempt_id,omitempty"`
	BananaRange    string `json:"banana_range,omitempty"`
	VocabRange     string `json:"vocab_range,omitempty"`
	Accept         *bool  `json:"accept,omitempty"`
	Rule           string `json:"rule,omitempty"`
	Detail         string `json:"detail,omitempty"`
	Current        string `json:"current_connection,omitempty"`
	// Pings, reconnects, failures.
	Number  uint64        `json:"number,omitempty"`
	RTT     time.Duration `json:"rtt_ns,omitempty"`
	At      time.Time     `json:"at,omitempty"`
	Delay   time.Duration `json:"delay_ns,omitempty"`
	Reason  string        `json:"reason,omitempty"`
	Close   CloseReason   `json:"close,omitempty"` // broker-detached, negotiation-failed
	Err     string        `json:"error,omitempty"`
	Message string        `json:"message,omitempty"`
}
