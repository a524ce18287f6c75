// Package reconstruct rebuilds a Foolscap tub's connection tables and
// decision log from its flog events: who offered, what the master held,
// which duplicate-connection rule decided, and which connections were
// attached, replaced and lost. It is pure: events in (in any order the
// logger's parent links can untangle), snapshots and tubscope events out,
// no I/O and no clocks. Memory is bounded for endless streams.
//
// Foolscap logs one negotiation as a tree: a root "Negotiation started"
// under the listener's or connector's line, with every other line of that
// negotiation under the root (the rule lines under "got offer for an
// existing connection"). Parallel negotiations interleave, so lines are
// grouped by that parent chain, never by arrival order.
package reconstruct

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient/flog"
	"github.com/tubscope/tubscope/tubclient/snapshot"
	"github.com/tubscope/tubscope/tubclient/snapshot/activity"
)

// RuleUnknown is the rule of a verdict whose rule line the log lacks
// (an incident file keeps only the last hundred lines of each level).
const RuleUnknown = "unknown"

// Options bound memory. Zero values take the defaults.
type Options struct {
	// TubID picks the tub to reconstruct when a process logs for several
	// (a Tahoe-LAFS node's logport lives on a tub of its own); "" follows
	// the tub with the most decisions.
	TubID string
	// MaxDecisions caps the decision log kept for the snapshot (1000).
	MaxDecisions int
	// MaxHistory caps each peer's connection history (32).
	MaxHistory int
	// MaxPeers caps the peers remembered per tub (10000); the longest
	// idle are forgotten first, and counted.
	MaxPeers int
	// MaxPending caps negotiations and connection attempts in flight
	// (4096); the oldest are closed first.
	MaxPending int
	// PendingTimeout closes a negotiation that logged nothing for this
	// long, in log time (10 minutes; Foolscap gives up after 2).
	PendingTimeout time.Duration
	// MaxUnmapped caps the unmapped events kept to show (256).
	MaxUnmapped int
	// DedupeWindow is how many recent event ids are remembered to drop a
	// second copy, as when a tail save and FLOGFILE of one process are
	// replayed together (16384).
	DedupeWindow int
	// KeepaliveTimeout is the remote tub's keepalive, used when weighing
	// a probe (Foolscap's default 240 s).
	KeepaliveTimeout time.Duration
	// NoWhatIf leaves Decision.WhatIf empty, for a caller that never
	// shows it (a headless replay printing verdicts).
	NoWhatIf bool
}

func (o *Options) defaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.MaxDecisions, 1000)
	def(&o.MaxHistory, 32)
	def(&o.MaxPeers, 10000)
	def(&o.MaxPending, 4096)
	def(&o.MaxUnmapped, 256)
	def(&o.DedupeWindow, 16384)
	if o.PendingTimeout <= 0 {
		o.PendingTimeout = 10 * time.Minute
	}
	if o.KeepaliveTimeout <= 0 {
		o.KeepaliveTimeout = 240 * time.Second
	}
}

// Stats counts what the reconstruction did with its input.
type Stats struct {
	Applied    uint64 // events given to Apply
	Duplicates uint64 // dropped as a second copy of an event already applied
	Mapped     uint64 // Foolscap lines understood (noise included)
	Unmapped   uint64 // kept visible through Unmapped
	Expired    uint64 // negotiations closed unfinished by time or by the cap
	Pending    int    // negotiations and connection attempts in flight
	Decisions  uint64 // decisions reconstructed, every tub
	Evicted    uint64 // idle peers forgotten to bound memory
}

// TubSummary is one tub seen in the log.
type TubSummary struct {
	TubID       string
	Incarnation string
	Decisions   uint64
	Peers       int
}

