package tubclient

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// connectBroker returns an established broker to f's tub, dialing every
// hint in parallel when there is none (or always, when force is set: the
// new connection is offered beside the old one, which is the duplicate
// case). The first hint to finish negotiating wins; the rest are cancelled.
func (t *Tub) connectBroker(ctx context.Context, f FURL, force bool) (*Broker, error) {
	if f.TubID == t.id.TubID {
		return nil, errors.New("refusing to connect to self")
	}
	var existing *Broker
	if err := t.do(func(st *state) {
		p := st.peer(f.TubID)
		if len(f.Hints) > 0 {
			p.hints = f.Hints
		}
		existing = st.byPeer[f.TubID]
	}); err != nil {
		return nil, err
	}
	if existing != nil && !force {
		return existing, nil
	}
	last := &negotiation.Connection{MasterIncarnation: "none"}
	if err := t.do(func(st *state) {
		if e := st.slave[f.TubID]; e != nil {
			last = &negotiation.Connection{MasterIncarnation: e.MasterIncarnation, SeqNum: e.SeqNum}
		}
	}); err != nil {
		return nil, err
	}
	if len(f.Hints) == 0 {
		return nil, fmt.Errorf("no location hints for tub %s", f.TubID)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(t.ctx, cancel)
	defer stop()

	attempt := newAttemptID()
	type result struct {
		b   *Broker
		err error
	}
	results := make(chan result, len(f.Hints))
	var wg sync.WaitGroup
	for _, h := range f.Hints {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := t.dialHint(ctx, f, h, attempt, last)
			results <- result{b, err}
		}()
	}
	var winner *Broker
	var errs []error
	for range f.Hints {
		r := <-results
		if r.err != nil {
			errs = append(errs, r.err)
			continue
		}
		// A later hint that also won replaced the earlier broker.
		winner = r.b
		cancel()
	}
	wg.Wait()
	if winner != nil {
		return winner, nil
	}
	if len(errs) == 1 {
		return nil, errs[0]
	}
	return nil, errors.Join(errs...)
}

// GetReference connects to f's tub (reusing an established broker) and
// fetches the object named by its swissnum.
func (t *Tub) GetReference(ctx context.Context, furl string) (*RemoteReference, error) {
	f, err := ParseFURL(furl)
	if err != nil {
		return nil, err
	}
	b, err := t.connectBroker(ctx, f, false)
	if err != nil {
		return nil, err
	}
	return b.pb.getReferenceByName(ctx, f.Swissnum)
}

