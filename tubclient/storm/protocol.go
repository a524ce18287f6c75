package storm

import (
	"time"

	"github.com/tubscope/tubscope/tubclient"
)

// The parent and its client processes speak JSON lines. The parent writes
// the configuration first, then one fault order per round; closing the
// child's stdin ends it. The child writes one report per client event.

// childConfig is everything a client process needs to know.
type childConfig struct {
	FURL               string            `json:"furl"`
	First              int               `json:"first"` // the global index of its first client
	Count              int               `json:"count"`
	Fault              Fault             `json:"fault"`
	Call               string            `json:"call,omitempty"` // the method each success calls; "" for a bare getReference
	NegotiationTimeout time.Duration     `json:"negotiation_timeout"`
	Down               time.Duration     `json:"down"`
	Setup              time.Duration     `json:"setup"` // how long the clients have to connect first
	KeyExchange        string            `json:"kex,omitempty"`
	Backoff            tubclient.Backoff `json:"backoff"`
	Slaves             bool              `json:"slaves"`
	OwnTarget          bool              `json:"own_target,omitempty"`
	SourceAddr         string            `json:"source_addr,omitempty"`
}

// attemptBound bounds one attempt: a negotiation (which the tub bounds
// itself, as Foolscap does), then getReference and the call, which
// Foolscap leaves unbounded on a connection gone silent.
func (c *childConfig) attemptBound() time.Duration { return 2 * c.NegotiationTimeout }

// faultOrder starts a round: client g's fault strikes at At + g/Rate
// (all at At when Rate is 0). Parent and children share the clock.
type faultOrder struct {
	Round int     `json:"round"`
	At    int64   `json:"at"` // Unix nanoseconds
	Rate  float64 `json:"rate,omitempty"`
}

// strikeAt is when client g's fault strikes.
func (f faultOrder) strikeAt(g int) time.Time {
	at := time.Unix(0, f.At)
	if f.Rate > 0 {
		at = at.Add(time.Duration(float64(g) / f.Rate * float64(time.Second)))
	}
	return at
}

// order is one line to a child.
type order struct {
	Config *childConfig `json:"config,omitempty"`
	Fault  *faultOrder  `json:"fault,omitempty"`
}

// Report kinds.
const (
	repUp    = "up"    // a client's first connection and call succeeded
	repReady = "ready" // every client of the process is up
	repFault = "fault" // a client's fault struck (TubID: its identity now)
	repFail  = "fail"  // an attempt failed
	repBack  = "back"  // an attempt succeeded
	repLost  = "lost"  // a held connection ended without a fault
)

// report is one line from a child. Times are Unix nanoseconds.
type report struct {
	K     string `json:"k"`
	C     int    `json:"c,omitempty"` // global client index
	R     int    `json:"r,omitempty"` // round; 0 before the first fault
	T     int64  `json:"t,omitempty"`
	TubID string `json:"tubid,omitempty"`
	Twin  bool   `json:"twin,omitempty"` // from a clone's twin, not the client
	// A failed attempt: why, and when the next one is due.
	Refused bool   `json:"refused,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Offer   string `json:"offer,omitempty"`
	Rule    string `json:"rule,omitempty"`
	Err     string `json:"err,omitempty"`
	Next    int64  `json:"next,omitempty"`
	Sent    *Sent  `json:"sent,omitempty"` // the decided offer of a failed or successful attempt
	N       int    `json:"n,omitempty"`    // ready: clients
}

// Sent is what a client's offer carried, as its hello sent it.
type Sent struct {
	Incarnation string `json:"inc,omitempty"`
	Last        string `json:"last,omitempty"` // last-connection: "none 0", "<master-ir> <seq>"
	AttemptID   string `json:"attempt,omitempty"`
}

func (r report) time() time.Time { return time.Unix(0, r.T) }