// Reconstructor accumulates one log's events. It is not safe for
// concurrent use.
type Reconstructor struct {
	opts Options

	tubs     map[string]*tubState
	tubOrder []string

	nodes   map[flog.ID]*nego // events that other events name as parent
	live    map[*nego]struct{}
	pending int // negotiations and contexts in live
	sinceGC int
	// finished negotiations stay findable for a moment, for the lines
	// Foolscap logs after the decision (switchToBanana, params, failure).
	finished     []*nego
	finishedHead int

	seen dedupe

	unmapped      []flog.Event
	unmappedHead  int
	unmappedTotal uint64

	stats    Stats
	version  uint64
	now      time.Time // the newest event time seen
	eventSeq uint64
	brokers  uint64
	out      []snapshot.Event
}

// New starts an empty reconstruction.
func New(opts Options) *Reconstructor {
	opts.defaults()
	return &Reconstructor{opts: opts, tubs: make(map[string]*tubState), nodes: make(map[flog.ID]*nego),
		live: make(map[*nego]struct{}), seen: dedupe{window: opts.DedupeWindow}}
}

// nodeKind says what a node in the parent tree stands for.
type nodeKind int

const (
	nodeNegotiation nodeKind = iota
	nodeListener             // "accepting connection from": the server side's context
	nodeConnector            // a TubConnector and its hints: the client side's context
)

// nego is one negotiation in flight, or the listener or connector line
// it hangs under.
type nego struct {
	kind     nodeKind
	keys     []flog.ID // the node ids that resolve to it
	started  time.Time
	last     time.Time
	rootSeen bool

	local, localInc string // the tub that logged it
	localLast       string // its hello's last-connection (a client slave)
	peer            string
	remote          string
	side            snapshot.Side
	role            snapshot.Role
	offer           *negotiation.Hello

	duplicate    bool
	existing     *negotiation.Connection // the held broker: slave IR and seqnum
	existingSeen bool
	oldPeer      bool
	handleOld    bool
	age          int64 // handle-old's broker age and threshold, -1 unknown
	threshold    int64

	rule       negotiation.Rule
	ruleAccept bool
	ruleEvent  flog.Event // the rule's line, rendered only if a sentence needs it
	ruleSeen   bool
	newerOffer int64

	accepting bool
	current   string
	slaveIR   string // params' current-slave-IR
	decided   bool
	closed    bool
}

// Apply feeds one event. The events it returns are valid until the next
// call.
func (r *Reconstructor) Apply(ev flog.Event) []snapshot.Event {
	r.out = r.out[:0]
	r.stats.Applied++
	if r.seen.duplicate(ev.Incarnation(), ev.Num()) {
		r.stats.Duplicates++
		return r.out
	}
	t := ev.Time()
	if t.After(r.now) {
		r.now = t
	}
	k := classify(ev)
	if k == kUnmapped || !r.apply(k, ev, t) {
		r.keepUnmapped(ev)
	} else {
		r.stats.Mapped++
	}
	r.retireFinished(t)
	if r.sinceGC++; r.sinceGC >= 1024 || r.pending > r.opts.MaxPending {
		r.sinceGC = 0
		r.expire()
	}
	return r.out
}

// finishedGrace is how long, in log time, a decided negotiation stays
// findable for its last lines.
const finishedGrace = 5 * time.Second

// finish marks a negotiation decided; it is forgotten after the grace.
func (r *Reconstructor) finish(n *nego) {
	if n.kind != nodeNegotiation || n.closed {
		return
	}
	r.finished = append(r.finished, n)
}

// retireFinished forgets decided negotiations past their grace.
func (r *Reconstructor) retireFinished(now time.Time) {
	cutoff := now.Add(-finishedGrace)
	for r.finishedHead < len(r.finished) {
		n := r.finished[r.finishedHead]
		if !n.closed && n.last.After(cutoff) {
			break
		}
		r.finished[r.finishedHead] = nil
		r.finishedHead++
		if !n.closed {
			r.closeNego(n)
		}
	}
	if r.finishedHead > 1024 && r.finishedHead*2 > len(r.finished) {
		r.finished = append(r.finished[:0], r.finished[r.finishedHead:]...)
		r.finishedHead = 0
	}
}

