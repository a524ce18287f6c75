package scenario

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/faultnet"
	"github.com/tubscope/tubscope/tubclient/internal/memnet"
	"github.com/tubscope/tubscope/tubclient/service"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// world is one scenario run: an in-memory network and the tubs on it. It
// lives inside a synctest bubble, so every duration below is fake time.
type world struct {
	t        *testing.T
	scenario string
	policy   string
	net      memnet.Network
	nodes    []*node

	mu   sync.Mutex
	wake chan struct{} // closed and replaced whenever any tub emits
}

// node is one tub with its fault path and event log.
type node struct {
	w    *world
	name string
	tub  *tubclient.Tub
	path *faultnet.Path
	furl string
	// finless makes the node's outbound connections close without a FIN
	// (a partition), for as long as it is set.
	finless atomic.Bool

	mu          sync.Mutex
	events      []snapshot.Event
	partitioned []*finlessConn // closed for real when the world ends
}

func newWorld(t *testing.T, scenario, policy string) *world {
	return &world{t: t, scenario: scenario, policy: policy, wake: make(chan struct{})}
}

func (w *world) kick() {
	w.mu.Lock()
	close(w.wake)
	w.wake = make(chan struct{})
	w.mu.Unlock()
}

func (w *world) wakeChan() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.wake
}

