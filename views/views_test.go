package views

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// sizes are the terminals every pane is golden-tested at.
var sizes = []struct{ w, h int }{{80, 24}, {120, 40}, {200, 60}}

func sizeName(w, h int) string { return fmt.Sprintf("%dx%d", w, h) }

func TestHeaderGolden(t *testing.T) {
	s := fixture()
	sum := Summarize(s)
	th := DefaultTheme()
	live := HeaderState{Live: true}
	for _, w := range []int{60, 80, 120, 200} {
		golden(t, fmt.Sprintf("header_live_%d", w), Header(s, sum, live, w, now0, th))
	}
	paused := HeaderState{Live: true, Paused: true, PausedAt: before(12 * time.Second), NewWhilePaused: 12}
	golden(t, "header_paused_80", Header(s, sum, paused, 80, now0, th))
	golden(t, "header_paused_200", Header(s, sum, paused, 200, now0, th))
	golden(t, "header_stale_80", Header(s, sum, HeaderState{}, 80, now0, th))
	r := fixture()
	r.Source = snapshot.Source{Name: "incident-1", Kind: snapshot.SourceReplay, ReadOnly: "a replay", Replay: &snapshot.ReplayCursor{
		Start: before(time.Minute), End: now0, At: before(15 * time.Second), Playing: true, Speed: 4,
		Trigger: before(10 * time.Second), Applied: 1200, Read: 1600, Done: true}}
	golden(t, "header_replay_120", Header(r, Summarize(r), HeaderState{Live: true, Sources: 2}, 120, now0, th))
}

func TestHeaderKeepsPolicyAndCountsRight(t *testing.T) {
	s := fixture()
	h := Header(s, Summarize(s), HeaderState{Live: true}, 80, now0, DefaultTheme())
	for _, want := range []string{"policy foolscap", "8 peers", "1 locked out", "● LIVE"} {
		if !strings.Contains(h, want) {
			t.Errorf("80-wide header lacks %q: %q", want, h)
		}
	}
	if strings.Contains(h, "policy policy") {
		t.Errorf("header repeats the word policy: %q", h)
	}
	one := &snapshot.Snapshot{Policy: "foolscap", Peers: []snapshot.Peer{{TubID: alice}}, Brokers: []snapshot.Broker{{ID: 1}}}
	h = Header(one, Summarize(one), HeaderState{Live: true}, 120, now0, DefaultTheme())
	if !strings.Contains(h, "1 peer ") || !strings.Contains(h, "1 broker ") {
		t.Errorf("singular counts: %q", h)
	}
	// While paused the frozen age counts from the pause, not the snapshot.
	h = Header(s, Summarize(s), HeaderState{Live: true, Paused: true, PausedAt: before(9 * time.Second)}, 200, now0, DefaultTheme())
	if !strings.Contains(h, "frozen 9s ago") {
		t.Errorf("paused header: %q", h)
	}
}

func TestPeerTableGolden(t *testing.T) {
	s := fixture()
	th := DefaultTheme()
	counts := PeerCounts{Peers: len(s.Peers), Brokers: len(s.Brokers)}
	cases := []struct {
		name string
		t    PeerTable
	}{
		{"bypeer", PeerTable{}},
		{"bystate", PeerTable{SortBy: ColState, Cursor: 1}},
		{"bylocked_desc", PeerTable{SortBy: ColLocked, Desc: true}},
		{"filter_carol", PeerTable{Filter: "CAROL"}},
		{"filter_none", PeerTable{Filter: "nobody-here"}},
	}
	for _, c := range cases {
		for _, sz := range sizes {
			name := "peers_" + c.name + "_" + sizeName(sz.w, sz.h)
			got := RenderPeers(PeerRows(s, c.t), c.t, counts, sz.w, sz.h/2, now0, th)
			assertPane(t, name, got, sz.w, sz.h/2)
			golden(t, name, got)
		}
	}
}

