// Package demo is tubscope's built-in demo: a queen tub (the one the
// inspector shows) and a handful of client tubs in the same process, each
// dialing the queen through its own fault-injecting network path and
// calling ping() every second, so the duplicate-connection story of
// Foolscap ticket #28 plays out in a few seconds. A script loops through
// the ticket's cases (a power cut behind a NAT, a lost decision, a clone)
// and a narrator tells, in one sentence, what just happened and why.
//
// With several policies (tubscope demo --compare) there is one queen per
// policy and every client connects to all of them, so each fault hits
// every queen at the same moment and only the policy differs.
package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
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
	// Policies, when set, starts one queen per policy, all facing the same
	// clients (tubscope demo --compare); Policy is then ignored.
	Policies []string

	Keepalive         time.Duration // the queens' keepalive (default 3 s)
	DisconnectTimeout time.Duration // a queen drops a connection silent this long (default 10 s)

	// FlapDown is how long Flap takes a client's network away (default 4 s).
	FlapDown time.Duration
	// PingEvery is each client's call interval (default 1 s).
	PingEvery time.Duration
	// PowerDown is how long a power-cut client stays off (default 8 s):
	// long enough for the queen's keepalive to find the old connection
	// silent and mark it suspect before the client comes back.
	PowerDown time.Duration
	// Autoplay starts the script: this long after start the last client
	// loses power, and each later step follows this long after the one
	// before, round and round (default 12 s; negative: no script).
	Autoplay time.Duration

	// Network carries the demo's connections (default: loopback TCP).
	Network Network
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
	// the digits 1-9 but more can be driven from the peer table.
	MaxClients = 64
	// MaxQueens bounds --compare: each queen holds a connection per client.
	MaxQueens = 8
)

// Demo is a running demo.
type Demo struct {
	opts   Options
	net    Network
	queens []*queen

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the demo starts

	mu      sync.Mutex
	clients []*client
	clones  map[int]*client
	closed  bool
	script  scriptState
}

// queen is one server tub and the narrator of what happens to it.
type queen struct {
	tub  *tubclient.Tub
	furl string
	narr *narrator
}

// client is one in-process client tub and its network path.
type client struct {
	name string
	tub  *tubclient.Tub
	path *faultnet.Path
	stop context.CancelFunc // ends its ping loop

	mu     sync.Mutex
	recons []*tubclient.Reconnector // one per queen; nil while powered off
	off    bool
}

// Start builds the queens and the clients and sets them talking. ctx
// bounds the demo's background traffic; Close must still be called.
func Start(ctx context.Context, o Options) (*Demo, error) {
	if o.Clients == 0 {
		o.Clients = 5
	}
	if o.Clients < 0 || o.Clients > MaxClients {
		return nil, fmt.Errorf("demo clients: %d is outside 1..%d", o.Clients, MaxClients)
	}
	policies := o.Policies
	if len(policies) == 0 {
		if o.Policy == "" {
			o.Policy = negotiation.PolicyFoolscap
		}
		policies = []string{o.Policy}
	}
	if len(policies) > MaxQueens {
		return nil, fmt.Errorf("demo: %d policies to compare, at most %d", len(policies), MaxQueens)
	}
	built := make([]negotiation.Policy, len(policies))
	for i, name := range policies {
		p, err := negotiation.PolicyByName(name)
		if err != nil {
			return nil, err
		}
		built[i] = p
	}
	o.Keepalive = orDefault(o.Keepalive, 3*time.Second)
	o.DisconnectTimeout = orDefault(o.DisconnectTimeout, 10*time.Second)
	o.FlapDown = orDefault(o.FlapDown, 4*time.Second)
	o.PingEvery = orDefault(o.PingEvery, time.Second)
	o.PowerDown = orDefault(o.PowerDown, 8*time.Second)
	o.Autoplay = orDefault(o.Autoplay, 12*time.Second)
	if o.FlapDown == 0 || o.PingEvery == 0 || o.PowerDown == 0 {
		return nil, errors.New("demo: flap, ping and power-down intervals must be positive")
	}
	d := &Demo{opts: o, net: o.Network, clones: make(map[int]*client)}
	if d.net == nil {
		d.net = loopback{}
	}
	d.ctx, d.cancel = context.WithCancel(ctx)
	fail := func(err error) (*Demo, error) {
		d.Close()
		return nil, err
	}

	// A queen must be master on every connection so that it is the one
	// deciding: tubids near the top of the alphabet, clients below them.
	lowest := ""
	for i, p := range built {
		q, err := d.startQueen(i, p, len(built))
		if err != nil {
			return fail(err)
		}
		if lowest == "" || q.tub.TubID() < lowest {
			lowest = q.tub.TubID()
		}
	}
	for i := range o.Clients {
		id, err := tubclient.IdentityWhere(func(id string) bool { return id < lowest })
		if err != nil {
			return fail(err)
		}
		c, err := d.startClient(fmt.Sprintf("client-%d", i+1), id)
		if err != nil {
			return fail(err)
		}
		for _, q := range d.queens {
			q.tub.SetNickname(id.TubID, c.name)
		}
		d.mu.Lock()
		d.clients = append(d.clients, c)
		d.mu.Unlock()
	}
	who, what := "the queen", "It"
	if len(d.queens) > 1 {
		who, what = fmt.Sprintf("%d queens, one per policy", len(d.queens)), "Each queen"
	}
	d.announce(fmt.Sprintf("%d clients dialed %s and ping every second. %s is master on every connection (the higher tubid), so it decides each duplicate offer",
		o.Clients, who, what))
	if o.Autoplay > 0 {
		if !d.spawn(func() { d.play(o.Autoplay) }) {
			return fail(tubclient.ErrClosed)
		}
	} else {
		d.setScript(stepManual, "", time.Time{})
	}
	return d, nil
}

