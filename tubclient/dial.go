package tubclient

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// dial is the one active outbound attempt to a peer. Callers that do not
// force a new connection join it and all get its broker or its error
// (as go-libp2p's dial_sync does); it runs on the tub's context, not on any
// caller's, and is cancelled when every caller has gone.
type dial struct {
	peer   string
	done   chan struct{}
	b      *Broker
	err    error
	refs   int
	cancel context.CancelFunc
}

// connect returns an established broker to f's tub. Without force it
// reuses the established broker or joins the active attempt; with force it
// starts a new attempt beside them (the duplicate case).
func (t *Tub) connect(ctx context.Context, f FURL, force bool) (*Broker, error) {
	if f.TubID == t.id.TubID {
		return nil, errors.New("refusing to connect to self")
	}
	if err := ctx.Err(); err != nil {
		// A caller that has already given up starts no attempt: the wait
		// below would otherwise race its own attempt's result.
		return nil, err
	}
	var b *Broker
	var d *dial
	err := t.do(func(st *state) {
		p := st.peer(f.TubID)
		if len(f.Hints) > 0 || len(f.Skipped) > 0 {
			p.hints, p.skipped = f.Hints, f.Skipped
		}
		if !force {
			if b = st.byPeer[f.TubID]; b != nil {
				return
			}
			if d = st.dials[f.TubID]; d != nil {
				d.refs++
				return
			}
		}
		d = t.startDialLocked(st, f)
	})
	if err != nil {
		return nil, err
	}
	if b != nil {
		return b, nil
	}
	select {
	case <-d.done:
		return d.b, d.err
	case <-ctx.Done():
		t.post(func(st *state) {
			if d.refs--; d.refs == 0 {
				// Nobody waits any more: later callers start afresh rather
				// than join an attempt that is being cancelled.
				d.cancel()
				if st.dials[d.peer] == d {
					delete(st.dials, d.peer)
				}
			}
		})
		return nil, ctx.Err()
	}
}

// startDialLocked starts an attempt on every usable hint at once. The
// first to finish negotiating wins; the rest are cancelled.
func (t *Tub) startDialLocked(st *state, f FURL) *dial {
	ctx, cancel := context.WithTimeout(t.ctx, t.cfg.NegotiationTimeout)
	d := &dial{peer: f.TubID, done: make(chan struct{}), refs: 1, cancel: cancel}
	if st.dials[f.TubID] == nil {
		st.dials[f.TubID] = d
	}
	st.changed = true
	last := &negotiation.Connection{MasterIncarnation: "none"}
	if e := st.slave[f.TubID]; e != nil {
		last = &negotiation.Connection{MasterIncarnation: e.MasterIncarnation, SeqNum: e.SeqNum}
	}
	finish := func(b *Broker, err error) {
		cancel()
		t.post(func(st *state) {
			if st.dials[d.peer] == d {
				delete(st.dials, d.peer)
			}
			st.peer(d.peer)
			if err != nil {
				t.peerAttemptFailed(st, d.peer, time.Now(), err, isRefused(err))
			}
			d.b, d.err = b, err
			close(d.done)
		})
	}
	if err := f.Usable(); err != nil {
		finish(nil, err)
		return d
	}
	if !t.spawn(func() { finish(t.dialHints(ctx, f, newAttemptID(), last)) }) {
		finish(nil, ErrClosed)
	}
	return d
}

// dialHints races the hints of one attempt.
func (t *Tub) dialHints(ctx context.Context, f FURL, attempt string, last *negotiation.Connection) (*Broker, error) {
	if len(f.Hints) == 1 {
		// Nothing to race: dial on this goroutine.
		return t.dialHint(ctx, f, f.Hints[0], attempt, last)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
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

// isRefused tells an address that refused or could not be reached from a
// peer that answered and then failed.
func isRefused(err error) bool {
	var ne *NegotiationError
	if errors.As(err, &ne) && ne.Phase == "connect" {
		return true
	}
	var op *net.OpError
	return errors.Is(err, syscall.ECONNREFUSED) || (errors.As(err, &op) && op.Op == "dial")
}

// GetReference connects to f's tub (reusing an established broker, or
// joining an attempt already under way) and fetches the object named by
// its swissnum.
func (t *Tub) GetReference(ctx context.Context, furl string) (*RemoteReference, error) {
	f, err := ParseFURL(furl)
	if err != nil {
		return nil, err
	}
	b, err := t.connect(ctx, f, false)
	if err != nil {
		return nil, err
	}
	return b.pb.getReferenceByName(ctx, f.Swissnum)
}

// ForceReconnect opens a new connection to peer beside the established
// one, or dials now (resetting the backoff) when there is none. It
// returns at once; the outcome arrives as events.
func (t *Tub) ForceReconnect(peer string) error {
	var f FURL
	var recons []*Reconnector
	if err := t.do(func(st *state) {
		if p := st.peers[peer]; p != nil {
			f = FURL{TubID: peer, Hints: p.hints, Skipped: p.skipped}
		}
		for r := range st.reconns {
			if r.furl.TubID == peer {
				recons = append(recons, r)
			}
		}
	}); err != nil {
		return err
	}
	if len(f.Hints) == 0 {
		if err := f.Usable(); err != nil && len(f.Skipped) > 0 {
			return err
		}
		return fmt.Errorf("no hints known for %s: it dialed in, so it must reconnect itself", short(peer))
	}
	for _, r := range recons {
		r.Reset()
	}
	if !t.spawn(func() {
		if _, err := t.connect(t.ctx, f, true); err != nil {
			t.cfg.Logger.Info("forced reconnect failed", "peer", peer, "err", err)
		}
	}) {
		return ErrClosed
	}
	return nil
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
	if err := t.do(func(st *state) {
		st.reconns[r] = struct{}{}
		p := st.peer(f.TubID)
		p.hints, p.skipped = f.Hints, f.Skipped
	}); err != nil {
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
	r.t.post(func(st *state) { delete(st.reconns, r); st.changed = true })
}

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
	r.t.post(func(st *state) { st.peer(r.furl.TubID) })
}

func (r *Reconnector) loop(ctx context.Context) {
	t := r.t
	bo := t.cfg.Backoff
	delay := bo.Initial
	for {
		r.set(func() { r.state = snapshot.Connecting; r.next = time.Time{} })
		cctx, cancel := context.WithTimeout(ctx, t.cfg.NegotiationTimeout)
		ref, err := t.GetReference(cctx, r.raw)
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
			delay = bo.Initial
			// A replacement broker may already be up (a forced reconnect,
			// or the peer dialed us): take it without waiting.
			if t.hasBroker(r.furl.TubID) {
				continue
			}
		} else {
			r.set(func() { r.attempts++; r.lastErr = err.Error() })
		}
		wait := jitter(delay, bo.Jitter)
		at := time.Now().Add(wait)
		r.set(func() { r.state, r.delay, r.next = snapshot.Waiting, wait, at })
		t.post(func(st *state) {
			t.emitLocked(st, snapshot.Event{Kind: snapshot.KindReconnectScheduled, PeerTubID: r.furl.TubID,
				At: at, Delay: wait, Err: errString(err)})
		})
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
			delay = min(time.Duration(float64(delay)*bo.Factor), bo.Max)
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