// Flush closes every negotiation still in flight, deciding those whose
// verdict the log already shows: call it at the end of a replay.
func (r *Reconstructor) Flush() []snapshot.Event {
	r.out = r.out[:0]
	all := r.liveNodes()
	slices.SortFunc(all, func(a, b *nego) int { return a.started.Compare(b.started) })
	for _, n := range all {
		r.closeNego(n)
	}
	return r.out
}

func (r *Reconstructor) liveNodes() []*nego {
	out := make([]*nego, 0, len(r.live))
	for n := range r.live {
		out = append(out, n)
	}
	return out
}

func (r *Reconstructor) keepUnmapped(ev flog.Event) {
	r.unmappedTotal++
	r.stats.Unmapped++
	ev = ev.Clone() // kept for long: do not pin the reader's block
	if len(r.unmapped) < r.opts.MaxUnmapped {
		r.unmapped = append(r.unmapped, ev)
		return
	}
	r.unmapped[r.unmappedHead] = ev
	r.unmappedHead = (r.unmappedHead + 1) % len(r.unmapped)
}

// Unmapped returns how many events the reconstruction could not place
// and the newest of them, oldest first, for the caller to show as they
// are.
func (r *Reconstructor) Unmapped() (total uint64, recent []flog.Event) {
	recent = make([]flog.Event, 0, len(r.unmapped))
	recent = append(recent, r.unmapped[r.unmappedHead:]...)
	recent = append(recent, r.unmapped[:r.unmappedHead]...)
	return r.unmappedTotal, recent
}

// Stats reports the counters.
func (r *Reconstructor) Stats() Stats {
	s := r.stats
	s.Pending = r.pending
	return s
}

// Version grows with every change to the reconstructed state.
func (r *Reconstructor) Version() uint64 { return r.version }

// Now is the newest event time seen.
func (r *Reconstructor) Now() time.Time { return r.now }

// emit records a reconstructed event for the caller.
func (r *Reconstructor) emit(ev snapshot.Event) {
	r.eventSeq++
	ev.Seq = r.eventSeq
	r.out = append(r.out, ev)
}

