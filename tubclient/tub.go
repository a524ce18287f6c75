// Package tubclient is tubscope's live tub: identity, FURLs, listeners,
// connectors, brokers, the master and slave tables, reconnectors,
// keepalives, a minimal Banana/PB layer, fault injection hooks and a typed
// event stream.
//
// One goroutine (run) owns each tub's state. A connection passes through
// three owners: the goroutine negotiating it (handshake.go), the state
// goroutine that decides and attaches it (decide.go), and then its broker's
// reader and writer (broker.go, writer.go). It ends through one close path
// (close.go). Everything the inspector sees is an immutable snapshot the
// state goroutine publishes (publish.go) and events it emits.
package tubclient

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient/banana"
	"github.com/tubscope/tubscope/tubclient/snapshot"
	"github.com/tubscope/tubscope/tubclient/snapshot/activity"
	"github.com/tubscope/tubscope/tubclient/snapshot/feed"
)

// ErrClosed is returned by calls on a tub that has been closed.
var ErrClosed = errors.New("tub closed")

// Tub is one Foolscap tub.
type Tub struct {
	cfg Config
	id  *Identity
	// One TLS configuration per side, shared by every connection.
	tlsServer, tlsClient *tls.Config

	ops    chan func(*state)
	quit   chan struct{}
	closed atomic.Bool
	runWG  sync.WaitGroup // the state goroutine
	// wg counts every other goroutine the tub starts; spawn refuses new
	// ones once Close has begun, so Add never races Wait.
	spawnMu sync.Mutex
	wg      sync.WaitGroup
	ctx     context.Context
	cancel  context.CancelFunc

	hub    feed.Hub
	nextID atomic.Uint64
	// incarnation mirrors state.incarnation for hellos, which read it
	// without a round trip to the state goroutine.
	incarnation atomic.Pointer[string]
	// budget is the memory every connection's incoming messages share.
	budget *banana.Budget

	svcMu    sync.RWMutex
	services map[string]Object // swissnum → object

	lnMu      sync.Mutex
	listeners []net.Listener
	location  []Hint

	// published is the newest snapshot; pubWanted asks the state goroutine
	// to keep it fresh (nobody watching costs nothing).
	published atomic.Pointer[snapshot.Snapshot]
	pubWanted atomic.Bool
	frames    chan *frame // to the publisher goroutine; holds the newest only

	st *state // owned by the run goroutine
}

// state is everything the run goroutine owns.
type state struct {
	incarnation string
	incCount    int
	policy      negotiation.Policy

	pending map[uint64]*pending // connections still negotiating
	brokers map[uint64]*Broker  // attached connections
	byPeer  map[string]*Broker  // the established broker per peer
	dials   map[string]*dial    // the one active outbound attempt per peer
	master  map[string]*snapshot.MasterEntry
	slave   map[string]*snapshot.SlaveEntry
	peers   map[string]*peerInfo
	evicted map[string]eviction // peers forgotten to bound memory

	decisions []snapshot.Decision // ring
	decHead   int
	decTotal  uint64

	zombies []net.Conn // sockets left open by silent restarts and lost decisions
	reconns map[*Reconnector]struct{}
	probes  map[*Broker][]*pendingProbe
	// loseDecision holds peers ("" for any) whose next decision is to be
	// lost on the wire.
	loseDecision map[string]bool

	activity *activity.Recorder

	eventSeq  uint64
	changed   bool // something a snapshot shows changed since the last publish
	version   uint64
	lastPub   time.Time
	pubTicker *time.Ticker     // nil until someone watches
	pubC      <-chan time.Time // its channel; nil (never ready) until then
}

