package tubclient

import (
	"context"
	"log/slog"
	"math"
	"net"
	"time"

	"github.com/tubscope/tubscope/negotiation"
)

// Config sets up a Tub. Zero values take Foolscap 21.7's defaults where
// Foolscap has one.
type Config struct {
	Identity *Identity // nil: loaded from KeyFile, else a fresh ECDSA identity
	// KeyFile keeps the identity across runs (PEM; created when missing,
	// and a Foolscap tub.pem loads as it is). Ignored when Identity is set.
	KeyFile  string
	Nickname string

	Policy negotiation.Policy // nil: Foolscap 21.7's rules

	// KeyExchange picks the TLS key-exchange groups ("": KexHybrid).
	KeyExchange KeyExchange

	// NegotiationTimeout bounds everything from TCP connect/accept until
	// Banana starts (Foolscap: 120 s).
	NegotiationTimeout time.Duration
	// MaxHeaderBytes bounds each prelude, hello and decision block (4096).
	MaxHeaderBytes int
	// KeepaliveTimeout sends a PING after this long without receiving
	// anything, and marks the broker suspect (Foolscap: 240 s). Negative
	// disables.
	KeepaliveTimeout time.Duration
	// DisconnectTimeout drops a broker that received nothing for this long.
	// 0 disables.
	DisconnectTimeout time.Duration
	// WriteTimeout bounds one write to a peer (default 30 s); a peer that
	// reads nothing for longer loses its connection.
	WriteTimeout time.Duration

	// MaxNegotiations bounds the connections each listener negotiates at
	// once (default: half the open-file limit left after a reserve, at
	// most 4096). MaxNegotiationsPerHost bounds them per remote address
	// (0: no limit of its own).
	MaxNegotiations        int
	MaxNegotiationsPerHost int

	Backoff Backoff

	// NoAttemptID stops this tub from sending this-connection.
	NoAttemptID bool
	// LegacyHello makes this tub's hellos carry no my-incarnation and no
	// last-connection, like a peer older than Foolscap 0.2.
	LegacyHello bool
	// CloneHoldoff: once a peer is seen alternating between incarnations
	// (two processes with one key), its offers are refused for this long
	// after each accepted one, so the clones cannot flap the connection
	// (default 10 s; negative disables).
	CloneHoldoff time.Duration

	// Dial opens outbound TCP connections (tests and the demo route them
	// through fault-injecting paths). Default: net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Location overrides the hints advertised in FURLs (default: the
	// listeners' addresses).
	Location []Hint

	DecisionLogSize int // decision log ring size (default 1000)
	Logger          *slog.Logger
}

// Backoff is the reconnector's retry schedule (Foolscap's defaults: 1 s
// initial, factor e, jitter 0.1196, 3600 s cap).
type Backoff struct {
	Initial time.Duration
	Factor  float64
	Jitter  float64
	Max     time.Duration
}

// DefaultKeepalive is Foolscap 21.7's keepaliveTimeout.
const DefaultKeepalive = 240 * time.Second

func (c *Config) fill() error {
	kex, err := ParseKeyExchange(string(c.KeyExchange))
	if err != nil {
		return err
	}
	c.KeyExchange = kex
	if c.KeepaliveTimeout == 0 {
		c.KeepaliveTimeout = DefaultKeepalive
	}
	if c.MaxNegotiations <= 0 {
		c.MaxNegotiations = defaultMaxNegotiations()
	}
	if c.NegotiationTimeout <= 0 {
		c.NegotiationTimeout = 120 * time.Second
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = negotiation.MaxHeaderBytes
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 30 * time.Second
	}
	if c.Policy == nil {
		c.Policy = negotiation.Foolscap{}
	}
	if c.Backoff.Initial <= 0 {
		c.Backoff.Initial = time.Second
	}
	if c.Backoff.Factor <= 1 {
		c.Backoff.Factor = math.E
	}
	if c.Backoff.Jitter < 0 {
		c.Backoff.Jitter = 0
	} else if c.Backoff.Jitter == 0 {
		c.Backoff.Jitter = 0.11962656472
	}
	if c.Backoff.Max <= 0 {
		c.Backoff.Max = time.Hour
	}
	if c.CloneHoldoff == 0 {
		c.CloneHoldoff = 10 * time.Second
	}
	if c.DecisionLogSize <= 0 {
		c.DecisionLogSize = 1000
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Dial == nil {
		var d net.Dialer
		c.Dial = d.DialContext
	}
	return nil
}

// fdReserve is kept free of negotiations for established brokers, dials
// and the process's own files.
const fdReserve = 64

func defaultMaxNegotiations() int {
	limit := openFileLimit()
	if limit <= 0 {
		return 4096
	}
	return min(max((limit-fdReserve)/2, 16), 4096)
}