// apply handles one classified event; false means it could not be placed.
func (r *Reconstructor) apply(k kind, ev flog.Event, t time.Time) bool {
	r.version++
	switch k {
	case kNoise:
		if n := r.negoOf(ev, t); n != nil {
			n.last = t
		}
		return true
	case kListenerAccepting:
		n := r.node(ev.ID(), nodeListener, t)
		n.local = listenerTub(ev.Message())
		n.remote = peerAddr(ev)
		n.side = snapshot.Server
		n.rootSeen = true
		return true
	case kConnectorCreated:
		n := r.node(ev.ID(), nodeConnector, t)
		n.local, n.peer = ev.String("fromtubid"), ev.String("totubid")
		n.side = snapshot.Client
		n.rootSeen = true
		return true
	case kConsideringHint:
		if n := r.negoOf(ev, t); n != nil {
			r.register(ev.ID(), n)
		}
		return true
	case kConnectionRefused:
		n := r.negoOf(ev, t)
		if n == nil || n.peer == "" {
			return false
		}
		_, hint, _ := strings.Cut(ev.Message(), "connection refused for ")
		p := r.tub(n.local).peer(r, n.peer, t)
		p.snap.State = snapshot.PeerRefused
		p.snap.LastError, p.snap.LastErrorAt = "connection refused for "+hint, t
		p.snap.Attempts++
		return true
	case kConnectionLost:
		return r.lost(ev, t)
	case kNegotiationStarted:
		return r.started(ev, t)
	}
	n := r.negoOf(ev, t)
	if n == nil {
		return false
	}
	n.last = t
	msg := ev.Message()
	switch k {
	case kInitServer:
		n.side = snapshot.Server
	case kInitClient:
		n.side = snapshot.Client
		if target := ev.String("target"); negotiation.ValidTubID(target) {
			n.peer = target
		}
	case kPlaintextServer:
		id := strings.Trim(strings.TrimPrefix(msg, "handlePLAINTEXTServer: targetTubID="), "'\"")
		if negotiation.ValidTubID(id) {
			n.local = id
		}
	case kSendHello:
		h := helloDict(msg)
		if h == nil {
			return false
		}
		if id := h[negotiation.KeyTubID]; negotiation.ValidTubID(id) {
			n.local = id
		}
		n.localInc = h[negotiation.KeyIncarnation]
		n.localLast = h[negotiation.KeyLastConnection]
		r.tubIncarnation(n.local, n.localInc, t)
	case kEvaluateHello:
		h := helloDict(msg)
		if h == nil {
			return false
		}
		offer := helloFromDict(h)
		n.offer = &offer
		if negotiation.ValidTubID(offer.TubID) {
			n.peer = offer.TubID
		}
		if client, ok := isClientFlag(msg); ok && n.side == "" {
			n.side = map[bool]snapshot.Side{true: snapshot.Client, false: snapshot.Server}[client]
		}
	case kIAmTheMaster:
		master, _ := ev.Get("master")
		if b, ok := master.(bool); ok {
			n.role = map[bool]snapshot.Role{true: snapshot.Master, false: snapshot.Slave}[b]
		}
		if n.role == snapshot.Master {
			r.offerReceived(n, t)
		}
	case kGotOffer:
		n.duplicate = true
		n.role = snapshot.Master
		r.register(ev.ID(), n)
	case kExisting:
		n.duplicate, n.role = true, snapshot.Master
		seq, _ := ev.Int("seqnum")
		ir := ev.String("slave_IR")
		if ir == "None" {
			ir = ""
		}
		n.existing = &negotiation.Connection{MasterIncarnation: ir, SeqNum: uint64(max(seq, 0))}
		n.existingSeen = true
	case kOldPeer:
		n.duplicate, n.role, n.oldPeer = true, snapshot.Master, true
		r.register(ev.ID(), n)
	case kUsingHandleOld:
		n.handleOld = true
		r.tub(n.local).handleOld = true
	case kRule:
		rl, offer, existing, age, threshold, ok := ruleOf(ev)
		if !ok {
			return false
		}
		n.duplicate, n.role = true, snapshot.Master
		n.rule, n.ruleAccept, n.ruleSeen = rl.rule, rl.accept, true
		n.ruleEvent = ev
		if rl.rule == negotiation.RuleNewerSeqNum {
			n.newerOffer = offer
			if n.existing == nil {
				n.existing = &negotiation.Connection{SeqNum: uint64(max(existing, 0))}
			}
		}
		if rl.rule == negotiation.RuleHandleOldYoung || rl.rule == negotiation.RuleHandleOldAged {
			n.handleOld = true
			r.tub(n.local).handleOld = true
			n.age, n.threshold = age, threshold
		}
		if !rl.accept {
			// A rejecting rule is the verdict: decide now, so the decision
			// sits on the rule's line (an incident's trigger, say).
			r.decideMaster(n, false, t)
		}
	case kAcceptingOffer:
		n.accepting, n.role = true, snapshot.Master
	case kRejectingOffer:
		n.role = snapshot.Master
		r.decideMaster(n, false, t)
	case kSendDecision:
		n.role = snapshot.Master
		if d := helloDict(msg); d != nil {
			n.current = d[negotiation.KeyCurrent]
			if c, err := negotiation.ParseConnection(n.current); err == nil {
				r.tubIncarnation(n.local, c.MasterIncarnation, t)
			}
		}
		r.decideMaster(n, true, t)
	case kSwitchToBanana:
		r.register(ev.ID(), n)
	case kParams:
		if d := helloDict(msg); d != nil {
			if ir, ok := d["current-slave-IR"]; ok {
				n.slaveIR = ir
			}
		}
	case kAcceptDecision:
		d := helloDict(msg)
		if d == nil {
			return false
		}
		n.role = snapshot.Slave
		r.decideSlave(n, d, t)
	case kMasterToldUs:
		// acceptDecision already replaced the held broker: the slave always
		// takes the connection its master decided.
	case kNegotiationFailed:
		r.failed(n, ev, t)
	default:
		return false
	}
	return true
}

