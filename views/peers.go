package views

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// Column is one column of the peer table.
type Column int

const (
	ColPeer        Column = iota // short tubid and nickname
	ColState                     // glyph and word; ×2 for a clone
	ColRole                      // M or S: our role on the connection
	ColSide                      // out (we dialed) or in (they did)
	ColRemote                    // remote address, or the first hint
	ColIncarnation               // the peer's incarnation, short
	ColSeqNum                    // the master's counter for the connection
	ColAttempt                   // attempt id of the offer that created it
	ColAge                       // since the broker was created
	ColLastRx                    // since anything was last received
	ColPings                     // pings without a pong
	ColTries                     // failed attempts, and refused offers
	ColLocked                    // how long the master has refused us
	ColNext                      // countdown to the reconnector's next try
	ColDetail                    // the last error, duplicates, what is going on
	numColumns
)

// Columns lists every peer-table column in display order; the ui cycles
// its sort key through it.
var Columns = []Column{ColPeer, ColState, ColRole, ColSide, ColRemote, ColIncarnation, ColSeqNum, ColAttempt,
	ColAge, ColLastRx, ColPings, ColTries, ColLocked, ColNext, ColDetail}

// String is the column's heading.
func (c Column) String() string {
	if c < 0 || c >= numColumns {
		return "?"
	}
	return peerColumns[c].title
}

// peerColumns is the table's shape, defined once. Admission keeps peer,
// state, the explanation and the countdowns to the end; ids that only
// matter when chasing a duplicate go first. Growth gives the peer's name
// its room first and the remote address and attempt id theirs last, so
// those shrink first; DETAIL takes the slack.
var peerColumns = [numColumns]column[PeerRow]{
	ColPeer:        {title: "PEER", min: 14, max: 8 + 1 + 20, prio: 0, grow: 0, cell: peerCell},
	ColState:       {title: "STATE", min: 13, max: 16, prio: 1, grow: 1, cell: func(r *PeerRow, _ time.Time) string { return r.stateText() }},
	ColRole:        {title: "ROLE", min: 5, max: 5, prio: 6, grow: 2, cell: brokerField(func(b *snapshot.Broker) string { return roleLetter(b.Role) })},
	ColSide:        {title: "SIDE", min: 5, max: 5, prio: 10, grow: 2, expendable: true, cell: brokerField(func(b *snapshot.Broker) string { return sideWord(b.Side) })},
	ColRemote:      {title: "REMOTE", min: 14, max: 40, prio: 13, grow: 9, cell: remoteCell},
	ColIncarnation: {title: "PEER-INC", min: 9, max: 9, prio: 12, grow: 2, expendable: true, cell: brokerField(func(b *snapshot.Broker) string { return Short(b.PeerIncarnation, 8) })},
	ColSeqNum:      {title: "SEQ", min: 4, max: 6, prio: 11, grow: 2, expendable: true, right: true, cell: brokerField(seqText)},
	ColAttempt:     {title: "ATTEMPT", min: 8, max: 8, prio: 14, grow: 9, expendable: true, cell: brokerField(func(b *snapshot.Broker) string { return Short(b.AttemptID, 8) })},
	ColAge: {title: "AGE", min: 6, max: 6, prio: 7, grow: 2, right: true, expendable: true, cell: func(r *PeerRow, now time.Time) string {
		if r.Broker == nil {
			return None
		}
		return Age(now, r.Broker.Created)
	}},
	ColLastRx: {title: "LAST-RX", min: 8, max: 8, prio: 5, grow: 2, right: true, cell: func(r *PeerRow, now time.Time) string {
		if r.Broker == nil {
			return None
		}
		return Age(now, r.Broker.LastReceived)
	}},
	ColPings: {title: "PINGS", min: 6, max: 6, prio: 9, grow: 2, expendable: true, right: true, cell: brokerField(func(b *snapshot.Broker) string { return strconv.Itoa(b.PingsOutstanding) })},
	ColTries: {title: "TRIES", min: 6, max: 9, prio: 8, grow: 2, right: true, cell: triesCell},
	ColLocked: {title: "LOCKED", min: 7, max: 8, prio: 4, grow: 2, right: true, cell: func(r *PeerRow, now time.Time) string {
		if r.Sub || r.Peer == nil || r.Peer.LockedOutSince.IsZero() {
			return None
		}
		return Clock(now.Sub(r.Peer.LockedOutSince))
	}},
	ColNext: {title: "NEXT", min: 8, max: 9, prio: 3, grow: 2, right: true, cell: func(r *PeerRow, now time.Time) string {
		if t := r.nextAttempt(); !t.IsZero() {
			return Until(now, t)
		}
		return None
	}},
	ColDetail: {title: "DETAIL", min: 12, prio: 2, grow: 5, flex: true, cell: detailCell},
}

