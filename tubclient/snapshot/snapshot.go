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

// BrokerState is a broker's life stage.
type BrokerState string

const (
	Negotiating BrokerState = "negotiating"
	Live        BrokerState = "live"
	Suspect     BrokerState = "suspect" // nothing received past the keepalive
	Closing     BrokerState = "closing"
	Closed      BrokerState = "closed"
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

// Peer is everything known about one remote tub.
type Peer struct {
	TubID        string
	Nickname     string
	Hints        []string
	Incarnations []IncarnationSeen // oldest first
	Reconnector  *Reconnector      // nil when we do not dial this peer
	Clone        bool              // interleaving incarnations seen: two processes share its key
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
}

// Snapshot is a deep copy of a tub's tables at one instant.
type Snapshot struct {
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
	KindPing               Kind = "ping"
	KindPong               Kind = "pong"
	KindReconnectScheduled Kind = "reconnect-scheduled"
	KindNegotiationFailed  Kind = "negotiation-failed"
	KindIncarnation        Kind = "incarnation" // this tub started or restarted
	KindPolicy             Kind = "policy"      // the policy changed
	KindFault              Kind = "fault"       // a fault was injected or cleared
	KindCall               Kind = "call"        // a PB call was answered or failed
	KindClone              Kind = "clone"       // interleaving incarnations for one tubid
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
	Err     string        `json:"error,omitempty"`
	Message string        `json:"message,omitempty"`
}
