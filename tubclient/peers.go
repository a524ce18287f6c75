package tubclient

import (
	"fmt"
	"slices"
	"time"

	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// peerInfo is what the state goroutine knows about one remote tub,
// connected or not.
type peerInfo struct {
	tubid        string
	nickname     string
	hints        []Hint
	skipped      []SkippedHint // hints this tub cannot dial (Tor, I2P, ...)
	incarnations []snapshot.IncarnationSeen
	clone        bool
	lastIncIdx   int
	lastAccept   time.Time // our last accept of its offer, as master

	lastError      string
	lastErrorAt    time.Time
	refused        bool // the newest failure was a refused or unreachable address
	attempts       int  // failed attempts since the last attach
	rejects        int  // refused offers since the last attach
	lockedOutSince time.Time
	connected      time.Time
	// history is changed in place, oldest first and capped; a published
	// row gets a copy, made only when the row is rebuilt.
	history   []snapshot.ConnectionRecord
	lastTouch time.Time // for eviction: the newest anything about this peer
	// row is the published form; nil when something changed. Every change
	// goes through state.peer, which clears it.
	row *snapshot.Peer
}

// eviction remembers a forgotten peer, so its return says so.
type eviction struct {
	count int
	at    time.Time
}

const (
	maxHistory      = 32
	maxIncarnations = 64
)

// peer is the peer record to change: it is created if new, and its
// published row is rebuilt at the next publish.
func (st *state) peer(tubid string) *peerInfo {
	p := st.peers[tubid]
	if p == nil {
		p = &peerInfo{tubid: tubid, lastIncIdx: -1, lastTouch: time.Now()}
		st.peers[tubid] = p
	}
	p.row = nil
	st.changed = true
	return p
}

// sawIncarnation records an offer's incarnation. Going back to an
// incarnation seen before another one means two processes share the key.
func (t *Tub) sawIncarnation(st *state, tubid, inc string, now time.Time) {
	p := st.peer(tubid)
	p.lastTouch = now
	if inc == "" {
		return
	}
	for i := range p.incarnations {
		rec := p.incarnations[i]
		if rec.Incarnation != inc {
			continue
		}
		rec.LastSeen = now
		rec.Offers++
		p.incarnations = withRecord(p.incarnations, i, rec)
		if p.lastIncIdx != i && p.lastIncIdx >= 0 && !p.clone {
			p.clone = true
			t.emitLocked(st, snapshot.Event{Kind: snapshot.KindClone, PeerTubID: tubid, Incarnation: inc,
				Message: fmt.Sprintf("incarnation %s came back after %s: two processes share this tubid",
					inc, p.incarnations[p.lastIncIdx].Incarnation)})
		}
		p.lastIncIdx = i
		return
	}
	p.incarnations = appendCapped(p.incarnations, snapshot.IncarnationSeen{Incarnation: inc, FirstSeen: now, LastSeen: now, Offers: 1}, maxIncarnations)
	p.lastIncIdx = len(p.incarnations) - 1
}

// appendCapped appends to a slice that published snapshots may share:
// always into a new array, dropping the oldest past limit.
func appendCapped[T any](s []T, v T, limit int) []T {
	if len(s) >= limit {
		s = s[len(s)-limit+1:]
	}
	out := make([]T, len(s), len(s)+1)
	copy(out, s)
	return append(out, v)
}

// withRecord replaces s[i] in a fresh copy of s.
func withRecord[T any](s []T, i int, v T) []T {
	out := append([]T(nil), s...)
	out[i] = v
	return out
}

// peerAttached records a new established broker.
func (t *Tub) peerAttached(st *state, b *Broker, rule string) {
	p := st.peer(b.peer)
	p.lastTouch = b.attached
	p.connected = b.attached
	p.attempts, p.rejects = 0, 0
	p.lockedOutSince = time.Time{}
	p.refused = false
	st.activity.Attached(b.attached, b.peer)
	p.addHistory(snapshot.ConnectionRecord{BrokerID: b.id, Side: b.side, Role: b.role,
		Remote: b.remote, Opened: b.opened, Attached: b.attached, SeqNum: b.seq,
		PeerIncarnation: b.peerIncarnation, Rule: rule})
}

// peerEnded records the end of an established broker in its peer's history.
func (t *Tub) peerEnded(st *state, b *Broker, e ending, now time.Time) {
	p := st.peer(b.peer)
	p.lastTouch = now
	if st.byPeer[b.peer] == nil {
		p.connected = time.Time{}
	}
	if e.reason != snapshot.CloseReplaced {
		st.activity.Lost(now, b.peer)
		p.lastError, p.lastErrorAt = e.detail, now
	}
	for i := len(p.history) - 1; i >= 0; i-- {
		if rec := &p.history[i]; rec.BrokerID == b.id {
			rec.Closed, rec.End, rec.Detail, rec.ReplacedBy = now, e.reason, e.detail, e.replacedBy
			return
		}
	}
}

// peerRecord adds a connection that never became a broker (a failed or
// refused negotiation) to its peer's history.
func (t *Tub) peerRecord(st *state, tubid string, rec snapshot.ConnectionRecord) {
	p := st.peer(tubid)
	p.lastTouch = rec.Closed
	p.addHistory(rec)
}

// addHistory appends a connection, dropping the oldest past maxHistory.
func (p *peerInfo) addHistory(rec snapshot.ConnectionRecord) {
	if len(p.history) >= maxHistory {
		copy(p.history, p.history[1:])
		p.history = p.history[:len(p.history)-1]
	}
	p.history = append(p.history, rec)
}

// peerRejected counts an offer refused between us and the peer, in either
// role: a run of them with no attach in between is a lockout.
func (t *Tub) peerRejected(st *state, tubid string, at time.Time, why string) {
	p := st.peer(tubid)
	p.lastTouch = at
	p.rejects++
	if p.lockedOutSince.IsZero() {
		p.lockedOutSince = at
	}
	p.lastError, p.lastErrorAt = why, at
}

// peerAttemptFailed records a failed outbound attempt.
func (t *Tub) peerAttemptFailed(st *state, tubid string, at time.Time, err error, refused bool) {
	p := st.peer(tubid)
	p.lastTouch = at
	p.attempts++
	p.refused = refused
	p.lastError, p.lastErrorAt = err.Error(), at
}

// peerState is where this tub stands with p, for the main table.
func (st *state) peerState(p *peerInfo, r *snapshot.Reconnector) snapshot.PeerState {
	if !p.lockedOutSince.IsZero() {
		return snapshot.PeerLockedOut
	}
	if b := st.byPeer[p.tubid]; b != nil {
		if b.state == snapshot.Suspect {
			return snapshot.PeerSuspect
		}
		return snapshot.PeerLive
	}
	if st.dials[p.tubid] != nil || (r != nil && r.State == snapshot.Connecting) {
		return snapshot.PeerConnecting
	}
	if p.refused {
		return snapshot.PeerRefused
	}
	if r != nil && r.State == snapshot.Waiting {
		return snapshot.PeerBackingOff
	}
	return snapshot.PeerIdle
}

// Per-peer state of peers with no connection is forgotten after
// peerIdleTTL, or oldest first beyond maxIdlePeers, so rotating tubids
// cannot grow the tub without bound.
const (
	peerIdleTTL  = 10 * time.Minute
	maxIdlePeers = 10000
	maxEvicted   = 4096
	sweepEvery   = 30 * time.Second
)

// idle reports whether nothing ties the tub to p: no broker, no attempt,
// no reconnector, no negotiation.
func (st *state) idle(p *peerInfo, dialled map[string]bool) bool {
	return st.byPeer[p.tubid] == nil && st.dials[p.tubid] == nil && !dialled[p.tubid]
}

// evictIdlePeers forgets idle peers past their time, and the oldest idle
// ones beyond the cap. Each eviction is an event, and a peer that comes
// back carries a note of it.
func (t *Tub) evictIdlePeers(st *state, now time.Time) {
	dialled := make(map[string]bool)
	for r := range st.reconns {
		dialled[r.furl.TubID] = true
	}
	for _, p := range st.pending {
		if p.peer != "" {
			dialled[p.peer] = true
		}
	}
	var idle []*peerInfo
	for _, p := range st.peers {
		if st.idle(p, dialled) {
			idle = append(idle, p)
		}
	}
	over := len(idle) - maxIdlePeers
	if over > 0 {
		slices.SortFunc(idle, func(a, b *peerInfo) int { return a.lastTouch.Compare(b.lastTouch) })
	}
	for i, p := range idle {
		if now.Sub(p.lastTouch) < peerIdleTTL && i >= over {
			continue
		}
		t.evictLocked(st, p, now)
	}
}

func (t *Tub) evictLocked(st *state, p *peerInfo, now time.Time) {
	delete(st.peers, p.tubid)
	delete(st.master, p.tubid)
	delete(st.slave, p.tubid)
	st.activity.Forget(p.tubid)
	ev := st.evicted[p.tubid]
	ev.count++
	ev.at = now
	if len(st.evicted) >= maxEvicted {
		clear(st.evicted) // a bounded note, not a ledger
	}
	st.evicted[p.tubid] = ev
	t.emitLocked(st, snapshot.Event{Kind: snapshot.KindPeerEvicted, PeerTubID: p.tubid,
		Message: fmt.Sprintf("forgot idle peer %s (no connection for %s)", short(p.tubid), now.Sub(p.lastTouch).Round(time.Second))})
}
