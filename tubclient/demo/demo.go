// Package demo is tubscope's built-in demo: a queen tub (the one the
// inspector shows) and a handful of client tubs in the same process, each
// dialing the queen through its own fault-injecting network path and
// calling ping() every second, so the duplicate-connection story of
// Foolscap ticket #28 can be played out on demand in a few seconds.
package demo

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/faultnet"
	"github.com/tubscope/tubscope/tubclient/service"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// Options shape a demo. Zero durations take the defaults below; a negative
// duration turns that timer off.
type Options struct {
	Clients int    // client tubs (default 5)
	Policy  string // the queen's duplicate-connection policy (default foolscap)

	Keepalive         time.Duration // the queen's keepalive (default 3 s)
	DisconnectTimeout time.Duration // the queen drops a connection silent this long (default 10 s)

	// FlapDown is how long Flap takes a client's network away (default 4 s).
	FlapDown time.Duration
	// PingEvery is each client's call interval (default 1 s).
	PingEvery time.Duration
	// Autoplay is how long after start the demo power-cuts its last client
	// by itself, so a newcomer sees the ticket's story without pressing a
	// key (default 12 s).
	Autoplay time.Duration
}

// The clients' timers are short so a power cut or a lost decision plays
// out within seconds rather than Foolscap's minutes.
const (
	clientNegotiationTimeout = 3 * time.Second
	clientKeepalive          = time.Second
	clientDisconnect         = 3 * time.Second
	clientBackoffInitial     = time.Second
	clientBackoffMax         = 8 * time.Second
	pingTimeout              = 2 * time.Second

	// MaxClients bounds the demo's size; the inspector picks clients with
	// the digits 1-9 but more can be driven from the broker table.
	MaxClients = 64
)

// Demo is a running demo.
type Demo struct {
	opts  Options
	queen *tubclient.Tub
	furl  string

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // ping loops

	mu      sync.Mutex
	clients []*client
	clones  map[int]*client
	closed  bool
}

// client is one in-process client tub and its network path.
type client struct {
	name  string
	tub   *tubclient.Tub
	path  *faultnet.Path
	recon *tubclient.Reconnector
	stop  context.CancelFunc // ends its ping loop
}

// Start builds the queen and the clients and sets them talking. ctx bounds
// the demo's background traffic; Close must still be called.
func Start(ctx context.Context, o Options) (*Demo, error) {
	if o.Clients == 0 {
		o.Clients = 5
	}
	if o.Clients < 0 || o.Clients > MaxClients {
		return nil, fmt.Errorf("demo clients: %d is outside 1..%d", o.Clients, MaxClients)
	}
	if o.Policy == "" {
		o.Policy = negotiation.PolicyFoolscap
	}
	policy, err := negotiation.PolicyByName(o.Policy)
	if err != nil {
		return nil, err
	}
	o.Keepalive = orDefault(o.Keepalive, 3*time.Second)
	o.DisconnectTimeout = orDefault(o.DisconnectTimeout, 10*time.Second)
	o.FlapDown = orDefault(o.FlapDown, 4*time.Second)
	o.PingEvery = orDefault(o.PingEvery, time.Second)
	o.Autoplay = orDefault(o.Autoplay, 12*time.Second)
	if o.FlapDown == 0 || o.PingEvery == 0 {
		return nil, errors.New("demo: flap and ping intervals must be positive")
	}

	// The queen must be master on every connection so that it is the one
	// deciding: a tubid near the top of the alphabet, clients below it.
	qid, err := tubclient.IdentityWhere(func(id string) bool { return id >= "y" })
	if err != nil {
		return nil, err
	}
	queen, err := tubclient.New(tubclient.Config{
		Identity:          qid,
		Nickname:          "queen",
		Policy:            policy,
		KeepaliveTimeout:  o.Keepalive,
		DisconnectTimeout: o.DisconnectTimeout,
	})
	if err != nil {
		return nil, err
	}
	d := &Demo{opts: o, queen: queen, clones: make(map[int]*client)}
	d.ctx, d.cancel = context.WithCancel(ctx)
	if _, err := queen.Listen("tcp:127.0.0.1:0"); err != nil {
		d.Close()
		return nil, err
	}
	if d.furl, err = queen.Register("demo", service.Builtin()); err != nil {
		d.Close()
		return nil, err
	}
	for i := range o.Clients {
		id, err := tubclient.IdentityWhere(func(id string) bool { return id < qid.TubID })
		if err != nil {
			d.Close()
			return nil, err
		}
		c, err := d.startClient(fmt.Sprintf("client-%d", i+1), id)
		if err != nil {
			d.Close()
			return nil, err
		}
		queen.SetNickname(id.TubID, c.name)
		d.mu.Lock()
		d.clients = append(d.clients, c)
		d.mu.Unlock()
	}
	if o.Autoplay > 0 {
		d.wg.Add(1)
		go d.autoplay(o.Autoplay)
	}
	return d, nil
}