// PeerTable is the main table's state; the ui owns and updates it.
type PeerTable struct {
	SortBy Column
	Desc   bool
	Filter string // case-insensitive substring; "" shows all
	Cursor int    // index into the sorted, filtered rows
	Offset int    // first visible row
}

// PeerRow is one line of the main table: a peer with its established
// broker (or, while connecting, its newest negotiating one), or, as a
// sub-row under it, another broker of the same peer: a duplicate or an
// extra attempt. A broker whose peer is not yet known (an inbound
// negotiation before the hello) is a row of its own without a Peer.
type PeerRow struct {
	Peer   *snapshot.Peer
	Broker *snapshot.Broker // nil when the peer has no connection
	Sub    bool             // another broker of the peer in the row above
	Extras int              // on a peer's row: how many sub-rows follow it
}

// TubID is the peer the row is about; "" for an inbound negotiation whose
// peer has not said who it is yet.
func (r *PeerRow) TubID() string {
	if r.Peer != nil {
		return r.Peer.TubID
	}
	if r.Broker != nil {
		return r.Broker.PeerTubID
	}
	return ""
}

// Key names the row across snapshots: the peer's tubid for its row, the
// broker id for a sub-row or an unknown peer. The cursor is anchored to it.
func (r *PeerRow) Key() string {
	if !r.Sub && r.Peer != nil {
		return r.Peer.TubID
	}
	if r.Broker != nil {
		return r.TubID() + "#" + strconv.FormatUint(r.Broker.ID, 10)
	}
	return r.TubID()
}

// ParentKey is the key of the peer row a sub-row hangs under ("" for
// others): the cursor falls back to it when the sub-row's broker goes.
func (r *PeerRow) ParentKey() string {
	if r.Sub && r.Peer != nil {
		return r.Peer.TubID
	}
	return ""
}

// State is where the row stands: the peer's state, or for a sub-row its
// broker's.
func (r *PeerRow) State() snapshot.PeerState {
	if r.Sub || r.Peer == nil {
		if r.Broker == nil {
			return snapshot.PeerIdle
		}
		return brokerPeerState(r.Broker.State)
	}
	return PeerState(r.Peer, r.Broker)
}

func brokerPeerState(s snapshot.BrokerState) snapshot.PeerState {
	switch s {
	case snapshot.Live:
		return snapshot.PeerLive
	case snapshot.Suspect:
		return snapshot.PeerSuspect
	default:
		return snapshot.PeerConnecting
	}
}

// PeerState is p's state as the engine reported it, or, from an engine
// that does not report one, as its broker and reconnector show it.
func PeerState(p *snapshot.Peer, b *snapshot.Broker) snapshot.PeerState {
	if p.State != "" {
		return p.State
	}
	if b != nil {
		return brokerPeerState(b.State)
	}
	if r := p.Reconnector; r != nil {
		switch r.State {
		case snapshot.Waiting:
			return snapshot.PeerBackingOff
		case snapshot.Connecting:
			return snapshot.PeerConnecting
		}
	}
	return snapshot.PeerIdle
}

func (r *PeerRow) stateText() string {
	s := peerLabel(r.State())
	if !r.Sub && r.Peer != nil && r.Peer.Clone {
		s += " ×2"
	}
	return s
}

// nextAttempt is when the reconnector tries again; zero when nothing is due.
func (r *PeerRow) nextAttempt() time.Time {
	if r.Sub || r.Peer == nil {
		return time.Time{}
	}
	if !r.Peer.NextAttempt.IsZero() {
		return r.Peer.NextAttempt
	}
	if rc := r.Peer.Reconnector; rc != nil && rc.State == snapshot.Waiting {
		return rc.NextAttempt
	}
	return time.Time{}
}

func (r *PeerRow) lastError() string {
	if r.Sub || r.Peer == nil {
		return ""
	}
	if r.Peer.LastError != "" {
		return r.Peer.LastError
	}
	if rc := r.Peer.Reconnector; rc != nil {
		return rc.LastError
	}
	return ""
}

func (r *PeerRow) attempts() int {
	if r.Sub || r.Peer == nil {
		return 0
	}
	if r.Peer.Attempts > 0 {
		return r.Peer.Attempts
	}
	if rc := r.Peer.Reconnector; rc != nil && rc.State != snapshot.Connected {
		return rc.Attempts
	}
	return 0
}