// helloFromDict builds the offer Foolscap logged. Missing keys stay
// missing: Foolscap's rules treat absent and empty alike.
func helloFromDict(h map[string]string) negotiation.Hello {
	o := negotiation.Hello{TubID: h[negotiation.KeyTubID], Incarnation: h[negotiation.KeyIncarnation],
		AttemptID: h[negotiation.KeyThisConnection]}
	if lc, ok := h[negotiation.KeyLastConnection]; ok {
		if c, err := negotiation.ParseConnection(lc); err == nil {
			o.LastConnection = &c
		} else {
			// Foolscap would fail on it later; keep what it said.
			o.LastConnection = &negotiation.Connection{MasterIncarnation: lc}
		}
	}
	fmt.Sscanf(h[negotiation.KeyBananaRange], "%d %d", &o.BananaMin, &o.BananaMax)
	fmt.Sscanf(h[negotiation.KeyVocabRange], "%d %d", &o.VocabMin, &o.VocabMax)
	return o
}

// node returns the node registered under id, creating one of kind k.
func (r *Reconstructor) node(id flog.ID, k nodeKind, t time.Time) *nego {
	if n := r.nodes[id]; n != nil {
		n.kind = k
		n.last = t
		return n
	}
	n := &nego{kind: k, started: t, last: t, age: -1, threshold: -1}
	r.register(id, n)
	r.live[n] = struct{}{}
	r.pending++
	return n
}

func (r *Reconstructor) register(id flog.ID, n *nego) {
	if r.nodes[id] == n {
		return
	}
	r.nodes[id] = n
	n.keys = append(n.keys, id)
}

// negoOf finds the negotiation an event belongs to through its parent.
// A parent never seen (an incident keeps only recent lines, a tail may
// start mid-negotiation) starts a negotiation of its own under that id,
// which the parent fills in if it arrives later.
func (r *Reconstructor) negoOf(ev flog.Event, t time.Time) *nego {
	pid, ok := ev.ParentID()
	if !ok {
		return nil
	}
	if n := r.nodes[pid]; n != nil {
		return n
	}
	return r.node(pid, nodeNegotiation, t)
}

// started handles a negotiation's root line.
func (r *Reconstructor) started(ev flog.Event, t time.Time) bool {
	n := r.node(ev.ID(), nodeNegotiation, t)
	n.rootSeen = true
	n.started = t
	pid, ok := ev.ParentID()
	if !ok {
		return true
	}
	ctx := r.nodes[pid]
	if ctx == nil || ctx.kind == nodeNegotiation {
		return true
	}
	// The listener or connector line says which tub, which peer, where.
	if ctx.kind == nodeListener {
		// A listener line starts exactly one negotiation.
		defer r.closeNego(ctx)
	}
	if n.local == "" {
		n.local = ctx.local
	}
	if n.peer == "" {
		n.peer = ctx.peer
	}
	if n.remote == "" {
		n.remote = ctx.remote
	}
	if n.side == "" {
		n.side = ctx.side
	}
	return true
}

// expire closes negotiations idle past PendingTimeout, and the oldest
// beyond MaxPending.
func (r *Reconstructor) expire() {
	cutoff := r.now.Add(-r.opts.PendingTimeout)
	var stale []*nego
	for n := range r.live {
		if n.last.Before(cutoff) {
			stale = append(stale, n)
		}
	}
	if over := len(r.live) - len(stale) - r.opts.MaxPending*7/8; over > 0 {
		// Make room for a while: close the least recently active.
		all := r.liveNodes()
		slices.SortFunc(all, func(a, b *nego) int { return a.last.Compare(b.last) })
		stale = all[:len(stale)+over]
	}
	for _, n := range stale {
		if n.kind == nodeNegotiation && !n.decided {
			r.stats.Expired++
		}
		r.closeNego(n)
	}
}