// New creates and starts a tub (without listeners; call Listen).
func New(cfg Config) (*Tub, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	if cfg.Identity == nil {
		var id *Identity
		var err error
		if cfg.KeyFile != "" {
			var warnings []string
			id, warnings, err = LoadOrCreateIdentityWarn(cfg.KeyFile)
			for _, w := range warnings {
				cfg.Logger.Warn(w, "key", cfg.KeyFile)
			}
		} else {
			id, err = NewIdentity()
		}
		if err != nil {
			return nil, err
		}
		cfg.Identity = id
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &Tub{
		cfg:      cfg,
		id:       cfg.Identity,
		ops:      make(chan func(*state), 256),
		quit:     make(chan struct{}),
		ctx:      ctx,
		cancel:   cancel,
		services: make(map[string]Object),
		location: cfg.Location,
		budget:   banana.NewBudget(cfg.MaxTubCost),
		frames:   make(chan *frame, 1),
		st: &state{
			incarnation:  newIncarnation(),
			incCount:     1,
			policy:       cfg.Policy,
			pending:      make(map[uint64]*pending),
			brokers:      make(map[uint64]*Broker),
			byPeer:       make(map[string]*Broker),
			dials:        make(map[string]*dial),
			master:       make(map[string]*snapshot.MasterEntry),
			slave:        make(map[string]*snapshot.SlaveEntry),
			peers:        make(map[string]*peerInfo),
			evicted:      make(map[string]eviction),
			reconns:      make(map[*Reconnector]struct{}),
			probes:       make(map[*Broker][]*pendingProbe),
			loseDecision: make(map[string]bool),
			activity:     activity.New(0, 0, 0),
		},
	}
	t.tlsServer, t.tlsClient = t.tlsConfig(true), t.tlsConfig(false)
	inc := t.st.incarnation
	t.incarnation.Store(&inc)
	t.runWG.Add(1)
	go t.run()
	var f *frame
	_ = t.do(func(st *state) {
		t.emitLocked(st, snapshot.Event{Kind: snapshot.KindIncarnation, Incarnation: st.incarnation, Message: "tub started"})
		f = t.gatherLocked(st)
	})
	t.assemble(f)
	return t, nil
}

func newIncarnation() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func newAttemptID() string { return newIncarnation() }

// TubID is this tub's identity.
func (t *Tub) TubID() string { return t.id.TubID }

// Identity returns the tub's certificate and key.
func (t *Tub) Identity() *Identity { return t.id }

// Config returns the tub's effective configuration.
func (t *Tub) Config() Config { return t.cfg }

// run is the state goroutine: the only code that touches t.st.
func (t *Tub) run() {
	defer t.runWG.Done()
	var tickC <-chan time.Time
	if tick := t.tickInterval(); tick > 0 {
		ticker := time.NewTicker(tick)
		defer ticker.Stop()
		tickC = ticker.C
	}
	// The publish ticker starts when someone first asks for snapshots:
	// thousands of unwatched tubs in one process (a storm's clients) must
	// not each wake ten times a second.
	defer func() {
		if t.st.pubTicker != nil {
			t.st.pubTicker.Stop()
		}
	}()
	sweep := time.NewTicker(sweepEvery)
	defer sweep.Stop()
	for {
		select {
		case op := <-t.ops:
			op(t.st)
		case <-tickC:
			t.checkLiveness(t.st)
		case <-t.st.pubC:
			t.maybePublish(t.st)
		case <-sweep.C:
			t.evictIdlePeers(t.st, time.Now())
		case <-t.quit:
			// Drain pending closures so callers waiting on them return.
			for {
				select {
				case op := <-t.ops:
					op(t.st)
				default:
					return
				}
			}
		}
	}
}

// do runs f on the state goroutine and waits for it.
func (t *Tub) do(f func(*state)) error {
	done := make(chan struct{})
	select {
	case t.ops <- func(st *state) { f(st); close(done) }:
	case <-t.quit:
		return ErrClosed
	}
	// The run goroutine drains ops on quit, so done always closes.
	<-done
	return nil
}

// post runs f on the state goroutine without waiting. Posts from one
// goroutine run in the order they were made.
func (t *Tub) post(f func(*state)) {
	select {
	case t.ops <- f:
	case <-t.quit:
	}
}

// emitLocked publishes an event. Only the state goroutine emits, so Seq
// follows the order in which the state changed.
func (t *Tub) emitLocked(st *state, ev snapshot.Event) {
	st.eventSeq++
	ev.Seq = st.eventSeq
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	ev.TubID = t.id.TubID
	st.changed = true
	t.hub.Publish(ev)
}

// Subscribe returns a bounded feed of this tub's events.
func (t *Tub) Subscribe(capacity int) *Subscription { return t.hub.Subscribe(capacity) }

// spawn runs f in a goroutine counted by t.wg, unless the tub is closing.
func (t *Tub) spawn(f func()) bool {
	t.spawnMu.Lock()
	defer t.spawnMu.Unlock()
	if t.closed.Load() {
		return false
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		f()
	}()
	return true
}

// Close stops listeners, reconnectors and brokers and waits for every
// goroutine the tub started.
func (t *Tub) Close() error {
	t.spawnMu.Lock()
	first := t.closed.CompareAndSwap(false, true)
	t.spawnMu.Unlock()
	if !first {
		return nil
	}
	t.lnMu.Lock()
	for _, ln := range t.listeners {
		ln.Close()
	}
	t.lnMu.Unlock()
	t.cancel()
	_ = t.do(func(st *state) {
		for r := range st.reconns {
			r.cancel()
		}
		for _, id := range sortedIDs(st.pending) {
			t.endLocked(st, id, ending{reason: snapshot.CloseTubClosed, detail: "the tub closed"})
		}
		for _, id := range sortedIDs(st.brokers) {
			t.endLocked(st, id, ending{reason: snapshot.CloseTubClosed, detail: "the tub closed"})
		}
		for _, z := range st.zombies {
			z.Close()
		}
		st.zombies = nil
	})
	t.wg.Wait()
	close(t.quit)
	t.runWG.Wait()
	return nil
}

// Policy names the active duplicate-connection policy.
func (t *Tub) Policy() string {
	var name string
	if t.do(func(st *state) { name = st.policy.Name() }) != nil {
		return ""
	}
	return name
}

// SetPolicy switches the duplicate-connection policy.
func (t *Tub) SetPolicy(p negotiation.Policy) error {
	return t.do(func(st *state) {
		st.policy = p
		t.emitLocked(st, snapshot.Event{Kind: snapshot.KindPolicy, Message: "policy " + p.Name()})
	})
}

// Incarnation is the tub's current incarnation record.
func (t *Tub) Incarnation() string {
	var inc string
	_ = t.do(func(st *state) { inc = st.incarnation })
	return inc
}

func (t *Tub) logDecision(st *state, d snapshot.Decision) {
	st.decTotal++
	d.Seq = st.decTotal
	st.changed = true
	// The ring grows on demand: most tubs (a storm's thousands of
	// clients) log a handful of decisions, not DecisionLogSize.
	if len(st.decisions) < t.cfg.DecisionLogSize {
		st.decisions = append(st.decisions, d)
		return
	}
	st.decisions[st.decHead] = d
	st.decHead = (st.decHead + 1) % len(st.decisions)
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