func brokerField(f func(b *snapshot.Broker) string) func(r *PeerRow, _ time.Time) string {
	return func(r *PeerRow, _ time.Time) string {
		if r.Broker == nil {
			return None
		}
		return f(r.Broker)
	}
}

func seqText(b *snapshot.Broker) string {
	if b.State == snapshot.Negotiating {
		return None // not numbered until the master decides
	}
	return strconv.FormatUint(b.SeqNum, 10)
}

func peerCell(r *PeerRow, _ time.Time) string {
	if r.Sub {
		return "└ #" + strconv.FormatUint(r.Broker.ID, 10)
	}
	p := Short(r.TubID(), 8)
	nick := ""
	if r.Peer != nil {
		nick = r.Peer.Nickname
	} else if r.Broker != nil {
		nick = r.Broker.Nickname
	}
	if nick != "" {
		p += " " + clean(nick)
	}
	return p
}

func remoteCell(r *PeerRow, _ time.Time) string {
	if r.Broker != nil && r.Broker.RemoteAddr != "" {
		return r.Broker.RemoteAddr
	}
	if r.Peer != nil && len(r.Peer.Hints) > 0 {
		return r.Peer.Hints[0]
	}
	return None
}

func triesCell(r *PeerRow, _ time.Time) string {
	if r.Sub || r.Peer == nil {
		return None
	}
	a, rej := r.attempts(), r.Peer.Rejects
	if a == 0 && rej == 0 {
		return None
	}
	s := strconv.Itoa(a)
	if rej > 0 {
		s += " ✗" + strconv.Itoa(rej)
	}
	return s
}

// detailCell is what the row most needs to say: a sub-row says which
// broker it duplicates; a peer row its last error, else its duplicates or
// clone, else its connection's faults.
func detailCell(r *PeerRow, _ time.Time) string {
	if r.Sub {
		s := "another broker of this peer"
		if r.Broker.State == snapshot.Negotiating {
			s = "negotiating beside the established broker"
		}
		if r.Broker.Faults != "" {
			s += " · fault " + r.Broker.Faults
		}
		return s
	}
	var parts []string
	if e := r.lastError(); e != "" {
		parts = append(parts, ShortError(e)) // the whole error and when are in the detail
	}
	if r.Extras > 0 {
		parts = append(parts, plural(r.Extras+1, "broker")+": duplicate below")
	}
	if r.Peer != nil && r.Peer.Clone {
		parts = append(parts, "clone: two processes share its key")
	}
	if r.Broker != nil && r.Broker.Faults != "" {
		parts = append(parts, "fault "+r.Broker.Faults)
	}
	if r.Peer == nil && r.Broker != nil && r.Broker.PeerTubID == "" {
		parts = append(parts, "inbound: peer not named yet")
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, " · ")
}

// ShortError puts the cause of a Go dial error first: "dial tcp
// 10.0.0.6:9999: connect: connection refused" reads "connection refused ·
// dial 10.0.0.6:9999", so a narrow column keeps what went wrong.
func ShortError(e string) string {
	rest, ok := strings.CutPrefix(e, "dial ")
	if !ok {
		return e
	}
	addr, cause, ok := strings.Cut(rest, ": ")
	if !ok {
		return e
	}
	cause = strings.TrimPrefix(cause, "connect: ")
	if _, a, found := strings.Cut(addr, " "); found {
		addr = a // drop the network name
	}
	return cause + " · dial " + addr
}

