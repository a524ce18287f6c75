package storm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/faultnet"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// member is one tub of a storm client: the client itself, or the twin a
// clone fault gives it. Only the goroutine running it touches it.
type member struct {
	c    *child
	g    int // the client's global index
	twin bool
	tub  *tubclient.Tub
	path *faultnet.Path // every socket the tub dials, so a fault reaches them all
	ref  *tubclient.RemoteReference
	// firstDone, when set, is closed after the next attempt (a twin's
	// first, which its client waits for).
	firstDone chan struct{}
}

func (c *child) newMember(g int, twin bool, id *tubclient.Identity) (*member, error) {
	path := faultnet.NewPath(nil)
	d := &faultnet.Dialer{Base: c.base, Path: path}
	name := fmt.Sprintf("storm client %d", g)
	if twin {
		name += " (twin)"
	}
	tub, err := tubclient.New(tubclient.Config{Identity: id, Nickname: name, Dial: d.DialContext,
		NegotiationTimeout: c.cfg.NegotiationTimeout, KeyExchange: tubclient.KeyExchange(c.cfg.KeyExchange)})
	if err != nil {
		return nil, err
	}
	return &member{c: c, g: g, twin: twin, tub: tub, path: path}, nil
}

// attempt is one try at the client's operation: connect (or use the
// connection it holds), getReference and the call, within the attempt
// bound. It returns why it failed (nil when it succeeded), and what its
// offer sent when one was decided.
func (m *member) attempt(ctx context.Context) (Reason, *Sent, error) {
	cfg := &m.c.cfg
	actx, cancel := context.WithTimeout(ctx, cfg.attemptBound())
	defer cancel()
	// The offer's last-connection travels only in the tub's events.
	sub := m.tub.Subscribe(32)
	defer sub.Close()
	ref, err := m.tub.GetReference(actx, cfg.FURL)
	if err == nil && cfg.Call != "" {
		err = m.call(actx, ref)
	}
	sent := offerSent(sub)
	if err == nil {
		m.ref = ref
		return Reason{}, sent, nil
	}
	if actx.Err() != nil && ctx.Err() == nil {
		// The connection stopped answering (a flap): give it up, as an
		// application would, so the next attempt dials afresh.
		m.dropHeld()
	}
	offered := ""
	if sent != nil {
		offered = sent.Last
	}
	return classify(err, offered), sent, err
}

// call makes the storm's call and checks the answer.
func (m *member) call(ctx context.Context, ref *tubclient.RemoteReference) error {
	token := fmt.Sprintf("storm %d", m.g)
	got, err := ref.Call(ctx, m.c.cfg.Call, token)
	if err != nil {
		return err
	}
	if s, ok := got.(string); !ok || s != token {
		return fmt.Errorf("%s(%q) answered %v", m.c.cfg.Call, token, got)
	}
	return nil
}

// dropHeld closes the tub's established connections to the target.
func (m *member) dropHeld() {
	m.ref = nil
	for _, b := range m.tub.Snapshot().Brokers {
		if b.PeerTubID == m.c.target.TubID && b.State != snapshot.Negotiating {
			_ = m.tub.DropBroker(b.ID)
		}
	}
}

// offerSent is what the newest decided offer of an attempt sent, from a
// subscription taken before it; nil when no offer was decided (the
// connection was reused, or the attempt failed before a decision).
func offerSent(sub *tubclient.Subscription) *Sent {
	var s *Sent
	for _, ev := range sub.Drain(0) {
		if ev.Kind == snapshot.KindDecisionReceived {
			s = &Sent{Incarnation: ev.Incarnation, Last: ev.LastConnection, AttemptID: ev.AttemptID}
		}
	}
	return s
}

// recover retries the client's operation with Foolscap's backoff until it
// succeeds, reporting each failure and the success. After a lost
// connection Foolscap waits its initial delay first; after a fault (a
// process starting over) the first attempt is immediate. A fault order
// arriving meanwhile ends the recovery and is returned.
func (m *member) recover(ctx context.Context, round int, immediate bool, orders <-chan faultOrder) *faultOrder {
	bo := m.c.cfg.Backoff
	delay := bo.Initial
	wait := func(d time.Duration) (*faultOrder, bool) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return nil, true
		case o := <-orders:
			return &o, false
		case <-ctx.Done():
			return nil, false
		}
	}
	if !immediate {
		if o, ok := wait(delay); !ok {
			return o
		}
	}
	for {
		reason, sent, err := m.attempt(ctx)
		now := time.Now()
		if m.firstDone != nil {
			close(m.firstDone)
			m.firstDone = nil
		}
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			m.c.out.send(report{K: repBack, C: m.g, R: round, T: now.UnixNano(), TubID: m.tub.TubID(), Twin: m.twin, Sent: sent})
			return nil
		}
		delay = nextDelay(delay, bo)
		m.c.out.send(report{K: repFail, C: m.g, R: round, T: now.UnixNano(), TubID: m.tub.TubID(), Twin: m.twin,
			Refused: reason.Refused, Reason: reason.Text, Offer: reason.Offer, Rule: reason.Rule, Err: clip(err.Error()),
			Next: now.Add(delay).UnixNano(), Sent: sent})
		if o, ok := wait(delay); !ok {
			return o
		}
	}
}

// hold waits for the held connection to end, or for a fault order.
func (m *member) hold(ctx context.Context, orders <-chan faultOrder) (*faultOrder, bool) {
	var lost <-chan struct{}
	if m.ref != nil {
		lost = m.ref.Broker().Done()
	}
	select {
	case o := <-orders:
		return &o, false
	case <-lost:
		m.ref = nil
		return nil, true
	case <-ctx.Done():
		return nil, false
	}
}

// nextDelay is Foolscap's reconnector after a failure: the delay grows by
// the factor up to the cap, then a normal jitter spreads it (and the
// jittered value is the base of the next step).
func nextDelay(d time.Duration, bo tubclient.Backoff) time.Duration {
	d = min(time.Duration(float64(d)*bo.Factor), bo.Max)
	d += time.Duration(rand.NormFloat64() * bo.Jitter * float64(d))
	return max(d, 0)
}

// clip keeps error texts in reports short.
func clip(s string) string {
	const max = 300
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}

// emitter writes reports to the parent, one JSON line per Write.
type emitter struct {
	mu  sync.Mutex
	w   io.Writer
	err error
}

func newEmitter(w io.Writer) *emitter { return &emitter{w: w} }

func (e *emitter) send(r report) {
	b, err := json.Marshal(r)
	if err != nil {
		return // a report is plain data; this cannot happen
	}
	b = append(b, '\n')
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}

// dialer is the base dialer of every client tub: from the plan's source
// address, and refusing public addresses unless the operator owns the
// target.
func dialer(cfg *childConfig) (net.Dialer, error) {
	var d net.Dialer
	if !cfg.OwnTarget {
		d.Control = guardDial
	}
	if cfg.SourceAddr != "" {
		ip := net.ParseIP(cfg.SourceAddr)
		if ip == nil {
			return d, errors.New("bad source address " + cfg.SourceAddr)
		}
		d.LocalAddr = &net.TCPAddr{IP: ip}
	}
	return d, nil
}