// startQueen makes queen i of n, listening and offering the demo service,
// with a narrator on its events.
func (d *Demo) startQueen(i int, p negotiation.Policy, n int) (*queen, error) {
	id, err := tubclient.IdentityWhere(func(id string) bool { return id >= "y" })
	if err != nil {
		return nil, err
	}
	ln, hint, err := d.net.Listen(i)
	if err != nil {
		return nil, err
	}
	name := "queen"
	if n > 1 {
		name = fmt.Sprintf("queen-%d", i+1)
	}
	t, err := tubclient.New(tubclient.Config{
		Identity:          id,
		Nickname:          name,
		Policy:            p,
		KeepaliveTimeout:  d.opts.Keepalive,
		DisconnectTimeout: d.opts.DisconnectTimeout,
		Location:          []tubclient.Hint{hint},
	})
	if err != nil {
		ln.Close()
		return nil, err
	}
	q := &queen{tub: t, narr: newNarrator(d.nameOf)}
	d.queens = append(d.queens, q) // Close closes it from here on
	if _, err := t.Serve(ln); err != nil {
		return nil, err
	}
	if q.furl, err = t.Register("demo", service.Builtin()); err != nil {
		return nil, err
	}
	sub := t.Subscribe(4096)
	if !d.spawn(func() { q.narr.follow(d.ctx, sub) }) {
		sub.Close()
		return nil, tubclient.ErrClosed
	}
	return q, nil
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

// spawn runs f on a goroutine Close waits for, unless the demo is closed.
func (d *Demo) spawn(f func()) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return false
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		f()
	}()
	return true
}

// after runs f once delay has passed, unless the demo closes first.
func (d *Demo) after(delay time.Duration, f func()) bool {
	return d.spawn(func() {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
			f()
		case <-d.ctx.Done():
		}
	})
}

// startClient makes a client tub with identity id, routed through a fresh
// path, connecting to every queen and pinging them.
func (d *Demo) startClient(name string, id *tubclient.Identity) (*client, error) {
	path := faultnet.NewPath(nil)
	tub, err := tubclient.New(tubclient.Config{
		Identity:           id,
		Nickname:           name,
		NegotiationTimeout: clientNegotiationTimeout,
		KeepaliveTimeout:   clientKeepalive,
		DisconnectTimeout:  clientDisconnect,
		Backoff:            tubclient.Backoff{Initial: clientBackoffInitial, Max: clientBackoffMax},
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := d.net.Dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return path.Wrap(nc), nil
		},
	})
	if err != nil {
		return nil, err
	}
	c := &client{name: name, tub: tub, path: path}
	if err := d.connect(c); err != nil {
		tub.Close()
		return nil, err
	}
	ctx, stop := context.WithCancel(d.ctx)
	c.stop = stop
	if !d.spawn(func() { d.pingLoop(ctx, c) }) {
		c.close()
		return nil, tubclient.ErrClosed
	}
	return c, nil
}

