package storm

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/faultnet"
	"github.com/tubscope/tubscope/tubclient/internal/parallel"
)

// setupParallel is how many clients of one process connect at once.
const setupParallel = 64

// child is one client process.
type child struct {
	cfg    childConfig
	target tubclient.FURL
	base   net.Dialer
	out    *emitter
}

// RunChild is a client process of a storm (tubscope storm-child): it reads
// its configuration from in, connects its clients, writes "up" for each
// and "ready" once all are, then strikes and recovers them on each fault
// order, writing one report per event to out. It returns once in ends,
// having closed every tub; the parent closes in to end it.
func RunChild(ctx context.Context, in io.Reader, out io.Writer) error {
	lines := bufio.NewScanner(in)
	lines.Buffer(make([]byte, 64<<10), 1<<20)
	if !lines.Scan() {
		return fmt.Errorf("%s: no configuration on stdin: %v", ChildCommand, lines.Err())
	}
	var first order
	if err := json.Unmarshal(lines.Bytes(), &first); err != nil || first.Config == nil {
		return fmt.Errorf("%s: the first line is not a configuration: %q", ChildCommand, clip(lines.Text()))
	}
	c := &child{cfg: *first.Config, out: newEmitter(out)}
	if err := c.check(); err != nil {
		return fmt.Errorf("%s: %w", ChildCommand, err)
	}
	raiseOpenFiles()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The orders, and the end of the input, arrive while the clients are
	// still connecting: a parent that gives up must not wait for them.
	orders := make(chan faultOrder, MaxRounds)
	inputErr := make(chan error, 1)
	go func() {
		defer cancel()
		defer close(orders)
		for lines.Scan() {
			var o order
			if err := json.Unmarshal(lines.Bytes(), &o); err != nil || o.Fault == nil {
				inputErr <- fmt.Errorf("%s: not a fault order: %q", ChildCommand, clip(lines.Text()))
				return
			}
			select {
			case orders <- *o.Fault:
			default:
				inputErr <- fmt.Errorf("%s: more than %d fault orders", ChildCommand, MaxRounds)
				return
			}
		}
		inputErr <- lines.Err()
	}()

	clients := make([]*client, c.cfg.Count)
	defer closeClients(clients)
	deadline := time.Now().Add(c.cfg.Setup)
	err := parallel.Each(ctx, c.cfg.Count, setupParallel, func(ctx context.Context, i int) error {
		cl, err := c.setupClient(ctx, c.cfg.First+i, deadline)
		clients[i] = cl
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return endOfInput(inputErr, ctx) // the parent ended the run during setup
		}
		return fmt.Errorf("%s: %w", ChildCommand, err)
	}
	c.out.send(report{K: repReady, N: c.cfg.Count, T: time.Now().UnixNano()})

	var wg sync.WaitGroup
	for _, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl.run(ctx)
		}()
	}
	defer wg.Wait()
	defer cancel()
	for {
		select {
		case o, ok := <-orders:
			if !ok {
				return <-inputErr
			}
			for _, cl := range clients {
				cl.orders <- o // buffered for every round the parent may send
			}
		case <-ctx.Done():
			return endOfInput(inputErr, ctx)
		}
	}
}

// endOfInput is why the run ended: the input's end (nil) or its error, or
// the caller's context when the input is still open.
func endOfInput(inputErr <-chan error, ctx context.Context) error {
	select {
	case err := <-inputErr:
		return err
	default:
		return ctx.Err()
	}
}

func (c *child) check() error {
	cfg := &c.cfg
	f, err := tubclient.ParseFURL(cfg.FURL)
	if err != nil {
		return err
	}
	c.target = f
	if cfg.Count < 1 || cfg.Count > MaxClients || cfg.First < 0 {
		return fmt.Errorf("bad client range %d+%d", cfg.First, cfg.Count)
	}
	if _, err := ParseFault(string(cfg.Fault)); err != nil {
		return err
	}
	if cfg.NegotiationTimeout <= 0 || cfg.Setup <= 0 || cfg.Down <= 0 {
		return errors.New("the configuration lacks its timeouts")
	}
	cfg.Backoff = filledBackoff(cfg.Backoff)
	c.base, err = dialer(cfg)
	return err
}

// identity is a new client identity: the target's slave unless the
// storm lets clients be either.
func (c *child) identity() (*tubclient.Identity, error) {
	if !c.cfg.Slaves {
		return tubclient.NewIdentity()
	}
	return tubclient.IdentityWhere(func(id string) bool { return negotiation.IsMaster(c.target.TubID, id) })
}

// setupClient makes client g and its first connection, retrying with
// Foolscap's backoff until deadline.
func (c *child) setupClient(ctx context.Context, g int, deadline time.Time) (*client, error) {
	id, err := c.identity()
	if err != nil {
		return nil, err
	}
	m, err := c.newMember(g, false, id)
	if err != nil {
		return nil, err
	}
	cl := &client{member: m, orders: make(chan faultOrder, MaxRounds)}
	delay := c.cfg.Backoff.Initial
	for {
		_, _, err := m.attempt(ctx)
		if err == nil {
			c.out.send(report{K: repUp, C: g, T: time.Now().UnixNano(), TubID: m.tub.TubID()})
			return cl, nil
		}
		if ctx.Err() != nil {
			return cl, ctx.Err()
		}
		if time.Now().Add(delay).After(deadline) {
			return cl, fmt.Errorf("client %d could not make its first call within %s: %w", g, c.cfg.Setup, err)
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return cl, ctx.Err()
		}
		delay = nextDelay(delay, c.cfg.Backoff)
	}
}

