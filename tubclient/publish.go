package tubclient

import (
	"cmp"
	"slices"
	"time"

	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// publishEvery caps how often a snapshot is published; refreshEvery is how
// often one is published anyway while connections are up, so their
// last-received times and counters stay current.
const (
	publishEvery = 100 * time.Millisecond
	refreshEvery = time.Second
)

// Published is the newest snapshot the tub has published: an atomic load
// that never waits on the tub. The snapshot is immutable and shared; it is
// at most publishEvery old while something changes, and refreshEvery old
// otherwise. Calling it asks the tub to keep publishing.
func (t *Tub) Published() *snapshot.Snapshot {
	if !t.pubWanted.Swap(true) {
		// The first watcher starts the publishing machinery.
		t.post(func(st *state) {
			if st.pubTicker == nil && t.spawn(t.publisher) {
				st.pubTicker = time.NewTicker(publishEvery)
				st.pubC = st.pubTicker.C
			}
		})
	}
	return t.published.Load()
}

// Snapshot publishes a fresh snapshot now and returns it. It is for callers
// that need the state as of this instant (tests, headless tools); watchers
// should use Published.
func (t *Tub) Snapshot() snapshot.Snapshot {
	var f *frame
	if t.do(func(st *state) { f = t.gatherLocked(st) }) != nil {
		return *t.published.Load()
	}
	return *t.assemble(f)
}

// frame is what the state goroutine hands the publisher: immutable rows
// (rebuilt only where something changed) and copies of what it mutates in
// place. Turning it into a Snapshot (sorting, copying rows, reading
// counters) happens off the state goroutine, so decisions never wait on a
// large snapshot.
type frame struct {
	version  uint64
	taken    time.Time
	head     snapshot.Snapshot // the scalar fields and small slices
	brokers  []*Broker
	rows     []*snapshot.Broker // one per broker, same order
	pending  []snapshot.Broker
	peers    []*snapshot.Peer
	master   []*snapshot.MasterEntry
	slave    []*snapshot.SlaveEntry
	activity snapshot.Activity
}

// maybePublish gathers a frame when someone watches and something changed
// (or the counters have aged), and hands it to the publisher goroutine.
func (t *Tub) maybePublish(st *state) {
	if !t.pubWanted.Load() {
		return
	}
	now := time.Now()
	if !st.changed && (len(st.brokers) == 0 || now.Sub(st.lastPub) < refreshEvery) {
		return
	}
	f := t.gatherLocked(st)
	select {
	case t.frames <- f:
	default:
		// The publisher is still busy with the last one: replace it.
		select {
		case <-t.frames:
		default:
		}
		t.frames <- f
	}
}

// publisher assembles frames into snapshots until the tub closes.
func (t *Tub) publisher() {
	for {
		select {
		case f := <-t.frames:
			t.assemble(f)
		case <-t.ctx.Done():
			return
		}
	}
}

// gatherLocked collects a frame on the state goroutine.
func (t *Tub) gatherLocked(st *state) *frame {
	now := time.Now()
	st.version++
	st.changed = false
	st.lastPub = now
	f := &frame{version: st.version, taken: now, activity: st.activity.Snapshot(now)}
	f.head = snapshot.Snapshot{
		Version:          st.version,
		Source:           snapshot.Source{Name: t.cfg.Nickname, Kind: snapshot.SourceEmbedded},
		Taken:            now,
		TubID:            t.id.TubID,
		Incarnation:      st.incarnation,
		IncarnationCount: st.incCount,
		Policy:           st.policy.Name(),
		KeepaliveTimeout: t.cfg.KeepaliveTimeout,
		DecisionsTotal:   st.decTotal,
	}
	if f.head.Source.Name == "" {
		f.head.Source.Name = short(t.id.TubID)
	}
	// The ring's oldest entry sits at decHead once it has wrapped.
	f.head.Decisions = make([]snapshot.Decision, 0, len(st.decisions))
	f.head.Decisions = append(f.head.Decisions, st.decisions[st.decHead:]...)
	f.head.Decisions = append(f.head.Decisions, st.decisions[:st.decHead]...)

	f.pending = make([]snapshot.Broker, 0, len(st.pending))
	for _, p := range st.pending {
		f.pending = append(f.pending, p.info())
	}
	f.brokers = make([]*Broker, 0, len(st.brokers))
	f.rows = make([]*snapshot.Broker, 0, len(st.brokers))
	for _, b := range st.brokers {
		if b.row == nil {
			b.row = b.info(st)
		}
		f.brokers = append(f.brokers, b)
		f.rows = append(f.rows, b.row)
	}
	recon := make(map[string]*snapshot.Reconnector, len(st.reconns))
	for r := range st.reconns {
		ri := r.info()
		recon[r.furl.TubID] = &ri
	}
	f.peers = make([]*snapshot.Peer, 0, len(st.peers))
	for _, p := range st.peers {
		if r := recon[p.tubid]; r != nil || p.row == nil {
			// A reconnector's state lives outside the peer, so its row is
			// rebuilt each time.
			p.row = st.peerSnapshot(p, r)
		}
		f.peers = append(f.peers, p.row)
	}
	f.master = make([]*snapshot.MasterEntry, 0, len(st.master))
	for _, e := range st.master {
		f.master = append(f.master, e)
	}
	f.slave = make([]*snapshot.SlaveEntry, 0, len(st.slave))
	for _, e := range st.slave {
		f.slave = append(f.slave, e)
	}
	return f
}

// assemble turns a frame into a snapshot and publishes it, unless a newer
// one is already out.
func (t *Tub) assemble(f *frame) *snapshot.Snapshot {
	s := f.head
	s.FURL = t.baseFURL()
	s.Listening = t.Listening()
	s.EventsDropped = t.hub.Dropped()
	s.Activity = f.activity

	s.Brokers = make([]snapshot.Broker, 0, len(f.rows)+len(f.pending))
	s.Brokers = append(s.Brokers, f.pending...)
	for i, row := range f.rows {
		s.Brokers = append(s.Brokers, *row)
		f.brokers[i].counters(&s.Brokers[len(s.Brokers)-1])
	}
	// Negotiating and attached connections interleave by id, as they opened.
	slices.SortFunc(s.Brokers, func(a, b snapshot.Broker) int { return cmp.Compare(a.ID, b.ID) })

	slices.SortFunc(f.peers, func(a, b *snapshot.Peer) int { return cmp.Compare(a.TubID, b.TubID) })
	s.Peers = make([]snapshot.Peer, len(f.peers))
	for i, p := range f.peers {
		s.Peers[i] = *p
	}
	s.MasterTable = make([]snapshot.MasterEntry, len(f.master))
	for i, e := range f.master {
		s.MasterTable[i] = *e
	}
	slices.SortFunc(s.MasterTable, func(a, b snapshot.MasterEntry) int { return cmp.Compare(a.PeerTubID, b.PeerTubID) })
	s.SlaveTable = make([]snapshot.SlaveEntry, len(f.slave))
	for i, e := range f.slave {
		s.SlaveTable[i] = *e
	}
	slices.SortFunc(s.SlaveTable, func(a, b snapshot.SlaveEntry) int { return cmp.Compare(a.PeerTubID, b.PeerTubID) })

	out := &s
	for {
		old := t.published.Load()
		if old != nil && old.Version >= out.Version {
			return old
		}
		if t.published.CompareAndSwap(old, out) {
			return out
		}
	}
}

func (st *state) peerSnapshot(p *peerInfo, r *snapshot.Reconnector) *snapshot.Peer {
	sp := &snapshot.Peer{TubID: p.tubid, Nickname: p.nickname, Clone: p.clone,
		Incarnations: p.incarnations, Reconnector: r, History: slices.Clone(p.history),
		State: st.peerState(p, r), Connected: p.connected,
		LastError: p.lastError, LastErrorAt: p.lastErrorAt, Attempts: p.attempts, Rejects: p.rejects,
		LockedOutSince: p.lockedOutSince}
	for _, h := range p.hints {
		sp.Hints = append(sp.Hints, h.String())
	}
	for _, h := range p.skipped {
		sp.Hints = append(sp.Hints, h.Hint)
	}
	if b := st.byPeer[p.tubid]; b != nil {
		sp.BrokerID = b.id
	}
	if r != nil && r.State == snapshot.Waiting {
		sp.NextAttempt = r.NextAttempt
	}
	if ev, ok := st.evicted[p.tubid]; ok {
		sp.Evictions, sp.LastEvicted = ev.count, ev.at
	}
	return sp
}

// info is a negotiating connection's row: the peer is the tubid dialled
// until the hello names it.
func (p *pending) info() snapshot.Broker {
	return snapshot.Broker{ID: p.id, PeerTubID: p.peer, Side: p.side, State: snapshot.Negotiating,
		LocalAddr: p.local, RemoteAddr: p.remote, Created: p.opened, Faults: p.raw.Faults()}
}

// info is the part of a broker's row that changes only on the state
// goroutine; counters fills in the rest.
func (b *Broker) info(st *state) *snapshot.Broker {
	info := &snapshot.Broker{
		ID: b.id, PeerTubID: b.peer, Role: b.role, Side: b.side, State: b.state,
		LocalAddr: b.local, RemoteAddr: b.remote, PeerIncarnation: b.peerIncarnation,
		SlaveIncarnation: b.slaveIncarnation, SeqNum: b.seq, AttemptID: b.attempt,
		Created: b.opened, TLS: b.tlsInfo,
	}
	if p := st.peers[b.peer]; p != nil {
		info.Nickname = p.nickname
	}
	return info
}

// counters fills in what the reader and writer update as they go; it may
// run on any goroutine.
func (b *Broker) counters(row *snapshot.Broker) {
	row.PingsOutstanding = int(b.pings.Load())
	row.PingsSent = b.lastPingNum.Load()
	row.PongsReceived = b.pongsRx.Load()
	row.RTT = time.Duration(b.rtt.Load())
	row.Faults = b.raw.Faults()
	if n := b.lastRx.Load(); n != 0 {
		row.LastReceived = time.Unix(0, n)
	}
	if n := b.lastTx.Load(); n != 0 {
		row.LastSent = time.Unix(0, n)
	}
}