// autoplay plays the ticket's story once: the last client loses power.
func (d *Demo) autoplay(after time.Duration) {
	defer d.wg.Done()
	t := time.NewTimer(after)
	defer t.Stop()
	select {
	case <-t.C:
		_ = d.PowerCut(len(d.Clients()) - 1)
	case <-d.ctx.Done():
	}
}

func orDefault(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

// startClient makes a client tub with identity id, routed through a fresh
// path, connecting to the queen and pinging it.
func (d *Demo) startClient(name string, id *tubclient.Identity) (*client, error) {
	path := faultnet.NewPath(nil)
	tub, err := tubclient.New(tubclient.Config{
		Identity:           id,
		Nickname:           name,
		NegotiationTimeout: clientNegotiationTimeout,
		KeepaliveTimeout:   clientKeepalive,
		DisconnectTimeout:  clientDisconnect,
		Backoff:            tubclient.Backoff{Initial: clientBackoffInitial, Max: clientBackoffMax},
		Dial:               (&faultnet.Dialer{Path: path}).DialContext,
	})
	if err != nil {
		return nil, err
	}
	recon, err := tub.ConnectTo(d.furl, nil)
	if err != nil {
		tub.Close()
		return nil, err
	}
	c := &client{name: name, tub: tub, path: path, recon: recon}
	ctx, stop := context.WithCancel(d.ctx)
	c.stop = stop
	// Close waits on wg once closed is set, so no loop may join after that.
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		c.close()
		return nil, tubclient.ErrClosed
	}
	d.wg.Add(1)
	d.mu.Unlock()
	go func() {
		defer d.wg.Done()
		d.pingLoop(ctx, c)
	}()
	return c, nil
}

// pingLoop keeps live traffic on the client's current reference.
func (d *Demo) pingLoop(ctx context.Context, c *client) {
	tick := time.NewTicker(d.opts.PingEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		ref := c.recon.Reference()
		if ref == nil {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, pingTimeout)
		_, _ = ref.Call(cctx, "ping") // failures show up as broker events
		cancel()
	}
}

// Queen is the tub the inspector shows.
func (d *Demo) Queen() *tubclient.Tub { return d.queen }

// FURL is the queen's demo service.
func (d *Demo) FURL() string { return d.furl }

// Clients names the clients, in index order.
func (d *Demo) Clients() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	names := make([]string, len(d.clients))
	for i, c := range d.clients {
		names[i] = c.name
	}
	return names
}

// Client is client i's tub (tests and the inspector's adapter use it).
func (d *Demo) Client(i int) (*tubclient.Tub, error) {
	c, err := d.client(i)
	if err != nil {
		return nil, err
	}
	return c.tub, nil
}

// ClientIndex finds the client whose tubid is peer.
func (d *Demo) ClientIndex(peer string) (int, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, c := range d.clients {
		if c.tub.TubID() == peer {
			return i, true
		}
	}
	return 0, false
}

func (d *Demo) client(i int) (*client, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, tubclient.ErrClosed
	}
	if i < 0 || i >= len(d.clients) {
		return nil, fmt.Errorf("no demo client %d (there are %d)", i+1, len(d.clients))
	}
	return d.clients[i], nil
}

// PowerCut is the ticket's story: client i's machine loses power behind a
// NAT. Its connections go silent without a FIN (the queen's side stays
// open, dead), and it comes back with the same key and a new incarnation;
// the queen should accept the new offer by the new-incarnation rule.
func (d *Demo) PowerCut(i int) error {
	c, err := d.client(i)
	if err != nil {
		return err
	}
	d.queen.Note(c.tub.TubID(), "demo: "+c.name+" lost power behind its NAT; its old connection is silently dead and it returns with a new incarnation")
	c.path.BlackHoleAll()
	return c.tub.Restart(true)
}

// Storm power-cuts every client at once.
func (d *Demo) Storm() error {
	var errs []error
	for i := range d.Clients() {
		errs = append(errs, d.PowerCut(i))
	}
	return errors.Join(errs...)
}