// ForceReconnect opens a new connection to peer beside the established one.
// It returns at once; the outcome arrives as events.
func (t *Tub) ForceReconnect(peer string) error {
	var f FURL
	if err := t.do(func(st *state) {
		if p := st.peers[peer]; p != nil {
			f = FURL{TubID: peer, Hints: p.hints}
		}
	}); err != nil {
		return err
	}
	if len(f.Hints) == 0 {
		return fmt.Errorf("no hints known for %s: it dialed in, so it must reconnect itself", short(peer))
	}
	if !t.spawn(func() {
		ctx, cancel := context.WithTimeout(t.ctx, t.cfg.NegotiationTimeout)
		defer cancel()
		if _, err := t.connectBroker(ctx, f, true); err != nil {
			t.cfg.Logger.Info("forced reconnect failed", "peer", peer, "err", err)
		}
	}) {
		return ErrClosed
	}
	return nil
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// Reconnector keeps a reference to one FURL alive, retrying with
// Foolscap's backoff.
type Reconnector struct {
	t      *Tub
	furl   FURL
	raw    string
	cancel context.CancelFunc
	kick   chan struct{}
	onRef  func(*RemoteReference)

	mu       sync.Mutex
	state    snapshot.ReconnectorState
	attempts int
	delay    time.Duration
	next     time.Time
	lastErr  string
	ref      *RemoteReference
}

// ConnectTo starts a reconnector for furl; onRef (may be nil) runs on
// every new reference.
func (t *Tub) ConnectTo(furl string, onRef func(*RemoteReference)) (*Reconnector, error) {
	f, err := ParseFURL(furl)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(t.ctx)
	r := &Reconnector{t: t, furl: f, raw: furl, cancel: cancel, kick: make(chan struct{}, 1), onRef: onRef,
		state: snapshot.Connecting}
	if err := t.do(func(st *state) { st.reconns[r] = struct{}{}; st.peer(f.TubID).hints = f.Hints }); err != nil {
		cancel()
		return nil, err
	}
	if !t.spawn(func() { r.loop(ctx) }) {
		cancel()
		return nil, ErrClosed
	}
	return r, nil
}

// Stop ends the reconnector (the current connection stays).
func (r *Reconnector) Stop() {
	r.cancel()
	r.t.post(func(st *state) { delete(st.reconns, r) })
}

func (r *Reconnector) stopLocked() { r.cancel() }

// Reference is the current reference, or nil between connections.
func (r *Reconnector) Reference() *RemoteReference {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ref
}

// Reset retries now (Foolscap's reset()).
func (r *Reconnector) Reset() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

func (r *Reconnector) info() snapshot.Reconnector {
	r.mu.Lock()
	defer r.mu.Unlock()
	return snapshot.Reconnector{FURL: r.raw, State: r.state, Attempts: r.attempts, Delay: r.delay,
		NextAttempt: r.next, LastError: r.lastErr}
}

func (r *Reconnector) set(f func()) {
	r.mu.Lock()
	f()
	r.mu.Unlock()
}

func (r *Reconnector) loop(ctx context.Context) {
	bo := r.t.cfg.Backoff
	delay := bo.Initial
	for {
		r.set(func() { r.state = snapshot.Connecting; r.next = time.Time{} })
		cctx, cancel := context.WithTimeout(ctx, r.t.cfg.NegotiationTimeout)
		ref, err := r.t.GetReference(cctx, r.raw)
		cancel()
		if ctx.Err() != nil {
			r.set(func() { r.state = snapshot.Stopped })
			return
		}
		if err == nil {
			r.set(func() { r.state, r.attempts, r.lastErr, r.ref = snapshot.Connected, 0, "", ref })
			if r.onRef != nil {
				r.onRef(ref)
			}
			select {
			case <-ref.b.Done():
			case <-ctx.Done():
				r.set(func() { r.state, r.ref = snapshot.Stopped, nil })
				return
			}
			r.set(func() { r.ref = nil })
			// A replacement broker may already be up (a forced reconnect,
			// or the peer dialed us): take it without waiting.
			if r.t.hasBroker(r.furl.TubID) {
				delay = bo.Initial
				continue
			}
			delay = bo.Initial
		} else {
			r.set(func() { r.attempts++; r.lastErr = err.Error() })
		}
		wait := jitter(delay, bo.Jitter)
		at := time.Now().Add(wait)
		r.set(func() { r.state, r.delay, r.next = snapshot.Waiting, wait, at })
		r.t.emit(snapshot.Event{Kind: snapshot.KindReconnectScheduled, PeerTubID: r.furl.TubID, At: at, Delay: wait,
			Err: errString(err)})
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-r.kick:
			timer.Stop()
			delay = bo.Initial
			continue
		case <-ctx.Done():
			timer.Stop()
			r.set(func() { r.state = snapshot.Stopped })
			return
		}
		if err != nil {
			delay = time.Duration(float64(delay) * bo.Factor)
			if delay > bo.Max {
				delay = bo.Max
			}
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// jitter spreads d by a Gaussian with σ = factor×d, never below zero.
func jitter(d time.Duration, factor float64) time.Duration {
	if factor <= 0 {
		return d
	}
	j := time.Duration(rand.NormFloat64() * factor * float64(d))
	if d+j < 0 {
		return 0
	}
	return d + j
}

func (t *Tub) hasBroker(peer string) bool {
	var ok bool
	_ = t.do(func(st *state) { ok = st.byPeer[peer] != nil })
	return ok
}