// client is one storm client: its tub (replaced by a new-key fault), the
// tubs it retired, its clone's twin, and the rounds' fault orders.
type client struct {
	*member
	retired []*tubclient.Tub // new-key: earlier tubs, open for their black-holed sockets
	twin    *twin
	round   int
	orders  chan faultOrder
	// flapGen tells a flap's restore whether a newer flap took over.
	flapGen    atomic.Uint64
	flapTimers []*time.Timer
}

// run holds the client's connection, strikes it on each fault order and
// recovers; a connection lost on its own is recovered too (and reported,
// so the parent can count the flap).
func (cl *client) run(ctx context.Context) {
	var next *faultOrder
	for ctx.Err() == nil {
		if next == nil {
			o, lost := cl.hold(ctx, cl.orders)
			if lost {
				cl.c.out.send(report{K: repLost, C: cl.g, R: cl.round, T: time.Now().UnixNano(), TubID: cl.tub.TubID()})
				next = cl.recover(ctx, cl.round, false, cl.orders)
				continue
			}
			if next = o; next == nil {
				return
			}
		}
		o := *next
		cl.round = o.Round
		t := time.NewTimer(time.Until(o.strikeAt(cl.g)))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
		cl.strike(ctx)
		next = cl.recover(ctx, cl.round, true, cl.orders)
	}
}

// strike applies the storm's fault to the client and reports it.
func (cl *client) strike(ctx context.Context) {
	c := cl.c
	at := time.Now()
	switch c.cfg.Fault {
	case SilentRestart:
		cl.path.BlackHoleAll()
		_ = cl.tub.Restart(true)
		cl.ref = nil
	case NewKey:
		cl.path.BlackHoleAll()
		_ = cl.tub.Restart(true)
		cl.ref = nil
		id, err := c.identity()
		var m *member
		if err == nil {
			m, err = c.newMember(cl.g, false, id)
		}
		if err != nil {
			// Without a new tub the client carries on as a silent restart.
			c.out.send(report{K: repFail, C: cl.g, R: cl.round, T: at.UnixNano(), Reason: "no new identity", Err: clip(err.Error())})
			break
		}
		cl.retired = append(cl.retired, cl.tub)
		cl.member = m
	case LostDecision:
		_ = cl.tub.LoseNextDecision(c.target.TubID)
		_ = cl.tub.Restart(false)
		cl.ref = nil
	case Flap:
		gen := cl.flapGen.Add(1)
		path := cl.path
		path.SetDefault(func(fc *faultnet.Conn) { fc.BlackHole() })
		path.BlackHoleAll()
		cl.flapTimers = append(cl.flapTimers, time.AfterFunc(c.cfg.Down, func() {
			if cl.flapGen.Load() == gen {
				path.SetDefault(nil)
				path.RestoreAll()
			}
		}))
	case Clone:
		if cl.twin != nil {
			cl.twin.stop()
		}
		tw, err := cl.startTwin(ctx)
		if err != nil {
			c.out.send(report{K: repFail, C: cl.g, R: cl.round, T: at.UnixNano(), Twin: true, Reason: "no twin", Err: clip(err.Error())})
			break
		}
		cl.twin = tw
		// The client goes on once its twin has made its first attempt, so
		// every round starts with the twin's offer before the client's.
		select {
		case <-tw.first:
		case <-ctx.Done():
		}
	}
	c.out.send(report{K: repFault, C: cl.g, R: cl.round, T: at.UnixNano(), TubID: cl.tub.TubID()})
}

// close ends the client's tubs: its own, its twin's and the retired ones.
func (cl *client) close() {
	for _, t := range cl.flapTimers {
		t.Stop()
	}
	if cl.twin != nil {
		cl.twin.stop()
	}
	cl.tub.Close()
	for _, t := range cl.retired {
		t.Close()
	}
}

func closeClients(clients []*client) {
	parallel.Each(context.Background(), len(clients), setupParallel, func(_ context.Context, i int) error {
		if clients[i] != nil {
			clients[i].close()
		}
		return nil
	})
}

// twin is a clone's second tub: the client's key in another tub, which
// connects at once and then keeps its own connection alive.
type twin struct {
	m      *member
	cancel context.CancelFunc
	first  chan struct{} // closed after its first attempt
	done   chan struct{}
}

func (cl *client) startTwin(ctx context.Context) (*twin, error) {
	m, err := cl.c.newMember(cl.g, true, cl.tub.Identity())
	if err != nil {
		return nil, err
	}
	tctx, cancel := context.WithCancel(ctx)
	tw := &twin{m: m, cancel: cancel, first: make(chan struct{}), done: make(chan struct{})}
	round := cl.round
	m.firstDone = tw.first
	go func() {
		defer close(tw.done)
		m.recover(tctx, round, true, nil)
		for tctx.Err() == nil {
			if _, lost := m.hold(tctx, nil); !lost {
				return
			}
			m.c.out.send(report{K: repLost, C: m.g, R: round, T: time.Now().UnixNano(), TubID: m.tub.TubID(), Twin: true})
			m.recover(tctx, round, false, nil)
		}
	}()
	return tw, nil
}

func (tw *twin) stop() {
	tw.cancel()
	<-tw.done
	tw.m.tub.Close()
}