// Flap takes client i's network away for FlapDown: its live connections
// die silently, new ones stall until the path comes back.
func (d *Demo) Flap(i int) error {
	c, err := d.client(i)
	if err != nil {
		return err
	}
	d.queen.Note(c.tub.TubID(), fmt.Sprintf("demo: %s's network goes dark for %s", c.name, d.opts.FlapDown))
	c.path.Flap(d.opts.FlapDown)
	return nil
}

// LoseDecision is the lost-decision case: client i restarts so that its
// offers carry no memory of any decision, and the queen's next accepting
// decision to it vanishes on the wire. As soon as that happens the client
// tries again on a second connection while the first still waits for its
// decision. The queen now holds a broker the client never heard of:
// Foolscap's rules refuse the retry (never-decided) until that broker dies,
// while the attempt-id and probe policies let the client straight back.
func (d *Demo) LoseDecision(i int) error {
	c, err := d.client(i)
	if err != nil {
		return err
	}
	peer := c.tub.TubID()
	sub := d.queen.Subscribe(256)
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		sub.Close()
		return tubclient.ErrClosed
	}
	d.wg.Add(1)
	d.mu.Unlock()
	go func() {
		defer d.wg.Done()
		defer sub.Close()
		ctx, cancel := context.WithTimeout(d.ctx, lostDecisionWait)
		defer cancel()
		if d.awaitLostDecision(ctx, sub, peer) {
			_ = c.tub.ForceReconnect(d.queen.TubID()) // the outcome shows as queen events
		}
	}()
	if err := d.queen.LoseNextDecision(peer); err != nil {
		return err
	}
	d.queen.Note(peer, "demo: "+c.name+" restarts and the queen's decision to it will be lost; it returns remembering nothing")
	return c.tub.Restart(false)
}

// lostDecisionWait bounds the wait for the client's offer after its restart.
const lostDecisionWait = 20 * time.Second

// awaitLostDecision waits for the queen to report that a decision to peer
// was lost on a broker (the announcement of the fault has no broker).
func (d *Demo) awaitLostDecision(ctx context.Context, sub *tubclient.Subscription, peer string) bool {
	for {
		for _, ev := range sub.Drain(0) {
			if ev.Kind == snapshot.KindFault && ev.PeerTubID == peer && ev.BrokerID != 0 {
				return true
			}
		}
		select {
		case <-sub.Changed():
		case <-ctx.Done():
			return false
		}
	}
}

// ForceReconnect makes client i open a second connection to the queen
// beside its current one (the queen cannot dial clients: they have no
// listeners).
func (d *Demo) ForceReconnect(i int) error {
	c, err := d.client(i)
	if err != nil {
		return err
	}
	return c.tub.ForceReconnect(d.queen.TubID())
}

// Clone starts a second process with client i's key: the two fight over
// the one connection the queen keeps per tubid, until the queen sees the
// incarnations alternate, flags the clone and rate-limits it.
func (d *Demo) Clone(i int) error {
	c, err := d.client(i)
	if err != nil {
		return err
	}
	d.mu.Lock()
	_, running := d.clones[i]
	d.mu.Unlock()
	if running {
		return fmt.Errorf("%s already has a clone", c.name)
	}
	clone, err := d.startClient(c.name+" (clone)", c.tub.Identity())
	if err != nil {
		return err
	}
	d.mu.Lock()
	if _, running := d.clones[i]; running || d.closed {
		d.mu.Unlock()
		clone.close()
		return fmt.Errorf("%s already has a clone", c.name)
	}
	d.clones[i] = clone
	d.mu.Unlock()
	return nil
}

// Cloned reports whether client i has a clone running.
func (d *Demo) Cloned(i int) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.clones[i]
	return ok
}

// StopClone ends client i's clone.
func (d *Demo) StopClone(i int) error {
	d.mu.Lock()
	clone, ok := d.clones[i]
	delete(d.clones, i)
	d.mu.Unlock()
	if !ok {
		return fmt.Errorf("demo client %d has no clone", i+1)
	}
	clone.close()
	return nil
}

func (c *client) close() {
	c.stop()
	c.tub.Close()
}

// Close stops every tub and waits for all of the demo's goroutines.
func (d *Demo) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	all := append([]*client(nil), d.clients...)
	for _, c := range d.clones {
		all = append(all, c)
	}
	clear(d.clones)
	d.mu.Unlock()

	d.cancel()
	for _, c := range all {
		c.close()
	}
	d.wg.Wait()
	return d.queen.Close()
}