// closeNego forgets a node, first deciding a negotiation whose verdict
// the log shows but whose last line never came.
func (r *Reconstructor) closeNego(n *nego) {
	if n.closed {
		return
	}
	if n.kind == nodeNegotiation && !n.decided && n.ruleSeen {
		r.decideMaster(n, n.ruleAccept, n.last)
	}
	n.closed = true
	for _, id := range n.keys {
		if r.nodes[id] == n {
			delete(r.nodes, id)
		}
	}
	n.keys = nil
	delete(r.live, n)
	r.pending--
}

// tubState is one local tub's reconstructed tables.
type tubState struct {
	tubID        string
	incarnations []string
	handleOld    bool
	peers        map[string]*peerState
	byPrefix     map[string][]*peerState // by the four characters a lost connection is logged with
	decisions    []snapshot.Decision
	decHead      int
	decTotal     uint64
	activity     *activity.Recorder
	evictions    uint64
}

// peerState is what one tub knows of one peer.
type peerState struct {
	snap       snapshot.Peer
	broker     *snapshot.Broker // the established connection; nil when none
	replaced   []uint64         // replaced brokers whose loss is still to be logged
	master     *snapshot.MasterEntry
	slave      *snapshot.SlaveEntry
	lastActive time.Time
}

// tub returns the state of the tub with tubid id. An unknown id goes to
// the busiest tub so far: a line that does not say which tub logged it
// most likely came from the tub doing the negotiating.
func (r *Reconstructor) tub(id string) *tubState {
	if id == "" {
		if p := r.primary(); p != nil {
			return p
		}
	}
	ts := r.tubs[id]
	if ts == nil {
		ts = &tubState{tubID: id, peers: make(map[string]*peerState), byPrefix: make(map[string][]*peerState),
			activity: activity.New(0, 0, 0)}
		r.tubs[id] = ts
		r.tubOrder = append(r.tubOrder, id)
	}
	return ts
}

// primary is the tub Options.TubID names, or the one with the most
// decisions (the first seen on a tie).
func (r *Reconstructor) primary() *tubState {
	if r.opts.TubID != "" {
		return r.tubs[r.opts.TubID]
	}
	var best *tubState
	for _, id := range r.tubOrder {
		ts := r.tubs[id]
		if best == nil || ts.decTotal > best.decTotal || (best.tubID == "" && ts.tubID != "" && ts.decTotal >= best.decTotal) {
			best = ts
		}
	}
	return best
}

// Tubs lists the tubs seen, in the order they appeared.
func (r *Reconstructor) Tubs() []TubSummary {
	out := make([]TubSummary, 0, len(r.tubOrder))
	for _, id := range r.tubOrder {
		ts := r.tubs[id]
		s := TubSummary{TubID: id, Decisions: ts.decTotal, Peers: len(ts.peers)}
		if n := len(ts.incarnations); n > 0 {
			s.Incarnation = ts.incarnations[n-1]
		}
		out = append(out, s)
	}
	return out
}

// tubIncarnation notes a tub's incarnation.
func (r *Reconstructor) tubIncarnation(id, inc string, t time.Time) {
	if id == "" || inc == "" {
		return
	}
	ts := r.tub(id)
	if n := len(ts.incarnations); n > 0 && ts.incarnations[n-1] == inc {
		return
	}
	if slices.Contains(ts.incarnations, inc) {
		return
	}
	ts.incarnations = append(ts.incarnations, inc)
	if len(ts.incarnations) > 64 {
		ts.incarnations = ts.incarnations[len(ts.incarnations)-64:]
	}
	r.emit(snapshot.Event{Time: t, Kind: snapshot.KindIncarnation, TubID: id, Incarnation: inc,
		Message: fmt.Sprintf("tub %s runs as incarnation %s", short(id), inc)})
}

// peer returns the tub's record of a peer, making room when the cap is
// reached.
func (ts *tubState) peer(r *Reconstructor, id string, t time.Time) *peerState {
	p := ts.peers[id]
	if p == nil {
		if len(ts.peers) >= r.opts.MaxPeers {
			ts.evictIdle(r, t)
		}
		p = &peerState{snap: snapshot.Peer{TubID: id, State: snapshot.PeerIdle}}
		ts.peers[id] = p
		ts.byPrefix[lostPrefix(id)] = append(ts.byPrefix[lostPrefix(id)], p)
	}
	if t.After(p.lastActive) {
		p.lastActive = t
	}
	return p
}