func TestPeerRowsShowEveryPeerAndItsDuplicates(t *testing.T) {
	s := fixture()
	rows := PeerRows(s, PeerTable{})
	var keys []string
	for _, r := range rows {
		keys = append(keys, r.Key())
	}
	// One row per peer, each followed by its other brokers; a broker whose
	// peer has not said who it is is a row of its own.
	want := []string{alice, alice + "#6", bob, carol, carol + "#4", erin, frank, gina, hank, dave, "#8"}
	if fmt.Sprint(keys) != fmt.Sprint(want) {
		t.Fatalf("row keys\n got %v\nwant %v", keys, want)
	}
	for _, r := range rows {
		switch r.Key() {
		case hank:
			if r.Broker == nil || r.Broker.ID != 7 || r.State() != snapshot.PeerConnecting {
				t.Errorf("hank's row does not show its negotiating broker: %+v", r)
			}
		case erin, frank:
			if r.Broker != nil {
				t.Errorf("%s has no connection but its row has broker #%d", r.Key(), r.Broker.ID)
			}
		case alice:
			if r.Extras != 1 || r.Broker.ID != 1 {
				t.Errorf("alice's row: broker #%d, %d extras", r.Broker.ID, r.Extras)
			}
		}
	}
	out := RenderPeers(rows, PeerTable{}, PeerCounts{}, 200, 20, now0, PlainTheme())
	for _, want := range []string{"⊘ locked-out", "✕ refused", "↻ backing-off", "◌ connecting", "● live ×2", "└ #6", "└ #4",
		"0:42", "in 3.1s", "7 ✗6", "connection refused", "hnk2kltc hank", "inbound: peer not named yet"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

// An engine that names no established broker and reports no state still
// gets one row per peer: the newest established broker is the peer's.
func TestPeerRowsFromAnEngineWithoutPeerState(t *testing.T) {
	s := fixture()
	for i := range s.Peers {
		s.Peers[i].State, s.Peers[i].BrokerID = "", 0
	}
	rows := PeerRows(s, PeerTable{})
	for _, r := range rows {
		if r.Key() == carol && (r.Broker == nil || r.Broker.ID != 4 || r.Extras != 1) {
			t.Errorf("carol's row should hold her newest broker #4 with #3 below: %+v", r)
		}
		if r.Key() == erin && r.State() != snapshot.PeerBackingOff {
			t.Errorf("erin without a state reads %s, want backing-off from her reconnector", r.State())
		}
	}
}

func TestSortIsStableAndTimeIndependent(t *testing.T) {
	s := manyPeers(500)
	for _, col := range Columns {
		for _, desc := range []bool{false, true} {
			tb := PeerTable{SortBy: col, Desc: desc}
			a := PeerRows(s, tb)
			b := PeerRows(s, tb)
			if len(a) != 500 {
				t.Fatalf("%v: %d rows", col, len(a))
			}
			for i := range a {
				if a[i].Key() != b[i].Key() {
					t.Fatalf("%v desc=%v: order differs between two builds at %d", col, desc, i)
				}
			}
			key := peerKey(col)
			for i := 1; key != nil && i < len(a); i++ {
				ka, kb := key(&a[i-1]), key(&a[i])
				if kb == math.MaxInt64 {
					continue // rows without a value go last either way
				}
				if (!desc && ka > kb) || (desc && ka < kb) {
					t.Fatalf("%v desc=%v: rows %d and %d out of order", col, desc, i-1, i)
				}
			}
		}
	}
	// Youngest broker first; peers without one last.
	rows := PeerRows(fixture(), PeerTable{SortBy: ColAge})
	if rows[0].Key() != "#8" || rows[len(rows)-1].Broker != nil {
		t.Errorf("by age: first %s, last has broker %v", rows[0].Key(), rows[len(rows)-1].Broker != nil)
	}
}

func TestColumnWidthsFollowContent(t *testing.T) {
	s := fixture()
	rows := PeerRows(s, PeerTable{})
	for _, w := range []int{110, 120, 200} {
		out := RenderPeers(rows, PeerTable{}, PeerCounts{}, w, 20, now0, PlainTheme())
		lines := strings.Split(out, "\n")
		head := lines[0]
		// REMOTE is as wide as its longest value, not its maximum.
		if i, j := strings.Index(head, "REMOTE"), strings.Index(head, "PEER-INC"); i >= 0 && j >= 0 && j-i > len("tor:abcdefghijklmnop.onion:80")+2 {
			t.Errorf("width %d: REMOTE spans %d cells: %q", w, j-i, head)
		}
		if !strings.Contains(out, "alice") || strings.Contains(out, "alic…") {
			t.Errorf("width %d: nickname cut:\n%s", w, out)
		}
		// The explanation gets the slack: erin's error is whole.
		if !strings.Contains(out, "the master refused our offer: Duplicate connection") && w >= 200 {
			t.Errorf("width %d: DETAIL cut:\n%s", w, out)
		}
	}
	narrow := strings.Split(RenderPeers(rows, PeerTable{}, PeerCounts{}, 80, 20, now0, PlainTheme()), "\n")[0]
	for _, col := range []string{"PEER", "STATE", "DETAIL", "NEXT", "LOCKED"} {
		if !strings.Contains(narrow, col) {
			t.Errorf("80 wide: heading lacks %s: %q", col, narrow)
		}
	}
	if strings.Contains(narrow, "ATTEMPT") || strings.Contains(narrow, "REMOTE") {
		t.Errorf("80 wide: REMOTE and ATTEMPT should go first: %q", narrow)
	}
}

func TestClamp(t *testing.T) {
	cases := []struct {
		cursor, offset, n, height int
		wc, wo                    int
	}{
		{0, 0, 0, 10, 0, 0},
		{5, 0, 3, 10, 2, 0},
		{-4, 3, 100, 10, 0, 0},
		{50, 0, 100, 10, 50, 43}, // 8 rows visible
		{50, 48, 100, 10, 50, 48},
		{99, 99, 100, 10, 99, 92},
		{10, 90, 100, 10, 10, 10},
	}
	for _, c := range cases {
		got := PeerTable{Cursor: c.cursor, Offset: c.offset}.Clamp(c.n, c.height)
		if got.Cursor != c.wc || got.Offset != c.wo {
			t.Errorf("Clamp(cursor %d, offset %d, n %d, h %d) = %d,%d; want %d,%d",
				c.cursor, c.offset, c.n, c.height, got.Cursor, got.Offset, c.wc, c.wo)
		}
	}
}

func TestFilterFields(t *testing.T) {
	s := fixture()
	cases := map[string][]string{
		"ALICE":     {alice, alice + "#6"},
		"2001:DB8":  {bob},
		"locked":    {erin},
		"refused":   {frank, erin}, // frank's error says refused; erin's says the master refused
		"5EED5EED":  {carol, carol + "#4"},
		"onion":     {dave},
		"no-such":   nil,
		" suspect ": {alice, alice + "#6", bob},
	}
	for f, want := range cases {
		var got []string
		for _, r := range PeerRows(s, PeerTable{Filter: f}) {
			got = append(got, r.Key())
		}
		if fmt.Sprint(sorted(got)) != fmt.Sprint(sorted(want)) {
			t.Errorf("filter %q = %v, want %v", f, got, want)
		}
	}
}

func sorted(ss []string) []string {
	out := append([]string(nil), ss...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestPeerDetailGolden(t *testing.T) {
	s := fixture()
	th := DefaultTheme()
	for _, p := range []struct{ name, id string }{{"alice", alice}, {"carol", carol}, {"erin", erin}, {"frank", frank}, {"unknown", "unknownunknownunknownunknownunkn"}} {
		for _, sz := range sizes {
			name := "peer_" + p.name + "_" + sizeName(sz.w, sz.h)
			got := PeerDetail(s, PeerView{TubID: p.id}, sz.w, sz.h-4, now0, th)
			assertPane(t, name, got, sz.w, sz.h-4)
			golden(t, name, got)
		}
	}
}

func TestPeerDetailAlwaysShowsWhy(t *testing.T) {
	s := fixture()
	for _, p := range []string{alice, carol, erin} {
		for _, h := range []int{12, 16, 20, 40} {
			out := PeerDetail(s, PeerView{TubID: p}, 80, h, now0, PlainTheme())
			if !strings.Contains(out, "why: ") {
				t.Errorf("%s at 80x%d lost its why: line:\n%s", p, h, out)
			}
		}
	}
	// The dead connection and its replacement are both in carol's history.
	out := PeerDetail(s, PeerView{TubID: carol}, 200, 56, now0, PlainTheme())
	for _, want := range []string{"History (2, newest last)", "#11", "replaced by #3", "replaced by a new connection (same-seqnum)", "open"} {
		if !strings.Contains(out, want) {
			t.Errorf("carol's detail lacks %q:\n%s", want, out)
		}
	}
	out = PeerDetail(s, PeerView{TubID: erin}, 200, 56, now0, PlainTheme())
	for _, want := range []string{"⊘ locked-out", "locked out for 0:42", "7 failed attempts", "6 offers refused", "next try in 3.1s", "never"} {
		if !strings.Contains(out, want) {
			t.Errorf("erin's detail lacks %q:\n%s", want, out)
		}
	}
}

func TestPeerDetailScroll(t *testing.T) {
	s := fixture()
	if n := PeerDecisions(s.Decisions, carol); n != 4 {
		t.Fatalf("PeerDecisions(carol) = %d, want 4", n)
	}
	out := PeerDetail(s, PeerView{TubID: carol, Offset: 2}, 160, 40, now0, PlainTheme())
	for _, want := range []string{"↓ 2 newer", "why: older-seqnum", "offer seqnum 8 is older than the broker's 9"} {
		if !strings.Contains(out, want) {
			t.Errorf("scrolled detail lacks %q:\n%s", want, out)
		}
	}
}

func TestLogGolden(t *testing.T) {
	s := fixture()
	th := DefaultTheme()
	cases := []struct {
		name string
		v    LogView
	}{
		{"all", LogView{}},
		{"ungrouped", LogView{NoGroup: true}},
		{"group_open", LogView{Cursor: 9, Open: map[uint64]bool{9 | groupBit: true}}},
		{"decision_open", LogView{Cursor: 5, Open: map[uint64]bool{5: true}}},
		{"slave_open", LogView{Cursor: 7, Open: map[uint64]bool{7: true}}},
		{"rule_filter", LogView{Rule: "same-seqnum"}},
		{"rejects", LogView{Verdict: "reject"}},
		{"scrolled", LogView{Cursor: 3, Top: 2}},
		{"nomatch", LogView{Text: "zzzz"}},
	}
	for _, c := range cases {
		for _, sz := range sizes {
			name := "log_" + c.name + "_" + sizeName(sz.w, sz.h)
			h := sz.h / 2
			got := RenderLog(s.Decisions, LogLines(s.Decisions, c.v), c.v, s.DecisionsTotal, true, sz.w, h, now0, th)
			assertPane(t, name, got, sz.w, h)
			golden(t, name, got)
		}
	}
}

func TestLogGroupsRepeats(t *testing.T) {
	s := fixture()
	lines := LogLines(s.Decisions, LogView{})
	var group *LogLine
	for i := range lines {
		if lines[i].Group {
			group = &lines[i]
		}
	}
	if group == nil || group.Count != 5 || group.Peers != 5 || group.Seq != 9 {
		t.Fatalf("the five new-incarnation accepts are not one group: %+v", lines)
	}
	out := RenderLog(s.Decisions, lines, LogView{}, 14, true, 200, 30, now0, PlainTheme())
	if !strings.Contains(out, "5× in 1.1 s") {
		t.Errorf("group line does not say 5× in 1.1 s:\n%s", out)
	}
	open := LogLines(s.Decisions, LogView{Open: map[uint64]bool{9 | groupBit: true}})
	if len(open) != len(lines)+5 {
		t.Errorf("an open group shows %d lines, want %d", len(open), len(lines)+5)
	}
	if n := len(LogLines(s.Decisions, LogView{NoGroup: true})); n != len(s.Decisions) {
		t.Errorf("ungrouped log has %d lines, want %d", n, len(s.Decisions))
	}
}

// The lines under the reader stay put while new decisions arrive, and
// the title counts what is below.
func TestLogScrollStaysPutAsRowsArrive(t *testing.T) {
	s := fixture()
	v := LogView{Cursor: 3, Top: 2, NoGroup: true}
	view := func(ds []snapshot.Decision) []string {
		return strings.Split(RenderLog(ds, LogLines(ds, v), v, 0, true, 160, 8, now0, PlainTheme()), "\n")
	}
	before := view(s.Decisions)
	more := append([]snapshot.Decision(nil), s.Decisions...)
	for i := range 40 {
		d := s.Decisions[3]
		d.Seq = uint64(100 + i)
		more = append(more, d)
	}
	after := view(more)
	for i := 2; i < len(before); i++ {
		if before[i] != after[i] {
			t.Fatalf("line %d moved:\n%s\n%s", i, before[i], after[i])
		}
	}
	if !strings.Contains(after[0], "↓ 47 new below") {
		t.Errorf("title does not count what is below: %q", after[0])
	}
	// Following (zero cursor) keeps the newest at the bottom.
	tail := strings.Split(RenderLog(more, LogLines(more, LogView{NoGroup: true}), LogView{NoGroup: true}, 0, true, 160, 8, now0, PlainTheme()), "\n")
	if !strings.Contains(tail[7], "same-seqnum") {
		t.Errorf("following log does not end on the newest: %q", tail[7])
	}
}

func TestSlaveRefusalSaysWhy(t *testing.T) {
	s := fixture()
	d := &s.Decisions[6] // erin's refusal, as slave
	got := DecisionSentence(d)
	if strings.Count(got, "Duplicate connection") != 1 {
		t.Errorf("sentence repeats the refusal: %q", got)
	}
	if !strings.Contains(got, "never-decided") || !strings.Contains(got, "never heard its decision") {
		t.Errorf("sentence does not say why: %q", got)
	}
}

func TestLineAt(t *testing.T) {
	s := fixture()
	lines := LogLines(s.Decisions, LogView{})
	if i := LineAt(lines, 11); !lines[i].Group {
		t.Errorf("seq 11 is inside the group, got line %+v", lines[i])
	}
	if i := LineAt(lines, 1000); i != len(lines)-1 {
		t.Errorf("a seq past the end maps to %d", i)
	}
	if LineAt(nil, 3) != -1 {
		t.Error("LineAt on no lines")
	}
}

func TestEventsGolden(t *testing.T) {
	evs := []snapshot.Event{
		{Time: before(20 * time.Second), Kind: snapshot.KindFault, PeerTubID: carol, Message: "power cut: carol's packets are black-holed"},
		{Time: before(19 * time.Second), Kind: snapshot.KindBrokerDetached, BrokerID: 11, PeerTubID: carol, Close: snapshot.CloseReplaced, Reason: "replaced by a new connection (new-incarnation)"},
		{Time: before(10 * time.Second), Kind: snapshot.KindNegotiationFailed, Remote: "203.0.113.9:5123", Close: snapshot.CloseNegotiationFailed, Err: "bad prelude"},
		{Time: before(5 * time.Second), Kind: snapshot.KindRefused, Remote: "203.0.113.99:40112", Reason: "too many negotiations (cap 256)"},
		{Time: before(3 * time.Second), Kind: snapshot.KindReconnectScheduled, PeerTubID: frank, Delay: 6 * time.Second, Err: "connection refused"},
		{Time: before(2 * time.Second), Kind: snapshot.KindPolicy, Message: "policy foolscap"},
		{Time: before(time.Second), Kind: snapshot.KindSource, Message: "logport lost: retrying in 4s"},
	}
	names := PeerNames(fixture())
	for _, sz := range sizes {
		name := "events_" + sizeName(sz.w, sz.h)
		got := RenderEvents(evs, EventView{}, names, 12, true, sz.w, 8, now0, DefaultTheme())
		assertPane(t, name, got, sz.w, 8)
		golden(t, name, got)
	}
	golden(t, "events_scrolled_120x5", RenderEvents(evs, EventView{Offset: 3}, names, 7, false, 120, 5, now0, DefaultTheme()))
	line := EventLine(&evs[5], names)
	if strings.Contains(line, "policy policy") {
		t.Errorf("status line repeats the kind: %q", line)
	}
	if got := EventLine(&evs[1], names); !strings.Contains(got, "carol broker #11 closed (replaced): replaced by a new connection") {
		t.Errorf("detach line = %q", got)
	}
}

func TestStormGolden(t *testing.T) {
	s := fixture()
	sum := Summarize(s)
	for _, sz := range sizes {
		name := "storm_" + sizeName(sz.w, sz.h)
		got := StormStrip(s, sum, sz.w, 5, now0, DefaultTheme())
		assertPane(t, name, got, sz.w, 5)
		golden(t, name, got)
	}
	quiet := &snapshot.Snapshot{}
	golden(t, "storm_quiet_80", StormStrip(quiet, Summary{}, 80, 5, now0, DefaultTheme()))
}

func TestSparkline(t *testing.T) {
	cases := []struct {
		vs   []int
		w    int
		top  int
		want string
	}{
		{[]int{0, 1, 2, 4, 8}, 5, 0, " ▁▂▄█"},
		{[]int{0, 1, 2, 4, 8}, 3, 0, "▂▄█"},
		{[]int{1}, 3, 1000, "  ▁"},
		{nil, 2, 0, "  "},
		{[]int{5, 5}, 2, 5, "██"},
	}
	for _, c := range cases {
		if got := Sparkline(c.vs, c.w, c.top); got != c.want {
			t.Errorf("Sparkline(%v, %d, %d) = %q, want %q", c.vs, c.w, c.top, got, c.want)
		}
	}
	if got := LastMinute([]int{9, 1, 2, 3}, 30*time.Second); got != 5 {
		t.Errorf("LastMinute = %d, want 5 (two 30 s buckets)", got)
	}
}

func TestNarrationGolden(t *testing.T) {
	n := &snapshot.Narration{Step: "2/4 power cut behind a NAT", Next: "client-5 loses power", NextAt: now0.Add(4200 * time.Millisecond),
		Last:   "the queen took client-5 back at once: its offer named a new incarnation, so the old connection it still held was dead (new-incarnation)",
		LastAt: before(3 * time.Second)}
	for _, sz := range sizes {
		name := "narration_" + sizeName(sz.w, sz.h)
		got := NarrationStrip(n, sz.w, NarrationRows, now0, DefaultTheme())
		assertPane(t, name, got, sz.w, NarrationRows)
		golden(t, name, got)
	}
}

// compareFixture is the demo's --compare: the same clients against a
// first-wins queen (one locked out) and a foolscap queen (back at once).
func compareFixture() ([]*snapshot.Snapshot, []Summary) {
	fw := &snapshot.Snapshot{Version: 3, Source: snapshot.Source{Name: "queen-first-wins"}, Policy: "first-wins", TubID: ownTub}
	fs := &snapshot.Snapshot{Version: 3, Source: snapshot.Source{Name: "queen-foolscap"}, Policy: "foolscap", TubID: ownTub}
	for i, name := range []string{"client-1", "client-2", "client-3"} {
		tubid := fmt.Sprintf("c%d%s", i, alice[2:])
		p := snapshot.Peer{TubID: tubid, Nickname: name, State: snapshot.PeerLive, BrokerID: uint64(i + 1), Connected: before(time.Minute)}
		q := p
		if name == "client-3" {
			p.State, p.BrokerID, p.LockedOutSince, p.NextAttempt = snapshot.PeerLockedOut, 0, before(42*time.Second), now0.Add(2*time.Second)
			q.Connected = before(41 * time.Second)
			q.History = []snapshot.ConnectionRecord{
				{BrokerID: 3, Attached: before(2 * time.Minute), Closed: before(41 * time.Second), End: snapshot.CloseReplaced, ReplacedBy: 9},
				{BrokerID: 9, Opened: before(41*time.Second + 3*time.Millisecond), Attached: before(41 * time.Second), Rule: "new-incarnation"},
			}
		}
		fw.Peers = append(fw.Peers, p)
		fs.Peers = append(fs.Peers, q)
	}
	fw.Decisions = []snapshot.Decision{{Seq: 1, Time: before(42 * time.Second), PeerTubID: fw.Peers[2].TubID, Rule: "first-wins"}}
	fs.Decisions = []snapshot.Decision{{Seq: 1, Time: before(41 * time.Second), PeerTubID: fs.Peers[2].TubID, Rule: "new-incarnation", Accept: true}}
	return []*snapshot.Snapshot{fw, fs}, []Summary{Summarize(fw), Summarize(fs)}
}

func TestCompareGolden(t *testing.T) {
	snaps, sums := compareFixture()
	for _, sz := range sizes {
		name := "compare_" + sizeName(sz.w, sz.h)
		got := Compare(snaps, sums, 0, sz.w, sz.h-4, now0, DefaultTheme())
		assertPane(t, name, got, sz.w, sz.h-4)
		golden(t, name, got)
	}
	first, bad := Headline(snaps[0], sums[0], now0)
	if first != "first-wins: locked out 0:42 and counting" || !bad {
		t.Errorf("first-wins headline = %q", first)
	}
	second, bad := Headline(snaps[1], sums[1], now0)
	if second != "foolscap: client-3 back in 3.0 ms (new-incarnation)" || bad {
		t.Errorf("foolscap headline = %q", second)
	}
	fleet := Fleet([]FleetItem{{Name: "queen", Peers: 3}, {Name: "tahoe", Peers: 1, Status: "logport lost: retrying in 4s"}}, 0, 120, PlainTheme())
	if !strings.Contains(fleet, "2 tahoe: 1 peer · 0 rej/min · logport lost: retrying in 4s") {
		t.Errorf("fleet line = %q", fleet)
	}
}

func TestHelpGolden(t *testing.T) {
	groups := [][]KeyHelp{
		{{"j/↓", "down"}, {"k/↑", "up"}, {"g/G", "top / bottom"}, {"pgup/pgdn", "page"}},
		{{"tab", "next pane"}, {"enter", "peer detail"}, {"esc", "back"}, {"/", "filter"}},
		{{"?", "close help"}, {"q", "quit"}},
	}
	sections := []HelpSection{{Title: "Glyphs", Rows: GlyphLegend()}, {Title: "Columns", Rows: ColumnLegend()}}
	th := DefaultTheme()
	for _, sz := range sizes {
		name := "help_" + sizeName(sz.w, sz.h)
		got := Help(groups, sections, 0, sz.w, sz.h, th)
		assertPane(t, name, got, sz.w, sz.h)
		golden(t, name, got)
	}
	scrolled := Help(groups, sections, 1000, 80, 10, th)
	if !strings.Contains(scrolled, "DETAIL") {
		t.Errorf("help scrolled to the end does not show the last column:\n%s", scrolled)
	}
	if n := HelpLines(groups, sections, 80); n < 30 {
		t.Errorf("HelpLines = %d", n)
	}
}

func TestToASCII(t *testing.T) {
	s := fixture()
	screen := RenderPeers(PeerRows(s, PeerTable{}), PeerTable{}, PeerCounts{}, 120, 20, now0, PlainTheme()) + "\n" +
		RenderLog(s.Decisions, LogLines(s.Decisions, LogView{}), LogView{}, 14, true, 120, 20, now0, PlainTheme()) + "\n" +
		StormStrip(s, Summarize(s), 120, 5, now0, PlainTheme())
	got := ToASCII(screen)
	if !isASCII(got) {
		t.Fatal("ToASCII left non-ASCII text")
	}
	a, b := strings.Split(screen, "\n"), strings.Split(got, "\n")
	for i := range a {
		if lipgloss.Width(a[i]) != lipgloss.Width(b[i]) {
			t.Errorf("line %d changed width: %d → %d", i, lipgloss.Width(a[i]), lipgloss.Width(b[i]))
		}
	}
	for _, want := range []string{"! locked-out", "X refused", "@ backing-off", ". connecting", "* live x2", "` #6", "+ ACCEPT", "x REJECT"} {
		if !strings.Contains(got, want) {
			t.Errorf("ASCII screen lacks %q", want)
		}
	}
	golden(t, "ascii_peers_80x24", ToASCII(RenderPeers(PeerRows(s, PeerTable{}), PeerTable{}, PeerCounts{Peers: 8, Brokers: 8}, 80, 24, now0, DefaultTheme())))
	if ToASCII("漢x") != "??x" {
		t.Errorf("a wide rune keeps its two cells: %q", ToASCII("漢x"))
	}
}

func TestTooSmallAndScreen(t *testing.T) {
	got := TooSmall(40, 10)
	assertPane(t, "toosmall", got, 40, 10)
	golden(t, "toosmall_40x10", got)
	for _, sz := range [][2]int{{1, 1}, {12, 2}, {59, 14}} {
		assertPane(t, "toosmall", TooSmall(sz[0], sz[1]), sz[0], sz[1])
	}
	got = Screen("H", strings.Repeat("m\n", 30), "B", 10, 5)
	if got != "H         \nm         \nm         \nm         \nB         " {
		t.Errorf("Screen = %q", got)
	}
	got = Screen("H1\nH2", "m", "B1\nB2", 4, 3)
	if got != "H1  \nH2  \nB1  " {
		t.Errorf("Screen too short for its bars = %q", got)
	}
}

// TestNoLineTooWide renders every screen at several sizes, with colour
// on, and checks each is exactly its size.
func TestNoLineTooWide(t *testing.T) {
	lipgloss.SetColorProfile(termenv.TrueColor)
	defer lipgloss.SetColorProfile(termenv.Ascii)
	s := fixture()
	many := manyPeers(300)
	snaps, sums := compareFixture()
	groups := [][]KeyHelp{{{"a-very-long-key-name", strings.Repeat("long description ", 20)}}, {{"x", "y"}}}
	open := LogView{Cursor: 5, Open: map[uint64]bool{5: true, 9 | groupBit: true}}
	for _, th := range []Theme{DefaultTheme(), PlainTheme()} {
		for _, w := range []int{40, 80, 120, 200} {
			for _, h := range []int{1, 3, 10, 24} {
				screens := map[string]string{
					"peers":     RenderPeers(PeerRows(s, PeerTable{SortBy: ColRemote}), PeerTable{Cursor: 3}, PeerCounts{}, w, h, now0, th),
					"many":      RenderPeers(PeerRows(many, PeerTable{Filter: "node"}), PeerTable{Cursor: 150}, PeerCounts{}, w, h, now0, th),
					"peer":      PeerDetail(s, PeerView{TubID: alice}, w, h, now0, th),
					"peer-erin": PeerDetail(s, PeerView{TubID: erin}, w, h, now0, th),
					"log":       RenderLog(s.Decisions, LogLines(s.Decisions, open), open, 0, true, w, h, now0, th),
					"events":    RenderEvents([]snapshot.Event{{Kind: snapshot.KindFault, Message: strings.Repeat("x", 300)}}, EventView{}, PeerNames(s), 1, true, w, h, now0, th),
					"storm":     StormStrip(s, Summarize(s), w, h, now0, th),
					"compare":   Compare(snaps, sums, 1, w, h, now0, th),
					"help":      Help(groups, nil, 0, w, h, th),
					"toosmall":  TooSmall(w, h),
				}
				for name, out := range screens {
					assertPane(t, fmt.Sprintf("%s %dx%d", name, w, h), out, w, h)
				}
				hdr := Header(s, Summarize(s), HeaderState{Live: true, Paused: true, NewWhilePaused: 99999}, w, now0, th)
				assertPane(t, fmt.Sprintf("header %d", w), hdr, w, 1)
			}
		}
	}
}

func TestPlainThemeHasNoColour(t *testing.T) {
	lipgloss.SetColorProfile(termenv.TrueColor)
	defer lipgloss.SetColorProfile(termenv.Ascii)
	s := fixture()
	th := PlainTheme()
	out := Header(s, Summarize(s), HeaderState{Live: true}, 160, now0, th) +
		RenderPeers(PeerRows(s, PeerTable{}), PeerTable{Cursor: 1}, PeerCounts{}, 160, 20, now0, th) +
		RenderLog(s.Decisions, LogLines(s.Decisions, LogView{}), LogView{}, 0, true, 160, 20, now0, th) +
		PeerDetail(s, PeerView{TubID: carol}, 160, 48, now0, th)
	for _, sgr := range []string{"[38;", "[48;", "[3", "[4"} {
		if strings.Contains(out, "\x1b"+sgr) {
			t.Errorf("plain theme emitted colour sequence %q", sgr)
		}
	}
	if !strings.Contains(out, "\x1b[7m") {
		t.Error("plain theme lost the reverse-video cursor row")
	}
}

// TestRowStyles checks the cursor row and suspect and locked-out rows are
// styled as whole rows.
func TestRowStyles(t *testing.T) {
	lipgloss.SetColorProfile(termenv.TrueColor)
	defer lipgloss.SetColorProfile(termenv.Ascii)
	th := PlainTheme()
	th.Suspect = lipgloss.NewStyle().Italic(true)
	th.LockedOut = lipgloss.NewStyle().Faint(true)
	s := fixture()
	rows := PeerRows(s, PeerTable{})
	lines := strings.Split(RenderPeers(rows, PeerTable{Cursor: 0}, PeerCounts{}, 160, 14, now0, th), "\n")
	if !strings.HasPrefix(lines[1], "\x1b[7m▶ pcx5blrk alice") {
		t.Errorf("cursor row is not reverse video from the marker on: %q", lines[1])
	}
	if !strings.HasPrefix(lines[3], "\x1b[3m  f3bnq6yl bob") {
		t.Errorf("suspect row is not styled as a whole: %q", lines[3])
	}
	if !strings.HasPrefix(lines[6], "\x1b[2m  eri7nqlk erin") {
		t.Errorf("locked-out row is not styled as a whole: %q", lines[6])
	}
}

var sgr = regexp.MustCompile("\x1b\\[[0-9;]*m")

// Styled lines are never cut or cleaned as if they were plain text: an
// unfocused cursor line keeps its escapes intact and its sentence whole.
func TestStyledLogLines(t *testing.T) {
	lipgloss.SetColorProfile(termenv.TrueColor)
	defer lipgloss.SetColorProfile(termenv.Ascii)
	s := fixture()
	for _, focused := range []bool{true, false} {
		out := RenderLog(s.Decisions, LogLines(s.Decisions, LogView{}), LogView{}, 0, focused, 200, 20, now0, DefaultTheme())
		if strings.Contains(out, "?[") {
			t.Errorf("focused=%v: an escape sequence was cleaned into text", focused)
		}
		if !strings.Contains(sgr.ReplaceAllString(out, ""), "offer has no my-incarnation or last-connection") {
			t.Errorf("focused=%v: the cursor line's sentence was cut:\n%s", focused, out)
		}
	}
}

func TestHostileText(t *testing.T) {
	s := fixture()
	s.Peers[0].Nickname = "evil\x1b]0;pwned\x07\nname"
	s.Decisions[4].Error = "bad\r\nthing\x1b[2J"
	s.Peers[4].LastError = "\x1b[31mred"
	s.Narration = &snapshot.Narration{Step: "\x1b[2J", Last: "a\rb"}
	outs := []string{
		RenderPeers(PeerRows(s, PeerTable{}), PeerTable{}, PeerCounts{}, 160, 20, now0, PlainTheme()),
		RenderLog(s.Decisions, LogLines(s.Decisions, LogView{Open: map[uint64]bool{5: true}}), LogView{Cursor: 5, Open: map[uint64]bool{5: true}}, 0, true, 160, 20, now0, PlainTheme()),
		PeerDetail(s, PeerView{TubID: alice}, 160, 48, now0, PlainTheme()),
		PeerDetail(s, PeerView{TubID: erin}, 160, 48, now0, PlainTheme()),
		NarrationStrip(s.Narration, 80, 3, now0, PlainTheme()),
	}
	for i, out := range outs {
		if strings.ContainsAny(out, "\x1b\x07\r") {
			t.Errorf("screen %d passed control characters through", i)
		}
	}
}

func TestTimeFormats(t *testing.T) {
	cases := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"}, {999 * time.Millisecond, "0s"}, {45 * time.Second, "45s"}, {60 * time.Second, "1m00s"},
		{3*time.Minute + 12*time.Second, "3m12s"}, {2*time.Hour + 5*time.Minute + 59*time.Second, "2h05m"},
		{26 * time.Hour, "1d02h"}, {-5 * time.Second, "0s"},
	}
	for _, c := range cases {
		if got := Age(now0, now0.Add(-c.d)); got != c.want {
			t.Errorf("Age(%v) = %q, want %q", c.d, got, c.want)
		}
	}
	if got := Until(now0, now0.Add(2300*time.Millisecond)); got != "in 2.3s" {
		t.Errorf("Until = %q", got)
	}
	if got := Until(now0, now0.Add(-time.Second)); got != "now" {
		t.Errorf("Until(past) = %q", got)
	}
	for d, want := range map[time.Duration]string{42 * time.Second: "0:42", 12*time.Minute + 5*time.Second: "12:05", time.Hour + 2*time.Minute + 3*time.Second: "1:02:03", -time.Second: "0:00"} {
		if got := Clock(d); got != want {
			t.Errorf("Clock(%v) = %q, want %q", d, got, want)
		}
	}
	for d, want := range map[time.Duration]string{3 * time.Millisecond: "3.0 ms", 250 * time.Millisecond: "250 ms", 1100 * time.Millisecond: "1.1 s", 42 * time.Second: "42 s", 3 * time.Minute: "3m00s"} {
		if got := Millis(d); got != want {
			t.Errorf("Millis(%v) = %q, want %q", d, got, want)
		}
	}
	if plural(1, "peer") != "1 peer" || plural(0, "peer") != "0 peers" {
		t.Error("plural")
	}
}

// BenchmarkPeerRows10k is what a new snapshot costs the table: grouping
// 10,000 peers with their brokers, filtering and sorting.
func BenchmarkPeerRows10k(b *testing.B) {
	s := manyPeers(10000)
	b.ReportAllocs()
	cpuPerOp(b, func() {
		if rows := PeerRows(s, PeerTable{SortBy: ColLastRx, Desc: true}); len(rows) != 10000 {
			b.Fatal(len(rows))
		}
	})
}

// BenchmarkPeerRows10kByName sorts by the peer column, a text key.
func BenchmarkPeerRows10kByName(b *testing.B) {
	s := manyPeers(10000)
	b.ReportAllocs()
	cpuPerOp(b, func() { _ = PeerRows(s, PeerTable{}) })
}

// cpuPerOp reports the thread CPU time per iteration beside ns/op: on a
// shared machine wall time mostly measures the other processes.
func cpuPerOp(b *testing.B, body func()) {
	defer lockThread()()
	start := threadCPU()
	n := 0
	for b.Loop() {
		body()
		n++
	}
	if haveThreadCPU && n > 0 {
		b.ReportMetric(float64(threadCPU()-start)/float64(n), "cpu-ns/op")
	}
}

// BenchmarkRenderPeers10kWindow is one frame of the table from cached
// rows: only the visible window is formatted.
func BenchmarkRenderPeers10kWindow(b *testing.B) {
	s := manyPeers(10000)
	rows := PeerRows(s, PeerTable{})
	th := DefaultTheme()
	tb := PeerTable{Cursor: 4000, Offset: 3990}
	b.ReportAllocs()
	cpuPerOp(b, func() { _ = RenderPeers(rows, tb, PeerCounts{Peers: 10000, Brokers: 10000}, 200, 30, now0, th) })
}

// A paint styles a cell exactly as Render does, for the styles cells use.
func TestPaintMatchesRender(t *testing.T) {
	lipgloss.SetColorProfile(termenv.TrueColor)
	defer lipgloss.SetColorProfile(termenv.Ascii)
	th := DefaultTheme()
	for _, st := range []lipgloss.Style{th.Dim, th.Reject, th.Warn, th.Live, th.peerStyle(snapshot.PeerLockedOut)} {
		if got, want := paintOf(st).on("0:42  in 3.1s"), st.Render("0:42  in 3.1s"); got != want {
			t.Errorf("paint %q, Render %q", got, want)
		}
	}
	if paintOf(PlainTheme().Dim).on("x") != "x" {
		t.Error("an empty style paints nothing")
	}
}
