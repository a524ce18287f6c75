package tubclient

import (
	"cmp"
	"slices"
	"sort"
	"time"

	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// Snapshot returns a deep copy of every table; the caller owns it.
func (t *Tub) Snapshot() snapshot.Snapshot {
	var s snapshot.Snapshot
	err := t.do(func(st *state) { s = t.snapshotLocked(st) })
	if err != nil {
		return snapshot.Snapshot{Taken: time.Now(), TubID: t.id.TubID}
	}
	s.Listening = t.Listening()
	s.FURL = t.baseFURL()
	s.EventsDropped = t.hub.dropped()
	return s
}

func (t *Tub) snapshotLocked(st *state) snapshot.Snapshot {
	s := snapshot.Snapshot{
		Taken:            time.Now(),
		TubID:            t.id.TubID,
		Incarnation:      st.incarnation,
		IncarnationCount: st.incCount,
		Policy:           st.policy.Name(),
		KeepaliveTimeout: t.cfg.KeepaliveTimeout,
		DecisionsTotal:   st.decTotal,
	}
	// Sort pointers, then copy: moving whole records through a sort of
	// thousands of brokers costs more than the copy itself.
	bs := make([]*Broker, 0, len(st.brokers))
	for _, b := range st.brokers {
		bs = append(bs, b)
	}
	slices.SortFunc(bs, func(a, b *Broker) int { return cmp.Compare(a.id, b.id) })
	s.Brokers = make([]snapshot.Broker, len(bs))
	for i, b := range bs {
		s.Brokers[i] = b.info(st)
	}
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
		st.peer(r.furl.TubID).hints = r.furl.Hints
	}
	ps := make([]*peerInfo, 0, len(st.peers))
	for _, p := range st.peers {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b *peerInfo) int { return cmp.Compare(a.tubid, b.tubid) })
	s.Peers = make([]snapshot.Peer, len(ps))
	for i, p := range ps {
		sp := snapshot.Peer{TubID: p.tubid, Nickname: p.nickname, Clone: p.clone,
			Incarnations: slices.Clone(p.incarnations), Reconnector: recon[p.tubid]}
		for _, h := range p.hints {
			sp.Hints = append(sp.Hints, h.String())
		}
		s.Peers[i] = sp
	}
	// The ring's oldest entry sits at decHead once it has wrapped.
	s.Decisions = make([]snapshot.Decision, 0, len(st.decisions))
	s.Decisions = append(s.Decisions, st.decisions[st.decHead:]...)
	s.Decisions = append(s.Decisions, st.decisions[:st.decHead]...)
	return s
}

func (b *Broker) info(st *state) snapshot.Broker {
	if b.state == snapshot.Negotiating {
		// The negotiating goroutine still writes the peer fields.
		return snapshot.Broker{ID: b.id, Side: b.side, State: b.state, LocalAddr: b.local,
			RemoteAddr: b.remote, Created: b.created, Faults: b.raw.Faults()}
	}
	info := snapshot.Broker{
		ID: b.id, PeerTubID: b.peer, Role: b.role, Side: b.side, State: b.state,
		LocalAddr: b.local, RemoteAddr: b.remote, PeerIncarnation: b.peerIncarnation,
		SlaveIncarnation: b.slaveIncarnation, SeqNum: b.seq, AttemptID: b.attempt,
		Created: b.created, PingsOutstanding: int(b.pings.Load()),
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