// evictIdle forgets the longest-idle eighth of the peers without a
// connection, so a storm of one-off peers cannot grow memory.
func (ts *tubState) evictIdle(r *Reconstructor, t time.Time) {
	var idle []*peerState
	for _, p := range ts.peers {
		if p.broker == nil {
			idle = append(idle, p)
		}
	}
	slices.SortFunc(idle, func(a, b *peerState) int { return a.lastActive.Compare(b.lastActive) })
	n := max(len(ts.peers)/8, 1)
	for _, p := range idle[:min(n, len(idle))] {
		delete(ts.peers, p.snap.TubID)
		pre := lostPrefix(p.snap.TubID)
		if list := slices.DeleteFunc(ts.byPrefix[pre], func(q *peerState) bool { return q == p }); len(list) > 0 {
			ts.byPrefix[pre] = list
		} else {
			delete(ts.byPrefix, pre)
		}
		ts.activity.Forget(p.snap.TubID)
		ts.evictions++
		r.stats.Evicted++
		r.emit(snapshot.Event{Time: t, Kind: snapshot.KindPeerEvicted, TubID: ts.tubID, PeerTubID: p.snap.TubID,
			Reason: fmt.Sprintf("more than %d peers: the longest idle are forgotten", r.opts.MaxPeers)})
	}
}

// sawIncarnation notes an incarnation a peer offered.
func (r *Reconstructor) sawIncarnation(p *peerState, inc string, t time.Time) {
	if inc == "" {
		return
	}
	incs := p.snap.Incarnations
	for i := len(incs) - 1; i >= 0; i-- {
		if incs[i].Incarnation == inc {
			incs[i].LastSeen = t
			incs[i].Offers++
			return
		}
	}
	p.snap.Incarnations = append(incs, snapshot.IncarnationSeen{Incarnation: inc, FirstSeen: t, LastSeen: t, Offers: 1})
	if len(p.snap.Incarnations) > 16 {
		p.snap.Incarnations = slices.Delete(p.snap.Incarnations, 0, len(p.snap.Incarnations)-16)
	}
}

// offerReceived reports an offer the tub, as master, is about to weigh.
func (r *Reconstructor) offerReceived(n *nego, t time.Time) {
	if n.offer == nil {
		return
	}
	o := n.offer
	ev := snapshot.Event{Time: t, Kind: snapshot.KindOfferReceived, TubID: n.local, PeerTubID: n.peer,
		Side: n.side, Remote: n.remote, Incarnation: o.Incarnation, AttemptID: o.AttemptID,
		BananaRange: fmt.Sprintf("%d %d", o.BananaMin, o.BananaMax), VocabRange: fmt.Sprintf("%d %d", o.VocabMin, o.VocabMax)}
	if o.LastConnection != nil {
		ev.LastConnection = o.LastConnection.String()
	}
	r.emit(ev)
	if n.peer != "" {
		r.sawIncarnation(r.tub(n.local).peer(r, n.peer, t), o.Incarnation, t)
	}
}

