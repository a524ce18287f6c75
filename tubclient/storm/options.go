package storm

import (
	"errors"
	"fmt"
	"math"
	"os/exec"
	"time"

	"github.com/tubscope/tubscope/tubclient"
)

// Bounds a storm keeps to, whatever it is asked.
const (
	// MaxClients caps --n: a storm is a test, not a flood.
	MaxClients = 20000
	MaxRounds  = 100
	MaxWindow  = time.Hour
	MaxTimeout = 24 * time.Hour
)

// Defaults for zero Options fields.
const (
	DefaultN                  = 200
	DefaultWindow             = 60 * time.Second
	DefaultHold               = 5 * time.Second
	DefaultTimeout            = 15 * time.Minute
	DefaultNegotiationTimeout = 30 * time.Second
	DefaultDown               = 5 * time.Second
)

// Foolscap 21.7's reconnector: the first retry after a failure waits
// initial×factor, each later one factor times longer, every delay spread
// by a normal jitter of that fraction and capped.
var foolscapBackoff = tubclient.Backoff{Initial: time.Second, Factor: math.E, Jitter: 0.11962656492, Max: time.Hour}

// Options are `tubscope storm`'s settings.
type Options struct {
	FURL   string // the target: any Foolscap object's FURL
	N      int    // clients (default 200, at most MaxClients)
	Fault  Fault  // default silent-restart
	Rounds int    // how many times the fault strikes (default 1)
	// Rate spreads each round's faults over time, this many clients per
	// second in index order; 0 strikes them all at once.
	Rate float64
	// Window is how long each client has, from its fault, to call
	// successfully again; one that has not is counted locked out.
	Window time.Duration
	// Hold ends a round this long after its last client came back, still
	// counting flaps until then (the window caps it).
	Hold time.Duration
	// Timeout bounds the whole run, setup included.
	Timeout time.Duration
	// NegotiationTimeout bounds each client's attempt: connecting,
	// negotiating, getReference and the call (Foolscap's own is 120 s).
	NegotiationTimeout time.Duration
	// Down is how long a flap keeps the path dark.
	Down        time.Duration
	KeyExchange tubclient.KeyExchange
	// Backoff is the clients' retry schedule; zero fields take Foolscap's
	// (see filledBackoff).
	Backoff tubclient.Backoff
	// AnyRole lets a client's tubid fall on either side of the target's.
	// By default every client is the target's slave, so the target, as
	// master, makes every decision the storm is there to watch.
	AnyRole bool
	// OwnTarget lifts the loopback-and-private-only rule.
	OwnTarget bool
	// PerProcess caps the clients in one process below what the open-file
	// limit allows (0: 5,000).
	PerProcess int

	// Start makes the command for one client process, which must run
	// RunChild (tubscope's hidden storm-child subcommand; SelfExec).
	Start Starter
	// Lookup resolves hint host names (nil: the system resolver).
	Lookup Lookup
}

// Starter makes the command that runs one client process. Run sets its
// standard streams and process attributes.
type Starter func() *exec.Cmd

// ChildCommand is the hidden tubscope subcommand that runs RunChild.
const ChildCommand = "storm-child"

// SelfExec starts client processes as exe storm-child.
func SelfExec(exe string) Starter {
	return func() *exec.Cmd { return exec.Command(exe, ChildCommand) }
}

// filled applies defaults and checks the bounds.
func (o Options) filled() (Options, error) {
	if o.N == 0 {
		o.N = DefaultN
	}
	if o.Rounds == 0 {
		o.Rounds = 1
	}
	if o.Window == 0 {
		o.Window = DefaultWindow
	}
	if o.Hold == 0 {
		o.Hold = DefaultHold
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.NegotiationTimeout == 0 {
		o.NegotiationTimeout = DefaultNegotiationTimeout
	}
	if o.Down == 0 {
		o.Down = DefaultDown
	}
	if o.Fault == "" {
		o.Fault = SilentRestart
	}
	o.Backoff = filledBackoff(o.Backoff)
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(o.N >= 1 && o.N <= MaxClients, "--n %d: a storm has 1 to %d clients", o.N, MaxClients)
	check(o.Rounds >= 1 && o.Rounds <= MaxRounds, "--rounds %d: 1 to %d", o.Rounds, MaxRounds)
	check(o.Rate >= 0 && !math.IsInf(o.Rate, 0) && !math.IsNaN(o.Rate), "--rate %v: a number of clients per second, 0 for all at once", o.Rate)
	check(o.Window > 0 && o.Window <= MaxWindow, "--window %s: more than 0, at most %s", o.Window, MaxWindow)
	check(o.Hold > 0 && o.Hold <= o.Window, "--hold %s: more than 0, at most the window", o.Hold)
	check(o.Timeout > 0 && o.Timeout <= MaxTimeout, "--timeout %s: more than 0, at most %s", o.Timeout, MaxTimeout)
	check(o.NegotiationTimeout > 0, "--negotiation-timeout %s: more than 0", o.NegotiationTimeout)
	check(o.Down > 0 && o.Down <= o.Window, "--down %s: more than 0, at most the window", o.Down)
	check(o.PerProcess >= 0, "at least one client per process")
	if _, err := ParseFault(string(o.Fault)); err != nil {
		errs = append(errs, err)
	}
	if _, err := tubclient.ParseKeyExchange(string(o.KeyExchange)); err != nil {
		errs = append(errs, err)
	}
	if o.Start == nil {
		errs = append(errs, errors.New("no way to start client processes (Options.Start)"))
	}
	return o, errors.Join(errs...)
}

// filledBackoff takes Foolscap's values for zero fields. A factor of 1
// retries at a constant pace; a negative jitter means none.
func filledBackoff(b tubclient.Backoff) tubclient.Backoff {
	if b.Initial <= 0 {
		b.Initial = foolscapBackoff.Initial
	}
	if b.Factor < 1 {
		b.Factor = foolscapBackoff.Factor
	}
	switch {
	case b.Jitter < 0:
		b.Jitter = 0
	case b.Jitter == 0:
		b.Jitter = foolscapBackoff.Jitter
	}
	if b.Max <= 0 {
		b.Max = foolscapBackoff.Max
	}
	return b
}

// faultSpread is how long after a round's start its last fault strikes.
func (o Options) faultSpread() time.Duration {
	if o.Rate <= 0 || o.N <= 1 {
		return 0
	}
	return time.Duration(float64(o.N-1) / o.Rate * float64(time.Second))
}

// setupBound is how long the clients have to make their first connection.
func (o Options) setupBound() time.Duration {
	return time.Minute + time.Duration(o.N)*10*time.Millisecond
}

// lookupOr is o.Lookup or the system resolver.
func (o Options) lookupOr() Lookup {
	if o.Lookup != nil {
		return o.Lookup
	}
	return defaultLookup
}
