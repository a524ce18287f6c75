// Package tubclient is tubscope's live tub: identity, FURLs, listeners,
// connectors, brokers, the master and slave tables, reconnectors,
// keepalives, a minimal Banana/PB layer, fault injection hooks and a typed
// event stream. One goroutine owns each tub's state; everything else asks
// it through closures and reads immutable snapshots.
package tubclient

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient/snapshot"
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
	// wg counts every other goroutine the tub starts (listeners,
	// negotiations, broker readers, reconnectors, pings, closes); spawn
	// refuses new ones once Close has begun, so Add never races Wait.
	spawnMu sync.Mutex
	wg      sync.WaitGroup
	ctx     context.Context
	cancel  context.CancelFunc

	hub      hub
	eventSeq atomic.Uint64
	nextID   atomic.Uint64

	svcMu    sync.RWMutex
	services map[string]Object // swissnum → object
	location []Hint

	lnMu      sync.Mutex
	listeners []net.Listener

	st *state // owned by the run goroutine
}

// state is everything the run goroutine owns.
type state struct {
	incarnation string
	incCount    int
	policy      negotiation.Policy
	brokers     map[uint64]*Broker // every broker, negotiating ones included
	byPeer      map[string]*Broker // the established broker per peer
	master      map[string]*snapshot.MasterEntry
	slave       map[string]*snapshot.SlaveEntry
	peers       map[string]*peerInfo
	decisions   []snapshot.Decision // ring
	decHead     int
	decTotal    uint64
	zombies     []net.Conn // sockets left open by silent restarts and lost decisions
	reconns     map[*Reconnector]struct{}
	probes      map[*Broker][]*pendingProbe
	// loseDecision holds peers ("" for any) whose next decision from us is
	// to be lost on the wire.
	loseDecision map[string]bool
}

type peerInfo struct {
	tubid        string
	nickname     string
	hints        []Hint
	incarnations []snapshot.IncarnationSeen
	clone        bool
	lastIncIdx   int
	lastAccept   time.Time // our last accept of its offer, as master
}

// New creates and starts a tub (without listeners; call Listen).
func New(cfg Config) (*Tub, error) {
	cfg.fill()
	kex, err := ParseKeyExchange(string(cfg.KeyExchange))
	if err != nil {
		return nil, err
	}
	cfg.KeyExchange = kex
	if cfg.Identity == nil {
		var id *Identity
		if cfg.KeyFile != "" {
			id, err = LoadOrCreateIdentity(cfg.KeyFile)
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
		st: &state{
			incarnation:  newIncarnation(),
			incCount:     1,
			policy:       cfg.Policy,
			brokers:      make(map[uint64]*Broker),
			byPeer:       make(map[string]*Broker),
			master:       make(map[string]*snapshot.MasterEntry),
			slave:        make(map[string]*snapshot.SlaveEntry),
			peers:        make(map[string]*peerInfo),
			reconns:      make(map[*Reconnector]struct{}),
			probes:       make(map[*Broker][]*pendingProbe),
			loseDecision: make(map[string]bool),
		},
	}
	t.tlsServer, t.tlsClient = t.tlsConfig(true), t.tlsConfig(false)
	t.runWG.Add(1)
	go t.run()
	t.emit(snapshot.Event{Kind: snapshot.KindIncarnation, Incarnation: t.st.incarnation, Message: "tub started"})
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
	tick := t.tickInterval()
	var ticker *time.Ticker
	var tickC <-chan time.Time
	if tick > 0 {
		ticker = time.NewTicker(tick)
		defer ticker.Stop()
		tickC = ticker.C
	}
	for {
		select {
		case op := <-t.ops:
			op(t.st)
		case <-tickC:
			t.checkLiveness(t.st)
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
	select {
	case <-done:
		return nil
	case <-t.quit:
		// The run goroutine drains ops on quit, so done will close.
		<-done
		return nil
	}
}

// post runs f on the state goroutine without waiting.
func (t *Tub) post(f func(*state)) {
	select {
	case t.ops <- f:
	case <-t.quit:
	}
}

func (t *Tub) emit(ev snapshot.Event) {
	ev.Seq = t.eventSeq.Add(1)
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	ev.TubID = t.id.TubID
	t.hub.publish(ev)
}

// Subscribe returns a bounded feed of this tub's events.
func (t *Tub) Subscribe(capacity int) *Subscription { return t.hub.subscribe(capacity) }

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
			r.stopLocked()
		}
		for _, b := range st.brokers {
			b.closeConn()
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
		t.emit(snapshot.Event{Kind: snapshot.KindPolicy, Message: "policy " + p.Name()})
	})
}

// Incarnation is the tub's current incarnation record.
func (t *Tub) Incarnation() string {
	var inc string
	_ = t.do(func(st *state) { inc = st.incarnation })
	return inc
}

func (st *state) peer(tubid string) *peerInfo {
	p := st.peers[tubid]
	if p == nil {
		p = &peerInfo{tubid: tubid, lastIncIdx: -1}
		st.peers[tubid] = p
	}
	return p
}

// sawIncarnation records an offer's incarnation. Going back to an
// incarnation seen before another one means two processes share the key.
func (t *Tub) sawIncarnation(st *state, tubid, inc string, now time.Time) {
	if inc == "" {
		return
	}
	p := st.peer(tubid)
	for i := range p.incarnations {
		rec := &p.incarnations[i]
		if rec.Incarnation != inc {
			continue
		}
		rec.LastSeen = now
		rec.Offers++
		if p.lastIncIdx != i && p.lastIncIdx >= 0 && !p.clone {
			p.clone = true
			t.emit(snapshot.Event{Kind: snapshot.KindClone, PeerTubID: tubid, Incarnation: inc,
				Message: fmt.Sprintf("incarnation %s came back after %s: two processes share this tubid",
					inc, p.incarnations[p.lastIncIdx].Incarnation)})
		}
		p.lastIncIdx = i
		return
	}
	p.incarnations = append(p.incarnations, snapshot.IncarnationSeen{Incarnation: inc, FirstSeen: now, LastSeen: now, Offers: 1})
	p.lastIncIdx = len(p.incarnations) - 1
	const maxIncarnations = 64
	if len(p.incarnations) > maxIncarnations {
		p.incarnations = p.incarnations[1:]
		p.lastIncIdx--
	}
}

func (t *Tub) logDecision(st *state, d snapshot.Decision) {
	st.decTotal++
	d.Seq = st.decTotal
	// The ring grows on demand: most tubs (a storm's thousands of
	// clients) log a handful of decisions, not DecisionLogSize.
	if len(st.decisions) < t.cfg.DecisionLogSize {
		st.decisions = append(st.decisions, d)
		return
	}
	st.decisions[st.decHead] = d
	st.decHead = (st.decHead + 1) % len(st.decisions)
}