// scratch holds PeerRows' working buffers between calls: a storm
// publishes a snapshot every tick, and allocating (and then scavenging)
// megabytes per rebuild cost as much as the sort.
type scratch struct {
	groups  []group
	keys    []sortKey
	a, b    []radixItem
	primary []bool
	table   []int32
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// grow returns buf resized to n, reusing its array when it is big enough.
func grow[T any](buf []T, n int) []T {
	if cap(buf) < n {
		return make([]T, n, n+n/4)
	}
	return buf[:n]
}

// group is one peer with its brokers, the unit the table sorts.
type group struct {
	peer    *snapshot.Peer
	primary int   // index into Brokers, -1 when none
	extras  []int // other brokers of the peer, by id
}

// PeerRows builds the main table from a snapshot: one row per peer, each
// followed by its other brokers, sorted by t.SortBy and filtered by
// t.Filter. Sort keys are absolute times, not ages, so the order only
// changes when the snapshot, the sort or the filter does, and the ui may
// keep it between frames.
func PeerRows(s *snapshot.Snapshot, t PeerTable) []PeerRow {
	sc := scratchPool.Get().(*scratch)
	defer func() {
		clear(sc.groups[:cap(sc.groups)]) // drop the snapshot's pointers
		scratchPool.Put(sc)
	}()
	groups := groupPeers(s, sc)
	filter := strings.ToLower(strings.TrimSpace(t.Filter))
	keep := groups[:0]
	for i := range groups {
		if filter == "" || groupMatches(s, &groups[i], filter) {
			keep = append(keep, groups[i])
		}
	}
	groups = keep
	// Keys are computed once per group and an index is sorted: groups are
	// too big to move through a sort of thousands.
	numeric := peerKey(t.SortBy)
	text := peerText(t.SortBy)
	sc.keys = grow(sc.keys, len(groups))
	keys := sc.keys
	var r PeerRow // one row reused: the key functions take a pointer
	for i := range groups {
		g := &groups[i]
		r = PeerRow{Peer: g.peer}
		if g.primary >= 0 {
			r.Broker = &s.Brokers[g.primary]
		}
		if numeric != nil {
			n := numeric(&r)
			keys[i] = sortKey{hi: uint64(n) ^ 1<<63, none: n == math.MaxInt64} // signed order as unsigned
		} else {
			tx := text(&r)
			keys[i] = textKey(tx)
			keys[i].none = strings.HasPrefix(tx, "\xff")
		}
	}
	order := radixOrder(keys, t.Desc, sc)
	rows := make([]PeerRow, 0, len(s.Brokers)+len(groups))
	for _, i := range order {
		g := &groups[i]
		r := PeerRow{Peer: g.peer, Extras: len(g.extras)}
		if g.primary >= 0 {
			r.Broker = &s.Brokers[g.primary]
		}
		rows = append(rows, r)
		for _, bi := range g.extras {
			rows = append(rows, PeerRow{Peer: g.peer, Broker: &s.Brokers[bi], Sub: g.peer != nil})
		}
	}
	return rows
}

// sortKey orders rows by one integer compare in the common case: a
// numeric key, or the first 16 bytes of a text key, with the whole text
// consulted only when those tie.
type sortKey struct {
	hi, lo uint64
	text   string // set only when the text is longer than 16 bytes
	none   bool   // the row has no value here: last in either direction
}

func textKey(s string) sortKey {
	var b [16]byte
	copy(b[:], s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A' // names sort without regard to case
		}
	}
	k := sortKey{hi: binary.BigEndian.Uint64(b[:8]), lo: binary.BigEndian.Uint64(b[8:])}
	if len(s) > 16 {
		k.text = s[16:]
	}
	return k
}

type radixItem struct {
	hi, lo uint64
	idx    int32
}

// radixOrder sorts indexes of keys: a stable LSD radix sort on the 128-bit
// prefix (passes where every key has the same byte are skipped), then the
// rare runs of equal prefixes by the rest of their text. Ties keep index
// order, so the engine's order (peers by tubid) breaks them. A comparison
// sort of 10,000 rows cost more than the rest of a frame.
func radixOrder(keys []sortKey, desc bool, sc *scratch) []int32 {
	type item = radixItem
	sc.a, sc.b = grow(sc.a, len(keys)), grow(sc.b, len(keys))
	a, b := sc.a, sc.b
	for i, k := range keys {
		a[i] = item{k.hi, k.lo, int32(i)}
		if desc {
			a[i].hi, a[i].lo = ^k.hi, ^k.lo
		}
	}
	// Bytes every key shares need no pass: one sweep finds them.
	andHi, andLo, orHi, orLo := ^uint64(0), ^uint64(0), uint64(0), uint64(0)
	for i := range a {
		andHi, orHi = andHi&a[i].hi, orHi|a[i].hi
		andLo, orLo = andLo&a[i].lo, orLo|a[i].lo
	}
	varyHi, varyLo := andHi^orHi, andLo^orLo
	var count [256]int
	for pass := range 16 {
		shift := uint(pass%8) * 8
		if vary := varyLo; pass >= 8 && varyHi>>shift&0xff == 0 || pass < 8 && vary>>shift&0xff == 0 {
			continue
		}
		digit := func(it *item) int {
			if pass < 8 {
				return int(it.lo >> shift & 0xff)
			}
			return int(it.hi >> shift & 0xff)
		}
		clear(count[:])
		for i := range a {
			count[digit(&a[i])]++
		}
		if len(a) == 0 || count[digit(&a[0])] == len(a) {
			continue // every key has this byte: nothing to move
		}
		sum := 0
		for d := range count {
			sum, count[d] = sum+count[d], sum
		}
		for i := range a {
			d := digit(&a[i])
			b[count[d]] = a[i]
			count[d]++
		}
		a, b = b, a
	}
	order := make([]int32, len(a))
	for i := range a {
		order[i] = a[i].idx
	}
	// Keys longer than their prefix: finish equal-prefix runs by text.
	for i := 0; i < len(a); {
		j := i + 1
		for j < len(a) && a[j].hi == a[i].hi && a[j].lo == a[i].lo {
			j++
		}
		if j-i > 1 {
			run := order[i:j]
			slices.SortStableFunc(run, func(x, y int32) int {
				c := strings.Compare(keys[x].text, keys[y].text)
				if desc {
					c = -c
				}
				return c
			})
		}
		i = j
	}
	// Rows without a value go last whichever way the column sorts.
	last := make([]int32, 0, 16)
	kept := order[:0]
	for _, i := range order {
		if keys[i].none {
			last = append(last, i)
		} else {
			kept = append(kept, i)
		}
	}
	return append(kept, last...)
}