// lostPrefix is how Foolscap names a peer in "connection to XXXX lost".
func lostPrefix(id string) string {
	if len(id) > 4 {
		return id[:4]
	}
	return id
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func boolp(b bool) *bool { return &b }

// snapshotOf copies a tub's tables.
func (r *Reconstructor) snapshotOf(ts *tubState, now time.Time) *snapshot.Snapshot {
	s := &snapshot.Snapshot{Version: r.version, Taken: now, KeepaliveTimeout: r.opts.KeepaliveTimeout}
	if ts == nil {
		s.Activity = activity.New(0, 0, 0).Snapshot(now)
		return s
	}
	s.TubID = ts.tubID
	s.IncarnationCount = len(ts.incarnations)
	if s.IncarnationCount > 0 {
		s.Incarnation = ts.incarnations[s.IncarnationCount-1]
	}
	s.Policy = negotiation.PolicyFoolscap
	if ts.handleOld {
		s.Policy = negotiation.PolicyHandleOld
	}
	for _, p := range ts.peers {
		ps := p.snap
		ps.Hints = slices.Clone(ps.Hints)
		ps.Incarnations = slices.Clone(ps.Incarnations)
		ps.History = slices.Clone(ps.History)
		s.Peers = append(s.Peers, ps)
		if p.broker != nil {
			s.Brokers = append(s.Brokers, *p.broker)
		}
		if p.master != nil {
			s.MasterTable = append(s.MasterTable, *p.master)
		}
		if p.slave != nil {
			s.SlaveTable = append(s.SlaveTable, *p.slave)
		}
	}
	slices.SortFunc(s.Peers, func(a, b snapshot.Peer) int { return cmp.Compare(a.TubID, b.TubID) })
	slices.SortFunc(s.Brokers, func(a, b snapshot.Broker) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(s.MasterTable, func(a, b snapshot.MasterEntry) int { return cmp.Compare(a.PeerTubID, b.PeerTubID) })
	slices.SortFunc(s.SlaveTable, func(a, b snapshot.SlaveEntry) int { return cmp.Compare(a.PeerTubID, b.PeerTubID) })
	s.Decisions = make([]snapshot.Decision, 0, len(ts.decisions))
	s.Decisions = append(s.Decisions, ts.decisions[ts.decHead:]...)
	s.Decisions = append(s.Decisions, ts.decisions[:ts.decHead]...)
	s.DecisionsTotal = ts.decTotal
	s.Activity = ts.activity.Snapshot(now)
	return s
}

// Snapshot is the reconstructed tub (Options.TubID, or the busiest) as of
// now, a fresh copy. Source is left for the caller to fill.
func (r *Reconstructor) Snapshot(now time.Time) *snapshot.Snapshot {
	return r.snapshotOf(r.primary(), now)
}

// SnapshotOf is the snapshot of one tub in Tubs; nil when it is unknown.
func (r *Reconstructor) SnapshotOf(tubID string, now time.Time) *snapshot.Snapshot {
	ts := r.tubs[tubID]
	if ts == nil {
		return nil
	}
	return r.snapshotOf(ts, now)
}

// dedupe recognises events seen before by their logger incarnation and
// number. Numbers grow as a logger logs, and copies of one event (a tail
// save and FLOGFILE of one process, replayed together) arrive close
// together when merged by time, so a sliding window of recent numbers
// per incarnation suffices, in constant memory.
type dedupe struct {
	window int
	last   string
	lastW  *numWindow
	byInc  map[string]*numWindow
}

type numWindow struct {
	high int64
	bits []uint64
}

const maxIncarnations = 1024

func (d *dedupe) duplicate(inc string, num int64) bool {
	w := d.lastW
	if w == nil || inc != d.last {
		if d.byInc == nil || len(d.byInc) >= maxIncarnations {
			d.byInc = make(map[string]*numWindow)
		}
		w = d.byInc[inc]
		if w == nil {
			w = &numWindow{high: num - 1, bits: make([]uint64, (d.window+63)/64)}
			d.byInc[inc] = w
		}
		d.last, d.lastW = inc, w
	}
	return w.seen(num)
}

// seen marks num and reports whether it was marked already. Numbers too
// far below the newest to be in the window count as new.
func (w *numWindow) seen(num int64) bool {
	size := int64(len(w.bits) * 64)
	if num > w.high {
		if num-w.high >= size {
			clear(w.bits)
		} else {
			for k := w.high + 1; k <= num; k++ {
				w.bits[(k%size)/64] &^= 1 << (uint64(k%size) % 64)
			}
		}
		w.high = num
	} else if w.high-num >= size || num < 0 {
		return false
	}
	i, bit := (num%size)/64, uint64(1)<<(uint64(num%size)%64)
	if w.bits[i]&bit != 0 {
		return true
	}
	w.bits[i] |= bit
	return false
}