// connect starts c's reconnectors, one per queen.
func (d *Demo) connect(c *client) error {
	recons := make([]*tubclient.Reconnector, 0, len(d.queens))
	for _, q := range d.queens {
		r, err := c.tub.ConnectTo(q.furl, nil)
		if err != nil {
			for _, r := range recons {
				r.Stop()
			}
			return err
		}
		recons = append(recons, r)
	}
	c.mu.Lock()
	c.recons, c.off = recons, false
	c.mu.Unlock()
	return nil
}

// references are c's current references to the queens, none while it is
// off or between connections.
func (c *client) references() []*tubclient.RemoteReference {
	c.mu.Lock()
	defer c.mu.Unlock()
	var refs []*tubclient.RemoteReference
	for _, r := range c.recons {
		if ref := r.Reference(); ref != nil {
			refs = append(refs, ref)
		}
	}
	return refs
}

// pingLoop keeps live traffic on the client's current references, all
// queens at once so a dead one does not delay the others.
func (d *Demo) pingLoop(ctx context.Context, c *client) {
	tick := time.NewTicker(d.opts.PingEvery)
	defer tick.Stop()
	var calls sync.WaitGroup
	defer calls.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, ref := range c.references() {
			calls.Add(1)
			go func() {
				defer calls.Done()
				cctx, cancel := context.WithTimeout(ctx, pingTimeout)
				_, _ = ref.Call(cctx, "ping") // failures show up as broker events
				cancel()
			}()
		}
		calls.Wait()
	}
}

// Queen is the first queen: the tub the inspector shows.
func (d *Demo) Queen() *tubclient.Tub { return d.queens[0].tub }

// Queens are every queen, one per policy compared.
func (d *Demo) Queens() []*tubclient.Tub {
	out := make([]*tubclient.Tub, len(d.queens))
	for i, q := range d.queens {
		out[i] = q.tub
	}
	return out
}

// FURL is the first queen's demo service.
func (d *Demo) FURL() string { return d.queens[0].furl }

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

// nameOf is the client name of a tubid, or its short form.
func (d *Demo) nameOf(tubid string) string {
	if i, ok := d.ClientIndex(tubid); ok {
		return d.Clients()[i]
	}
	return tubid[:min(8, len(tubid))]
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

// announce tells every queen's narrator what the demo just did to peer.
func (d *Demo) announce(text string) {
	now := time.Now()
	for _, q := range d.queens {
		q.narr.announce(text, now)
	}
}

// note puts the demo's fault into every queen's event stream.
func (d *Demo) note(peer, text string) {
	for _, q := range d.queens {
		q.tub.Note(peer, "demo: "+text)
	}
}

// PowerCut is the ticket's story: client i's machine loses power behind a
// NAT. Its connections go silent without a FIN, so each queen still holds
// its side open, dead, and shows it live until its keepalive finds it
// silent and marks it suspect. PowerDown later the client comes back with
// the same key and a new incarnation; the foolscap policy then replaces
// the dead connection by the new-incarnation rule.
func (d *Demo) PowerCut(i int) error {
	c, err := d.client(i)
	if err != nil {
		return err
	}
	// Off first: no reconnector may dial while the machine is dark.
	c.mu.Lock()
	if c.off {
		c.mu.Unlock()
		return fmt.Errorf("%s is already powered off", c.name)
	}
	c.off = true
	recons := c.recons
	c.recons = nil
	c.mu.Unlock()
	for _, r := range recons {
		r.Stop()
	}
	c.path.BlackHoleAll()
	if err := c.tub.Restart(true); err != nil {
		return err
	}
	peer := c.tub.TubID()
	d.note(peer, fmt.Sprintf("%s lost power behind its NAT; its old connection is silently dead and it returns in %s with a new incarnation", c.name, d.opts.PowerDown))
	for _, q := range d.queens {
		q.narr.poweredOff(peer)
	}
	d.announce(fmt.Sprintf("%s lost power behind its NAT: no FIN reached the queen, so it still shows the old connection live until its keepalive (%s) finds it silent and calls it suspect",
		c.name, d.opts.Keepalive))
	if !d.after(d.opts.PowerDown, func() { d.powerOn(c) }) {
		return tubclient.ErrClosed
	}
	return nil
}

// powerOn brings a power-cut client back: it dials every queen again,
// with the new incarnation its restart gave it.
func (d *Demo) powerOn(c *client) {
	c.mu.Lock()
	off := c.off
	c.mu.Unlock()
	if !off {
		return
	}
	now := time.Now()
	for _, q := range d.queens {
		q.narr.poweredOn(c.tub.TubID(), now)
	}
	_ = d.connect(c) // fails only when the demo is closing
}

// Storm power-cuts every client at once; they all come back together.
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
	d.note(c.tub.TubID(), fmt.Sprintf("%s's network goes dark for %s", c.name, d.opts.FlapDown))
	d.announce(fmt.Sprintf("%s's network went dark for %s: its connections die silently and new ones stall until it returns", c.name, d.opts.FlapDown))
	c.path.Flap(d.opts.FlapDown)
	return nil
}