// groupPeers pairs every broker with its peer. An engine that names the
// established broker (Peer.BrokerID) is followed; otherwise the newest
// established broker is the peer's, and negotiating ones are extras.
// Brokers whose peer is not in the table form groups of their own.
func groupPeers(s *snapshot.Snapshot, sc *scratch) []group {
	sc.groups = grow(sc.groups, len(s.Peers))
	groups := sc.groups
	for i := range s.Peers {
		groups[i] = group{peer: &s.Peers[i], primary: -1}
	}
	byID := brokerFinder(s.Brokers, sc)
	sc.primary = grow(sc.primary, len(s.Brokers))
	primary := sc.primary
	clear(primary)
	for i := range groups {
		if id := s.Peers[i].BrokerID; id != 0 {
			if bi, ok := byID(id); ok && s.Brokers[bi].PeerTubID == s.Peers[i].TubID {
				groups[i].primary = bi
				primary[bi] = true
			}
		}
	}
	findPeer := peerFinder(s.Peers)
	orphans := map[string]int{} // tubid → group index, for brokers of unknown peers
	for bi := range s.Brokers {
		if primary[bi] {
			continue
		}
		b := &s.Brokers[bi]
		pi, ok := -1, false
		if b.PeerTubID != "" {
			pi, ok = findPeer(b.PeerTubID)
		}
		if !ok {
			if gi, seen := orphans[b.PeerTubID]; seen && b.PeerTubID != "" {
				groups[gi].extras = append(groups[gi].extras, bi)
				continue
			}
			if b.PeerTubID != "" {
				orphans[b.PeerTubID] = len(groups)
			}
			groups = append(groups, group{primary: bi})
			continue
		}
		g := &groups[pi]
		switch {
		case g.primary < 0 && s.Peers[pi].BrokerID == 0:
			g.primary = bi
		case s.Peers[pi].BrokerID == 0 && better(b, &s.Brokers[g.primary]):
			g.extras = append(g.extras, g.primary)
			g.primary = bi
		default:
			g.extras = append(g.extras, bi)
		}
	}
	for i := range groups {
		if len(groups[i].extras) > 1 {
			slices.SortFunc(groups[i].extras, func(a, b int) int { return cmp.Compare(s.Brokers[a].ID, s.Brokers[b].ID) })
		}
	}
	return groups
}

// better says whether b rather than cur is a peer's broker when the engine
// does not say: established beats negotiating, then the newer wins.
func better(b, cur *snapshot.Broker) bool {
	be, ce := b.State != snapshot.Negotiating, cur.State != snapshot.Negotiating
	if be != ce {
		return be
	}
	return b.ID > cur.ID
}

// brokerFinder finds a broker by id: a binary search when the engine sent
// them in id order (tubclient does), else a map. Elements are reached by
// index: a Broker is too big to copy per comparison.
func brokerFinder(bs []snapshot.Broker, sc *scratch) func(id uint64) (int, bool) {
	sorted := true
	for i := 1; i < len(bs); i++ {
		if bs[i].ID < bs[i-1].ID {
			sorted = false
			break
		}
	}
	// Ids are handed out in sequence: unless most have closed, a table
	// over their span finds each in one step.
	if n := len(bs); sorted && n > 0 && bs[n-1].ID-bs[0].ID < uint64(4*n) {
		first := bs[0].ID
		sc.table = grow(sc.table, int(bs[n-1].ID-first)+1)
		for i := range sc.table {
			sc.table[i] = -1
		}
		for i := range bs {
			sc.table[bs[i].ID-first] = int32(i)
		}
		table := sc.table
		return func(id uint64) (int, bool) {
			if id < first || id-first >= uint64(len(table)) || table[id-first] < 0 {
				return 0, false
			}
			return int(table[id-first]), true
		}
	}
	if sorted {
		return func(id uint64) (int, bool) {
			i := sort.Search(len(bs), func(i int) bool { return bs[i].ID >= id })
			return i, i < len(bs) && bs[i].ID == id
		}
	}
	m := make(map[uint64]int, len(bs))
	for i := range bs {
		m[bs[i].ID] = i
	}
	return func(id uint64) (int, bool) { i, ok := m[id]; return i, ok }
}

