package tubclient

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient/faultnet"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// Listen starts accepting connections on addr ("tcp:HOST:PORT",
// "HOST:PORT"; port 0 picks a free port) and returns the bound hint.
func (t *Tub) Listen(addr string) (Hint, error) {
	addr = strings.TrimPrefix(addr, "tcp:")
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return Hint{}, err
	}
	return t.Serve(ln)
}

// Serve accepts connections from ln until the tub closes.
func (t *Tub) Serve(ln net.Listener) (Hint, error) {
	tcp, _ := ln.Addr().(*net.TCPAddr)
	var h Hint
	if tcp != nil {
		h = Hint{Host: tcp.IP.String(), Port: tcp.Port}
	}
	t.lnMu.Lock()
	if t.closed.Load() {
		t.lnMu.Unlock()
		ln.Close()
		return Hint{}, ErrClosed
	}
	t.listeners = append(t.listeners, ln)
	if tcp != nil && t.cfg.Location == nil {
		t.location = append(t.location, h)
	}
	t.lnMu.Unlock()
	adm := newAdmission(t.cfg.MaxNegotiations, t.cfg.MaxNegotiationsPerHost)
	if !t.spawn(func() { t.acceptLoop(ln, adm) }) {
		ln.Close()
		return Hint{}, ErrClosed
	}
	return h, nil
}

// Location is the list of hints this tub advertises.
func (t *Tub) Location() []Hint {
	t.lnMu.Lock()
	defer t.lnMu.Unlock()
	return append([]Hint(nil), t.location...)
}

// Listening lists the listeners' addresses.
func (t *Tub) Listening() []string {
	t.lnMu.Lock()
	defer t.lnMu.Unlock()
	out := make([]string, 0, len(t.listeners))
	for _, ln := range t.listeners {
		out = append(out, "tcp:"+ln.Addr().String())
	}
	return out
}

// staleAfter is how long a connection may sit in its prelude (sending
// nothing) before a newcomer may take its negotiation slot.
const staleAfter = time.Second

// admission bounds one listener's concurrent negotiations, in all and per
// remote host. When every slot is taken, the oldest connection that has
// been silent in its prelude for staleAfter gives its slot to the
// newcomer; failing that the listener stops accepting (the kernel's
// backlog holds new connections) until a slot frees. A flood of silent
// sockets therefore holds at most MaxNegotiations descriptors and cannot
// shut a real peer out for longer than staleAfter per slot.
type admission struct {
	max, perHost int

	mu     sync.Mutex
	active map[*admitted]struct{}
	byHost map[string]int
	freed  chan struct{} // one slot: a negotiation ended
}

type admitted struct {
	raw      *faultnet.Conn
	host     string
	opened   time.Time
	prelude  bool // still waiting for the request line
	released bool
}

func newAdmission(max, perHost int) *admission {
	return &admission{max: max, perHost: perHost, active: make(map[*admitted]struct{}),
		byHost: make(map[string]int), freed: make(chan struct{}, 1)}
}

func hostOf(addr net.Addr) string {
	if tcp, ok := addr.(*net.TCPAddr); ok {
		return tcp.IP.String()
	}
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	return host
}

// evictLocked closes the oldest stale connection (from host, when host is
// set); it reports whether it found one. Its slot frees when its
// negotiation goroutine ends.
func (a *admission) evictLocked(host string, now time.Time) bool {
	var oldest *admitted
	for c := range a.active {
		if !c.prelude || now.Sub(c.opened) < staleAfter || (host != "" && c.host != host) {
			continue
		}
		if oldest == nil || c.opened.Before(oldest.opened) {
			oldest = c
		}
	}
	if oldest == nil {
		return false
	}
	oldest.prelude = false // not chosen twice
	oldest.raw.Close()
	return true
}

// waitSlot blocks until a negotiation slot is free, evicting stale
// connections to make one. It returns false when the tub closes.
func (a *admission) waitSlot(done <-chan struct{}) bool {
	for {
		a.mu.Lock()
		if len(a.active) < a.max {
			a.mu.Unlock()
			return true
		}
		a.evictLocked("", time.Now())
		a.mu.Unlock()
		select {
		case <-a.freed:
		case <-time.After(staleAfter / 4):
		case <-done:
			return false
		}
	}
}

// admit takes a slot for c, or explains why its host has none.
func (a *admission) admit(raw *faultnet.Conn) (*admitted, error) {
	c := &admitted{raw: raw, host: hostOf(raw.RemoteAddr()), opened: time.Now(), prelude: true}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.perHost > 0 && a.byHost[c.host] >= a.perHost && !a.evictLocked(c.host, c.opened) {
		return nil, fmt.Errorf("too many negotiations from %s (limit %d)", c.host, a.perHost)
	}
	a.active[c] = struct{}{}
	a.byHost[c.host]++
	return c, nil
}

// spoke marks c past its prelude: it is no longer a candidate for eviction.
func (a *admission) spoke(c *admitted) {
	a.mu.Lock()
	c.prelude = false
	a.mu.Unlock()
}

func (a *admission) release(c *admitted) {
	a.mu.Lock()
	if !c.released {
		c.released = true
		delete(a.active, c)
		if a.byHost[c.host]--; a.byHost[c.host] <= 0 {
			delete(a.byHost, c.host)
		}
	}
	a.mu.Unlock()
	select {
	case a.freed <- struct{}{}:
	default:
	}
}

func (t *Tub) acceptLoop(ln net.Listener, adm *admission) {
	var backoff time.Duration
	for {
		if !adm.waitSlot(t.ctx.Done()) {
			return
		}
		c, err := ln.Accept()
		if err != nil {
			if t.closed.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Temporary failures (EMFILE and friends): make room, back off,
			// keep serving.
			adm.mu.Lock()
			adm.evictLocked("", time.Now())
			adm.mu.Unlock()
			if backoff == 0 {
				backoff = 5 * time.Millisecond
			} else if backoff < time.Second {
				backoff *= 2
			}
			t.cfg.Logger.Warn("accept failed", "err", err)
			select {
			case <-time.After(backoff):
			case <-t.ctx.Done():
				return
			}
			continue
		}
		backoff = 0
		raw := wrapConn(c)
		slot, err := adm.admit(raw)
		if err != nil {
			t.refuse(raw, err)
			continue
		}
		if !t.spawn(func() { t.serveConn(raw, func() { adm.spoke(slot) }, func() { adm.release(slot) }) }) {
			adm.release(slot)
			c.Close()
			return
		}
	}
}

// refuse turns a socket away with a 500 that says why, and an event.
func (t *Tub) refuse(raw *faultnet.Conn, why error) {
	remote := raw.RemoteAddr().String()
	if !t.spawn(func() {
		raw.SetWriteDeadline(time.Now().Add(time.Second))
		raw.Write(negotiation.ErrorResponse(why.Error()))
		raw.Close()
	}) {
		raw.Close()
		return
	}
	t.post(func(st *state) {
		t.emitLocked(st, snapshot.Event{Kind: snapshot.KindRefused, Remote: remote, Reason: why.Error()})
	})
}