// LoseDecision is the lost-decision case: client i restarts so that its
// offers carry no memory of any decision, and each queen's next accepting
// decision to it vanishes on the wire. As soon as that happens the client
// tries again on a second connection while the first still waits for its
// decision. The queen now holds a connection the client never heard of:
// Foolscap's rules refuse the retry (never-decided) until that connection
// dies, while the attempt-id and probe policies let the client straight
// back.
func (d *Demo) LoseDecision(i int) error {
	c, err := d.client(i)
	if err != nil {
		return err
	}
	c.mu.Lock()
	off := c.off
	c.mu.Unlock()
	if off {
		return fmt.Errorf("%s is powered off", c.name)
	}
	peer := c.tub.TubID()
	for _, q := range d.queens {
		sub := q.tub.Subscribe(256)
		queenID := q.tub.TubID()
		if !d.spawn(func() {
			defer sub.Close()
			ctx, cancel := context.WithTimeout(d.ctx, lostDecisionWait)
			defer cancel()
			if awaitLostDecision(ctx, sub, peer) {
				_ = c.tub.ForceReconnect(queenID) // the outcome shows as queen events
			}
		}) {
			sub.Close()
			return tubclient.ErrClosed
		}
		if err := q.tub.LoseNextDecision(peer); err != nil {
			return err
		}
	}
	d.note(peer, c.name+" restarts and the queen's decision to it will be lost; it returns remembering nothing")
	d.announce(fmt.Sprintf("%s restarted, and the queen's decision on its next connection is lost on the wire: the queen will hold a connection %s never heard of",
		c.name, c.name))
	return c.tub.Restart(false)
}

// lostDecisionWait bounds the wait for the client's offer after its restart.
const lostDecisionWait = 20 * time.Second

// awaitLostDecision waits for a queen to report that a decision to peer
// was lost on a connection (the announcement of the fault has none).
func awaitLostDecision(ctx context.Context, sub *tubclient.Subscription, peer string) bool {
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

// ForceReconnect makes client i open a second connection to queen q beside
// its current one (a queen cannot dial clients: they have no listeners).
func (d *Demo) ForceReconnect(i, q int) error {
	c, err := d.client(i)
	if err != nil {
		return err
	}
	if q < 0 || q >= len(d.queens) {
		return fmt.Errorf("no queen %d", q+1)
	}
	return c.tub.ForceReconnect(d.queens[q].tub.TubID())
}

// Clone starts a second process with client i's key: the two fight over
// the one connection a queen keeps per tubid, until the queen sees the
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
	d.announce(fmt.Sprintf("a second process started with %s's key: two incarnations now take turns offering the same tubid", c.name))
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
	var original string
	if i >= 0 && i < len(d.clients) {
		original = d.clients[i].name
	}
	d.mu.Unlock()
	if !ok {
		return fmt.Errorf("demo client %d has no clone", i+1)
	}
	clone.close()
	d.announce(fmt.Sprintf("the second process with %s's key stopped; the queen keeps whichever connection it held last", original))
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
	var errs []error
	for _, q := range d.queens {
		errs = append(errs, q.tub.Close())
	}
	return errors.Join(errs...)
}