// peerFinder finds a peer by tubid, the same way.
func peerFinder(ps []snapshot.Peer) func(tubid string) (int, bool) {
	sorted := true
	for i := 1; i < len(ps); i++ {
		if ps[i].TubID < ps[i-1].TubID {
			sorted = false
			break
		}
	}
	if sorted {
		return func(tubid string) (int, bool) {
			i := sort.Search(len(ps), func(i int) bool { return ps[i].TubID >= tubid })
			return i, i < len(ps) && ps[i].TubID == tubid
		}
	}
	m := make(map[string]int, len(ps))
	for i := range ps {
		m[ps[i].TubID] = i
	}
	return func(tubid string) (int, bool) { i, ok := m[tubid]; return i, ok }
}

func groupMatches(s *snapshot.Snapshot, g *group, lowerFilter string) bool {
	if p := g.peer; p != nil {
		r := PeerRow{Peer: p}
		if g.primary >= 0 {
			r.Broker = &s.Brokers[g.primary]
		}
		if containsFold(p.TubID, lowerFilter) || containsFold(p.Nickname, lowerFilter) ||
			containsFold(string(r.State()), lowerFilter) || containsFold(r.lastError(), lowerFilter) {
			return true
		}
	}
	if g.primary >= 0 && brokerMatches(&s.Brokers[g.primary], lowerFilter) {
		return true
	}
	for _, bi := range g.extras {
		if brokerMatches(&s.Brokers[bi], lowerFilter) {
			return true
		}
	}
	return false
}

func brokerMatches(b *snapshot.Broker, lowerFilter string) bool {
	return containsFold(b.PeerTubID, lowerFilter) ||
		containsFold(b.Nickname, lowerFilter) ||
		containsFold(b.RemoteAddr, lowerFilter) ||
		containsFold(string(b.State), lowerFilter) ||
		containsFold(b.PeerIncarnation, lowerFilter)
}

// containsFold reports whether s contains the lowercase sub, ignoring case,
// without allocating. Tubids, incarnations and states are lowercase already,
// so the optimised exact search settles most rows; only fields with capitals
// (nicknames, hostnames) take the folding loop.
func containsFold(s, sub string) bool {
	if strings.Contains(s, sub) {
		return true
	}
	if !isASCII(s) || !isASCII(sub) {
		return strings.Contains(strings.ToLower(s), sub)
	}
	upper := false
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			upper = true
			break
		}
	}
	if !upper {
		return false
	}
	for i := 0; i+len(sub) <= len(s); i++ {
		j := 0
		for ; j < len(sub); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != sub[j] {
				break
			}
		}
		if j == len(sub) {
			return true
		}
	}
	return false
}

// stateRank puts trouble first when sorting by state.
var stateRank = map[snapshot.PeerState]int64{
	snapshot.PeerLockedOut: 0, snapshot.PeerRefused: 1, snapshot.PeerBackingOff: 2, snapshot.PeerSuspect: 3,
	snapshot.PeerConnecting: 4, snapshot.PeerLive: 5, snapshot.PeerIdle: 6,
}

// newestFirst orders times so that ascending means the youngest age
// first; a zero time counts as the oldest.
func newestFirst(t time.Time) int64 {
	if t.IsZero() {
		return math.MaxInt64
	}
	return -t.UnixNano()
}

// soonestFirst orders deadlines; a zero time (none due) goes last.
func soonestFirst(t time.Time) int64 {
	if t.IsZero() {
		return math.MaxInt64
	}
	return t.UnixNano()
}