// addNode starts a tub named name, listening on addrs (one listener per
// group, the addresses of a group naming the same listener), dialing
// through its own fault path, with the builtin service registered.
func (w *world) addNode(name string, cfg tubclient.Config, listeners ...[]string) *node {
	w.t.Helper()
	n := &node{w: w, name: name, path: faultnet.NewPath(nil)}
	dial := w.net.Dialer(name)
	cfg.Dial = (&pathDialer{path: n.path, dial: dial, node: n}).DialContext
	cfg.Location = nil
	for _, group := range listeners {
		for _, a := range group {
			h, err := tubclient.ParseHint(a)
			if err != nil {
				w.t.Fatal(err)
			}
			cfg.Location = append(cfg.Location, h)
		}
	}
	if cfg.Nickname == "" {
		cfg.Nickname = name
	}
	tub, err := tubclient.New(cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	n.tub = tub
	sub := tub.Subscribe(4096)
	stop, stopped := make(chan struct{}), make(chan struct{})
	go n.record(sub, stop, stopped)
	w.t.Cleanup(func() {
		tub.Close()
		n.mu.Lock()
		for _, c := range n.partitioned {
			c.Conn.Close()
		}
		n.mu.Unlock()
		close(stop)
		<-stopped
		sub.Close()
	})
	for _, group := range listeners {
		if _, err := tub.Serve(w.net.Listen(group...)); err != nil {
			w.t.Fatal(err)
		}
	}
	if len(listeners) > 0 {
		if n.furl, err = tub.Register("svc", service.Builtin()); err != nil {
			w.t.Fatal(err)
		}
	}
	w.nodes = append(w.nodes, n)
	return n
}

func (n *node) record(sub *tubclient.Subscription, stop, stopped chan struct{}) {
	defer close(stopped)
	for {
		select {
		case <-sub.Changed():
			evs := sub.Drain(0)
			n.mu.Lock()
			n.events = append(n.events, evs...)
			n.mu.Unlock()
			n.w.kick()
		case <-stop:
			return
		}
	}
}

// pathDialer routes a node's outbound connections through its fault path.
// While finless is set, closing one of them sends no FIN (finlessConn).
type pathDialer struct {
	path *faultnet.Path
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
	node *node
}

func (d *pathDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := d.dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if d.node.finless.Load() {
		fc := &finlessConn{Conn: c}
		d.node.mu.Lock()
		d.node.partitioned = append(d.node.partitioned, fc)
		d.node.mu.Unlock()
		c = fc
	}
	return d.path.Wrap(c), nil
}

// Events returns the node's events so far, filtered by kind when given.
func (n *node) Events(kinds ...snapshot.Kind) []snapshot.Event {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []snapshot.Event
	for _, ev := range n.events {
		if len(kinds) == 0 || slices.Contains(kinds, ev.Kind) {
			out = append(out, ev)
		}
	}
	return out
}

// Decisions is the node's decision log for peer ("" any) in role ("" any),
// oldest first.
func (n *node) Decisions(role snapshot.Role, peer string) []snapshot.Decision {
	var out []snapshot.Decision
	for _, d := range n.tub.Snapshot().Decisions {
		if (role == "" || d.Role == role) && (peer == "" || d.PeerTubID == peer) {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out
}

// LiveBrokers are n's attached (live or suspect) brokers to peer.
func (n *node) LiveBrokers(peer string) []snapshot.Broker {
	var out []snapshot.Broker
	for _, b := range n.tub.Snapshot().Brokers {
		if b.PeerTubID == peer && (b.State == snapshot.Live || b.State == snapshot.Suspect) {
			out = append(out, b)
		}
	}
	return out
}

// waitFor waits up to bound for cond, re-checking whenever any tub emits an
// event. It reports the fake time waited and whether cond held.
func (w *world) waitFor(bound time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	timer := time.NewTimer(bound)
	defer timer.Stop()
	for {
		wake := w.wakeChan()
		if cond() {
			return time.Since(start), true
		}
		select {
		case <-wake:
		case <-timer.C:
			return time.Since(start), cond()
		}
	}
}

// must is waitFor that fails the test, naming what was awaited.
func (w *world) must(bound time.Duration, what string, cond func() bool) time.Duration {
	w.t.Helper()
	d, ok := w.waitFor(bound, cond)
	if !ok {
		w.fail("%s: not within %s", what, bound)
	}
	return d
}

// fail stops the test with the scenario, the policy and every tub's
// decision log and detach events.
func (w *world) fail(format string, args ...any) {
	w.t.Helper()
	w.t.Fatalf("%s under %s: %s\n%s", w.scenario, w.policy, fmt.Sprintf(format, args...), w.dump())
}

func (w *world) errorf(format string, args ...any) {
	w.t.Helper()
	w.t.Errorf("%s under %s: %s\n%s", w.scenario, w.policy, fmt.Sprintf(format, args...), w.dump())
}

func (w *world) dump() string {
	var sb strings.Builder
	names := make(map[string]string)
	for _, n := range w.nodes {
		if _, dup := names[n.tub.TubID()]; dup {
			names[n.tub.TubID()] += "/" + n.name
		} else {
			names[n.tub.TubID()] = n.name
		}
	}
	name := func(id string) string {
		if s, ok := names[id]; ok {
			return s
		}
		return id
	}
	for _, n := range w.nodes {
		fmt.Fprintf(&sb, "  %s (%s, policy %s) decisions:\n", n.name, n.tub.TubID()[:8], n.tub.Policy())
		for _, d := range n.Decisions("", "") {
			fmt.Fprintf(&sb, "    %s %-6s peer=%s broker=%d inc=%s last=%q accept=%v rule=%s current=%q err=%q\n",
				d.Time.Format("15:04:05.000"), d.Role, name(d.PeerTubID), d.BrokerID, d.OfferIncarnation, d.OfferLast,
				d.Accept, d.Rule, d.Current, d.Error)
		}
		for _, ev := range n.Events(snapshot.KindBrokerAttached, snapshot.KindBrokerDetached, snapshot.KindBrokerSuspect,
			snapshot.KindClone, snapshot.KindIncarnation, snapshot.KindNegotiationFailed) {
			fmt.Fprintf(&sb, "    %s event %s broker=%d peer=%s role=%s remote=%s reason=%q msg=%q err=%q\n",
				ev.Time.Format("15:04:05.000"), ev.Kind, ev.BrokerID, name(ev.PeerTubID), ev.Role, ev.Remote, ev.Reason, ev.Message, ev.Err)
		}
	}
	return sb.String()
}

// masterDecisions is n's verdicts, as master, on peer's offers.
func (n *node) masterDecisions(peer string) []snapshot.Decision {
	return n.Decisions(snapshot.Master, peer)
}

// acceptsAfter are n's accepting master verdicts on peer's offers made
// after seq.
func (n *node) acceptsAfter(peer string, seq uint64) []snapshot.Decision {
	var out []snapshot.Decision
	for _, d := range n.masterDecisions(peer) {
		if d.Seq > seq && d.Accept {
			out = append(out, d)
		}
	}
	return out
}

// lastSeq is the sequence number of n's newest decision (0 when none).
func (n *node) lastSeq() uint64 { return n.tub.Snapshot().DecisionsTotal }

// rules counts the verdict rules in ds.
func rules(ds []snapshot.Decision) map[string]int {
	m := make(map[string]int)
	for _, d := range ds {
		m[d.Rule]++
	}
	return m
}

// identities returns a master identity and n slave identities, all with
// lower tubids than the master's.
func identities(t *testing.T, n int) (*tubclient.Identity, []*tubclient.Identity) {
	t.Helper()
	// A master tubid starting late in the alphabet leaves room below it.
	m, err := tubclient.IdentityWhere(func(id string) bool { return id[0] >= 'n' })
	if err != nil {
		t.Fatal(err)
	}
	var out []*tubclient.Identity
	for range n {
		s, err := tubclient.IdentityWhere(func(id string) bool { return id < m.TubID })
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return m, out
}

// variants are policies with non-default settings that some scenarios add
// as rows of their own.
var variants = map[string]negotiation.Policy{
	"handle-old-2s": negotiation.HandleOld{Threshold: 2 * time.Second},
}

func policy(t *testing.T, name string) negotiation.Policy {
	t.Helper()
	if p, ok := variants[name]; ok {
		return p
	}
	p, err := negotiation.PolicyByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
