package tubclient

import (
	"cmp"
	"slices"
	"sort"
	"time"

	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// publishEvery caps how often a snapshot is rebuilt; refreshEvery is how
// often one is rebuilt anyway while connections are up, so their
// last-received times and counters stay current.
const (
	publishEvery = 100 * time.Millisecond
	refreshEvery = time.Second
)

// Published is the newest snapshot the state goroutine has published: an
// atomic load that never waits on the tub. The snapshot is immutable and
// shared; it is at most publishEvery old while something changes, and
// refreshEvery old otherwise. Calling it asks the tub to keep publishing.
func (t *Tub) Published() *snapshot.Snapshot {
	t.pubWanted.Store(true)
	return t.published.Load()
}

// Snapshot publishes a fresh snapshot now, on the state goroutine, and
// returns it. It is for callers that need the state as of this instant
// (tests, headless tools); watchers should use Published.
func (t *Tub) Snapshot() snapshot.Snapshot {
	var s *snapshot.Snapshot
	if t.do(func(st *state) { s = t.publishLocked(st) }) != nil {
		s = t.published.Load()
	}
	return *s
}

// maybePublish rebuilds the snapshot when someone watches and something
// changed (or the counters have aged).
func (t *Tub) maybePublish(st *state) {
	if !t.pubWanted.Load() {
		return
	}
	now := time.Now()
	if st.changed || (len(st.brokers) > 0 && now.Sub(st.lastPub) >= refreshEvery) {
		t.publishLocked(st)
	}
}

func (t *Tub) publishLocked(st *state) *snapshot.Snapshot {
	now := time.Now()
	st.version++
	st.changed = false
	st.lastPub = now
	s := &snapshot.Snapshot{
		Version:          st.version,
		Source:           snapshot.Source{Name: t.cfg.Nickname, Kind: snapshot.SourceEmbedded},
		Taken:            now,
		TubID:            t.id.TubID,
		FURL:             t.baseFURL(),
		Incarnation:      st.incarnation,
		IncarnationCount: st.incCount,
		Listening:        t.Listening(),
		Policy:           st.policy.Name(),
		KeepaliveTimeout: t.cfg.KeepaliveTimeout,
		DecisionsTotal:   st.decTotal,
		EventsDropped:    t.hub.dropped(),
		Activity:         st.activity.Snapshot(now),
	}
	if s.Source.Name == "" {
		s.Source.Name = short(t.id.TubID)
	}
	s.Brokers = make([]snapshot.Broker, 0, len(st.brokers)+len(st.pending))
	for _, id := range sortedIDs(st.pending) {
		s.Brokers = append(s.Brokers, st.pending[id].info())
	}
	for _, id := range sortedIDs(st.brokers) {
		s.Brokers = append(s.Brokers, st.brokers[id].info(st))
	}
	// Negotiating and attached connections interleave by id, as they opened.
	slices.SortStableFunc(s.Brokers, func(a, b snapshot.Broker) int { return cmp.Compare(a.ID, b.ID) })
	for _, e := range st.master {
		s.MasterTable = append(s.MasterTable, *e)
	}
	sort.Slice(s.MasterTable, func(i, j int) bool { return s.MasterTable[i].PeerTubID < s.MasterTable[j].PeerTubID })
	for _, e := range st.slave {
		s.SlaveTable = append(s.SlaveTable, *e)
	}
	sort.Slice(s.SlaveTable, func(i, j int) bool { return s.SlaveTable[i].PeerTubID < s.SlaveTable[j].PeerTubID })
	recon := make(map[string]*snapshot.Reconnector)
	for r := range st.reconns {
		ri := r.info()
		recon[r.furl.TubID] = &ri
	}
	ps := make([]*peerInfo, 0, len(st.peers))
	for _, p := range st.peers {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b *peerInfo) int { return cmp.Compare(a.tubid, b.tubid) })
	s.Peers = make([]snapshot.Peer, len(ps))
	for i, p := range ps {
		s.Peers[i] = st.peerSnapshot(p, recon[p.tubid])
	}
	// The ring's oldest entry sits at decHead once it has wrapped.
	s.Decisions = make([]snapshot.Decision, 0, len(st.decisions))
	s.Decisions = append(s.Decisions, st.decisions[st.decHead:]...)
	s.Decisions = append(s.Decisions, st.decisions[:st.decHead]...)
	t.published.Store(s)
	return s
}

func (st *state) peerSnapshot(p *peerInfo, r *snapshot.Reconnector) snapshot.Peer {
	sp := snapshot.Peer{TubID: p.tubid, Nickname: p.nickname, Clone: p.clone,
		Incarnations: p.incarnations, Reconnector: r, History: p.history,
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
	b := snapshot.Broker{ID: p.id, PeerTubID: p.peer, Side: p.side, State: snapshot.Negotiating,
		LocalAddr: p.local, RemoteAddr: p.remote, Created: p.opened, Faults: p.raw.Faults()}
	return b
}

func (b *Broker) info(st *state) snapshot.Broker {
	info := snapshot.Broker{
		ID: b.id, PeerTubID: b.peer, Role: b.role, Side: b.side, State: b.state,
		LocalAddr: b.local, RemoteAddr: b.remote, PeerIncarnation: b.peerIncarnation,
		SlaveIncarnation: b.slaveIncarnation, SeqNum: b.seq, AttemptID: b.attempt,
		Created: b.opened, PingsOutstanding: int(b.pings.Load()),
		PingsSent: b.lastPingNum.Load(), PongsReceived: b.pongsRx.Load(),
		RTT: time.Duration(b.rtt.Load()), Faults: b.raw.Faults(), TLS: b.tlsInfo,
	}
	if p := st.peers[b.peer]; p != nil {
		info.Nickname = p.nickname
	}
	if n := b.lastRx.Load(); n != 0 {
		info.LastReceived = time.Unix(0, n)
	}
	if n := b.lastTx.Load(); n != 0 {
		info.LastSent = time.Unix(0, n)
	}
	return info
}

func (h *hub) dropped() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	var n uint64
	for s := range h.subs {
		n += s.Dropped()
	}
	return n
}