// peerKey is the numeric sort key of numeric columns, nil for text ones.
func peerKey(c Column) func(r *PeerRow) int64 {
	brokerTime := func(f func(b *snapshot.Broker) time.Time) func(r *PeerRow) int64 {
		return func(r *PeerRow) int64 {
			if r.Broker == nil {
				return math.MaxInt64
			}
			return newestFirst(f(r.Broker))
		}
	}
	switch c {
	case ColState:
		return func(r *PeerRow) int64 {
			if k, ok := stateRank[r.State()]; ok {
				return k
			}
			return int64(len(stateRank))
		}
	case ColSeqNum:
		return func(r *PeerRow) int64 {
			if r.Broker == nil {
				return -1
			}
			return int64(min(r.Broker.SeqNum, math.MaxInt64))
		}
	case ColAge:
		return brokerTime(func(b *snapshot.Broker) time.Time { return b.Created })
	case ColLastRx:
		return brokerTime(func(b *snapshot.Broker) time.Time { return b.LastReceived })
	case ColPings:
		return func(r *PeerRow) int64 {
			if r.Broker == nil {
				return -1
			}
			return int64(r.Broker.PingsOutstanding)
		}
	case ColTries:
		return func(r *PeerRow) int64 {
			if r.Peer == nil {
				return 0
			}
			return int64(r.attempts())<<32 | int64(r.Peer.Rejects)
		}
	case ColLocked:
		return func(r *PeerRow) int64 {
			if r.Peer == nil {
				return math.MaxInt64
			}
			return newestFirst(r.Peer.LockedOutSince)
		}
	case ColNext:
		return func(r *PeerRow) int64 { return soonestFirst(r.nextAttempt()) }
	}
	return nil
}

// peerText is the text sort key of the other columns.
func peerText(c Column) func(r *PeerRow) string {
	field := func(f func(b *snapshot.Broker) string) func(r *PeerRow) string {
		return func(r *PeerRow) string {
			if r.Broker == nil {
				return "\xff" // rows without a broker last
			}
			return f(r.Broker)
		}
	}
	switch c {
	case ColRole:
		return field(func(b *snapshot.Broker) string { return string(b.Role) })
	case ColSide:
		return field(func(b *snapshot.Broker) string { return sideWord(b.Side) })
	case ColRemote:
		return func(r *PeerRow) string { return remoteCell(r, time.Time{}) }
	case ColIncarnation:
		return field(func(b *snapshot.Broker) string { return b.PeerIncarnation })
	case ColAttempt:
		return field(func(b *snapshot.Broker) string { return b.AttemptID })
	case ColDetail:
		return func(r *PeerRow) string { return r.lastError() }
	default:
		// Peer: by nickname, the name people know; unnamed peers after.
		return func(r *PeerRow) string {
			nick := ""
			if r.Peer != nil {
				nick = r.Peer.Nickname
			} else if r.Broker != nil {
				nick = r.Broker.Nickname
			}
			switch {
			case nick == "" && r.TubID() == "":
				return "\xff\xff" // not named yet: last
			case nick == "":
				return "\xff" + r.TubID()
			}
			return nick
		}
	}
}

// TableRows is how many rows a table pane of the given height shows
// (below the heading, above the status line).
func TableRows(height int) int {
	switch {
	case height >= 3:
		return height - 2
	case height == 2:
		return 1
	default:
		return max(height, 0)
	}
}

// Clamp keeps Cursor within n rows and Offset such that the cursor is
// visible in a pane of the given height.
func (t PeerTable) Clamp(n, height int) PeerTable {
	t.Cursor, t.Offset = clampWindow(t.Cursor, t.Offset, n, TableRows(height))
	return t
}

func clampWindow(cursor, offset, n, visible int) (int, int) {
	if n <= 0 {
		return 0, 0
	}
	cursor = min(max(cursor, 0), n-1)
	if visible <= 0 {
		return cursor, cursor
	}
	if cursor < offset {
		offset = cursor
	}
	if cursor >= offset+visible {
		offset = cursor - visible + 1
	}
	offset = min(max(offset, 0), max(n-visible, 0))
	return cursor, offset
}

// PeerCounts are the table's totals for its status line.
type PeerCounts struct {
	Peers, Brokers int
}

