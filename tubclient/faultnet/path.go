package faultnet

import (
	"cmp"
	"context"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"time"
)

// Path is a registry of the live Conns made over one network path, so a
// controller can fault all of them at once. Closed Conns leave it.
type Path struct {
	mu      sync.Mutex
	rng     *rand.Rand
	conns   map[*Conn]struct{}
	nextSeq uint64
	onNew   func(*Conn)
	outage  *outage
}

// outage is a Flap in progress: new Conns are black-holed until it ends,
// then those born during it are restored.
type outage struct {
	until time.Time
	born  map[*Conn]struct{}
}

// NewPath makes an empty Path. rng seeds each Conn's jitter source so runs
// can repeat; nil uses the global source.
func NewPath(rng *rand.Rand) *Path {
	return &Path{rng: rng, conns: make(map[*Conn]struct{})}
}

// Wrap wraps nc, registers it, and applies the Path's fault for new Conns.
func (p *Path) Wrap(nc net.Conn) *Conn {
	p.mu.Lock()
	var rng *rand.Rand
	if p.rng != nil {
		rng = rand.New(rand.NewPCG(p.rng.Uint64(), p.rng.Uint64()))
	}
	c := New(nc, rng)
	c.path = p
	p.nextSeq++
	c.seq = p.nextSeq
	p.conns[c] = struct{}{}
	if o := p.outage; o != nil && time.Now().Before(o.until) {
		c.BlackHole()
		o.born[c] = struct{}{}
	}
	apply := p.onNew
	p.mu.Unlock()
	if apply != nil {
		apply(c)
	}
	return c
}

func (p *Path) forget(c *Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	if p.outage != nil {
		delete(p.outage.born, c)
	}
	p.mu.Unlock()
}

// SetDefault makes apply run on every new Conn before it is handed out, to
// set its faults; nil clears it.
func (p *Path) SetDefault(apply func(*Conn)) {
	p.mu.Lock()
	p.onNew = apply
	p.mu.Unlock()
}

// Conns returns the live Conns, oldest first.
func (p *Path) Conns() []*Conn {
	p.mu.Lock()
	out := make([]*Conn, 0, len(p.conns))
	for c := range p.conns {
		out = append(out, c)
	}
	p.mu.Unlock()
	slices.SortFunc(out, func(a, b *Conn) int { return cmp.Compare(a.seq, b.seq) })
	return out
}

// BlackHoleAll black-holes every live Conn.
func (p *Path) BlackHoleAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.BlackHole()
	}
}

// RestoreAll lifts the black-hole on every live Conn.
func (p *Path) RestoreAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Restore()
	}
}

// Flap takes the path down for down, like a NAT losing its mapping: live
// Conns are black-holed for good, Conns made during the outage are
// black-holed until it ends and then restored, later Conns are untouched.
func (p *Path) Flap(down time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.BlackHole()
	}
	if p.outage != nil {
		p.outage.born = nil // born in the last outage, dead in this one
	}
	o := &outage{until: time.Now().Add(down), born: make(map[*Conn]struct{})}
	p.outage = o
	time.AfterFunc(down, func() { p.endOutage(o) })
}

func (p *Path) endOutage(o *outage) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range o.born {
		c.Restore()
	}
	o.born = nil
	if p.outage == o {
		p.outage = nil
	}
}

// Dialer dials connections wrapped as Conns, registered in Path when set.
type Dialer struct {
	Base net.Dialer
	Path *Path
}

// Dial connects to addr and wraps the connection.
func (d *Dialer) Dial(ctx context.Context, network, addr string) (*Conn, error) {
	nc, err := d.Base.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return wrap(d.Path, nc), nil
}

// DialContext is Dial for callers that want a net.Conn.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := d.Dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Listener wraps a net.Listener so that every accepted conn is a *Conn,
// registered in Path when set.
type Listener struct {
	net.Listener
	Path *Path
}

// Accept waits for a connection and returns it as a *Conn.
func (l *Listener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return wrap(l.Path, nc), nil
}

func wrap(p *Path, nc net.Conn) *Conn {
	if p == nil {
		return New(nc, nil)
	}
	return p.Wrap(nc)
}
