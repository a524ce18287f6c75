package ui

import (
	"strings"
	"time"

	"github.com/tubscope/tubscope/tubclient/snapshot"
	"github.com/tubscope/tubscope/views"
)

// eventsKept bounds each source's events pane.
const eventsKept = 1000

// source is everything the inspector holds about one Engine: its feed, the
// snapshot pointer it last loaded, and the table, log and events state
// with their caches. Caches are rebuilt only when the snapshot's version,
// the sort, a filter or an expansion changes, never in View.
type source struct {
	engine Engine
	feed   Feed

	demoClients []string
	demo        bool

	snap  *snapshot.Snapshot
	sum   views.Summary
	names func(tubid string) string

	table  views.PeerTable
	anchor string // the row key under the cursor; "" until the operator moves it
	rows   []views.PeerRow
	rowsOf rowsKey

	log     views.LogView
	openGen int // bumped when log.Open changes in place
	lines   []views.LogLine
	linesOf linesKey
	rules   []string // rules in the log, for the rule filter

	paused      bool
	frozen      *snapshot.Snapshot // the snapshot whose log is shown while paused
	pausedAt    time.Time
	pausedTotal uint64

	events      []snapshot.Event // important events, newest last, capped
	eventsTotal int
	eventView   views.EventView
	eventsSeen  uint64
	dropped     uint64
	feedClosed  bool

	detail views.PeerView
}

type rowsKey struct {
	snap    *snapshot.Snapshot
	version uint64
	sortBy  views.Column
	desc    bool
	filter  string
}

type linesKey struct {
	snap                *snapshot.Snapshot
	version             uint64
	rule, text, verdict string
	noGroup             bool
	openGen             int
}

// empty stands in until an engine publishes its first snapshot.
var empty = &snapshot.Snapshot{}

// load takes the engine's newest snapshot pointer; it reports whether
// anything changed. An engine that does not number its snapshots
// (Version 0) counts every new pointer as a change.
func (s *source) load() bool {
	p := s.engine.Snapshot()
	if p == nil {
		p = empty
	}
	if s.snap != nil && p.Version == s.snap.Version && (p.Version != 0 || p == s.snap) {
		return false
	}
	s.snap = p
	s.sum = views.Summarize(p)
	s.names = views.PeerNames(p)
	return true
}

// logSnap is the snapshot whose decisions the log shows: frozen while
// paused.
func (s *source) logSnap() *snapshot.Snapshot {
	if s.paused && s.frozen != nil {
		return s.frozen
	}
	return s.snap
}

// ensureRows rebuilds the table's rows when the snapshot, the sort or the
// filter changed, and puts the cursor back on its row.
func (s *source) ensureRows() {
	k := rowsKey{s.snap, s.snap.Version, s.table.SortBy, s.table.Desc, s.table.Filter}
	if k == s.rowsOf && s.rows != nil {
		return
	}
	s.rowsOf = k
	s.rows = views.PeerRows(s.snap, s.table)
	s.reanchor()
}

// reanchor finds the anchored row again: the same peer (or broker), else
// the peer a vanished sub-row hung under, else the same position.
func (s *source) reanchor() {
	if s.anchor == "" {
		return
	}
	parent, _, isSub := strings.Cut(s.anchor, "#")
	fallback := -1
	for i := range s.rows {
		k := s.rows[i].Key()
		if k == s.anchor {
			s.table.Cursor = i
			return
		}
		if fallback < 0 && isSub && parent != "" && k == parent {
			fallback = i
		}
	}
	if fallback >= 0 {
		s.table.Cursor = fallback
		s.anchor = parent
	}
}

// ensureLines refolds the log when its snapshot, a filter or an expansion
// changed.
func (s *source) ensureLines() {
	ls := s.logSnap()
	k := linesKey{ls, ls.Version, s.log.Rule, s.log.Text, s.log.Verdict, s.log.NoGroup, s.openGen}
	if k == s.linesOf && s.lines != nil {
		return
	}
	if k.snap != s.linesOf.snap || k.version != s.linesOf.version {
		s.rules = views.Rules(ls.Decisions)
	}
	s.linesOf = k
	s.lines = views.LogLines(ls.Decisions, s.log)
}

// selectedRow is the row under the table cursor.
func (s *source) selectedRow() (*views.PeerRow, bool) {
	if s.table.Cursor < 0 || s.table.Cursor >= len(s.rows) {
		return nil, false
	}
	return &s.rows[s.table.Cursor], true
}

// addEvents keeps the important events of a batch; a reader scrolled back
// keeps the same lines in view.
func (s *source) addEvents(evs []snapshot.Event) {
	for i := range evs {
		if !views.Important(&evs[i]) {
			continue
		}
		s.events = append(s.events, evs[i])
		s.eventsTotal++
		if s.eventView.Offset > 0 {
			s.eventView.Offset++
		}
	}
	if over := len(s.events) - eventsKept; over > 0 {
		s.events = append(s.events[:0:0], s.events[over:]...)
	}
}