// RenderPeers draws the main table as a width×height pane: a heading, the
// visible window of rows (already sorted and filtered by PeerRows) and a
// status line. Only the visible rows are formatted, and column widths come
// from their content, so the cost is a screenful whatever the row count.
func RenderPeers(rows []PeerRow, t PeerTable, total PeerCounts, width, height int, now time.Time, th Theme) string {
	if width <= 0 || height <= 0 {
		return ""
	}
	visible := TableRows(height)
	t = t.Clamp(len(rows), height)
	window := rows[t.Offset:min(t.Offset+visible, len(rows))]

	gap := 2
	if width < 160 {
		gap = 1 // below that every cell of gap comes out of DETAIL
	}
	cols := peerColumns[:]
	want := make([]int, len(cols))
	cells := make([][]string, len(window))
	for i := range window {
		cells[i] = make([]string, len(cols))
		for c := range cols {
			text := clean(cols[c].cell(&window[i], now))
			if text == "" {
				text = None
			}
			cells[i][c] = text
			want[c] = max(want[c], textWidth(text))
		}
	}
	for c := range cols {
		want[c] = max(want[c], textWidth(cols[c].title)+1)
	}
	// A nickname keeps 12 cells when the width allows it.
	if width >= 80 {
		cols = slices.Clone(cols)
		cols[ColPeer].min = min(max(cols[ColPeer].min, want[ColPeer]), 8+1+12)
	}
	widths := layoutColumns(cols, want, width, 2, gap)

	lines := make([]string, 0, height)
	if height >= 2 {
		lines = append(lines, th.Heading.Render(heading(cols, widths, int(t.SortBy), t.Desc, 2, gap, width)))
	}
	sep := strings.Repeat(" ", gap)
	pt := peerPaints{dim: paintOf(th.Dim), reject: paintOf(th.Reject), warn: paintOf(th.Warn), state: map[snapshot.PeerState]paint{}}
	for i := range window {
		lines = append(lines, peerLine(&window[i], cells[i], t.Offset+i == t.Cursor, cols, widths, sep, width, th, pt))
	}
	if len(rows) == 0 && visible > 0 {
		msg := "  no peers yet: nothing has connected and nothing is being dialled"
		if strings.TrimSpace(t.Filter) != "" {
			msg = fmt.Sprintf("  no peers match %q", strings.TrimSpace(t.Filter))
		}
		lines = append(lines, th.Dim.Render(padRight(msg, width)))
	}
	for len(lines) < height-1 || (height < 3 && len(lines) < height) {
		lines = append(lines, strings.Repeat(" ", width))
	}
	if height >= 3 {
		lines = append(lines, tableStatus(total, len(rows), t, width, th))
	}
	return pane(lines, width, height)
}

// peerPaints are the cell styles of one frame.
type peerPaints struct {
	dim, reject, warn paint
	state             map[snapshot.PeerState]paint
}

func peerLine(r *PeerRow, cells []string, selected bool, cols []column[PeerRow], widths []int, sep string, width int, th Theme, pt peerPaints) string {
	marker := "  "
	if selected {
		marker = "▶ "
	}
	state := r.State()
	// Rows styled as a whole: the cursor (one reverse-video bar), and the
	// states that must catch the eye.
	whole, rowStyle := true, th.Selected
	switch {
	case selected:
	case state == snapshot.PeerSuspect:
		rowStyle = th.Suspect
	case state == snapshot.PeerLockedOut:
		rowStyle = th.LockedOut
	default:
		whole = false
	}
	var line strings.Builder
	line.WriteString(marker)
	first := true
	for c := range cols {
		w := widths[c]
		if w == 0 {
			continue
		}
		if !first {
			line.WriteString(sep)
		}
		first = false
		text := cells[c]
		if Column(c) == ColPeer && !r.Sub && textWidth(text) > w && w < 8+1+3 {
			// A nickname cut to a letter or two is noise; keep the tubid.
			text = Short(r.TubID(), 8)
		}
		if cols[c].right {
			text = padLeft(text, w)
		} else {
			text = padRight(text, w)
		}
		if !whole {
			switch {
			case Column(c) == ColState:
				p, ok := pt.state[state]
				if !ok {
					p = paintOf(th.peerStyle(state))
					pt.state[state] = p
				}
				text = p.on(text)
			case Column(c) == ColDetail && !r.Sub && r.lastError() != "":
				text = pt.reject.on(text)
			case Column(c) == ColNext && cells[c] != None:
				text = pt.warn.on(text)
			case Column(c) == ColPings && r.Broker != nil && r.Broker.PingsOutstanding > 1:
				text = pt.warn.on(text)
			case r.Sub || cells[c] == None || Column(c) == ColIncarnation || Column(c) == ColAttempt:
				text = pt.dim.on(text)
			}
		}
		line.WriteString(text)
	}
	if whole {
		return rowStyle.Render(padRight(line.String(), width))
	}
	return line.String()
}

func tableStatus(total PeerCounts, shown int, t PeerTable, width int, th Theme) string {
	left := "  " + plural(total.Peers, "peer") + " · " + plural(total.Brokers, "broker")
	if f := strings.TrimSpace(t.Filter); f != "" {
		left = fmt.Sprintf("  %d of %d rows match %q", shown, total.Peers+total.Brokers, f)
	}
	dir := "↑"
	if t.Desc {
		dir = "↓"
	}
	right := "sort " + strings.ToLower(t.SortBy.String()) + " " + dir
	if shown > 0 {
		right = fmt.Sprintf("%d/%d  ", t.Cursor+1, shown) + right
	}
	if textWidth(left)+2+textWidth(right) > width {
		return th.Dim.Render(padRight(left, width))
	}
	return th.Dim.Render(padRight(left, width-textWidth(right)) + right)
}
