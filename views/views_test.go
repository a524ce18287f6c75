package views

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

var sizes = []struct{ w, h int }{{80, 24}, {160, 48}}

func sizeName(w, h int) string { return fmt.Sprintf("%dx%d", w, h) }

func TestHeaderGolden(t *testing.T) {
	s := fixture()
	th := DefaultTheme()
	for _, w := range []int{40, 60, 80, 120, 160} {
		golden(t, fmt.Sprintf("header_live_%d", w), Header(s, true, false, 0, w, now0, th))
	}
	golden(t, "header_paused_80", Header(s, true, true, 12, 80, now0, th))
	golden(t, "header_paused_160", Header(s, true, true, 12, 160, now0, th))
	golden(t, "header_stale_80", Header(s, false, false, 0, 80, now0, th))
}

func TestHeaderDropsLessEssentialFirst(t *testing.T) {
	s := fixture()
	wide := Header(s, true, false, 0, 160, now0, DefaultTheme())
	for _, want := range []string{"tubscope", "tub zq3h7kd6", "inc 9226ecb8 (#3)", "listen tcp:0.0.0.0:3456, tcp:[::]:3456", "policy foolscap-21.7", "4 peers", "6 brokers", "2 suspect", "● LIVE"} {
		if !strings.Contains(wide, want) {
			t.Errorf("160-wide header lacks %q: %q", want, wide)
		}
	}
	narrow := Header(s, true, true, 5, 60, now0, DefaultTheme())
	for _, want := range []string{"tub zq3h7kd6", "6 brokers", "2 suspect", "PAUSED · 5 new"} {
		if !strings.Contains(narrow, want) {
			t.Errorf("60-wide header lacks %q: %q", want, narrow)
		}
	}
	for _, gone := range []string{"tubscope", "listen"} {
		if strings.Contains(narrow, gone) {
			t.Errorf("60-wide header still has %q: %q", gone, narrow)
		}
	}
}

func TestBrokersGolden(t *testing.T) {
	s := fixture()
	th := DefaultTheme()
	cases := []struct {
		name string
		t    BrokerTable
	}{
		{"byage", BrokerTable{SortBy: ColAge, Cursor: 2}},
		{"bylastrx_desc", BrokerTable{SortBy: ColLastRx, Desc: true, Cursor: 0}},
		{"bystate", BrokerTable{SortBy: ColState}},
		{"filter_carol", BrokerTable{SortBy: ColPeer, Filter: "CAROL", Cursor: 1}},
		{"filter_none", BrokerTable{Filter: "nobody-here"}},
	}
	for _, c := range cases {
		for _, sz := range sizes {
			name := "brokers_" + c.name + "_" + sizeName(sz.w, sz.h)
			got := RenderBrokers(s.Brokers, c.t, sz.w, sz.h, now0, th)
			assertPane(t, name, got, sz.w, sz.h)
			golden(t, name, got)
		}
	}
	got := RenderBrokers(s.Brokers, BrokerTable{SortBy: ColLastRx}, 40, 10, now0, th)
	assertPane(t, "brokers_40x10", got, 40, 10)
	golden(t, "brokers_bylastrx_40x10", got)
	got = RenderBrokers(s.Brokers, BrokerTable{SortBy: ColPeer}, 60, 15, now0, th)
	golden(t, "brokers_bypeer_60x15", got)
}

func TestBrokersNarrowKeepsEssentials(t *testing.T) {
	s := fixture()
	for _, w := range []int{40, 60, 79} {
		out := RenderBrokers(s.Brokers, BrokerTable{}, w, 12, now0, DefaultTheme())
		head := strings.Split(out, "\n")[0]
		for _, col := range []string{"PEER", "ROLE", "STATE", "LAST-RX"} {
			if !strings.Contains(head, col) {
				t.Errorf("width %d: heading lacks %s: %q", w, col, head)
			}
		}
		if strings.Contains(head, "ATTEMPT") {
			t.Errorf("width %d: attempt id should be the first column dropped: %q", w, head)
		}
	}
}

func TestBrokersWindowAndCursor(t *testing.T) {
	rows := manyBrokers(1000)
	tb := BrokerTable{SortBy: ColPeer, Cursor: 500, Offset: 0}
	out := RenderBrokers(rows, tb, 120, 12, now0, PlainTheme())
	assertPane(t, "window", out, 120, 12)
	lines := strings.Split(out, "\n")
	idx := SortFilter(rows, tb, now0)
	want := Short(rows[idx[500]].PeerTubID, 8)
	// Ten body rows; the cursor is scrolled into view on the last of them.
	if got := lines[10]; !strings.HasPrefix(got, "▶ "+want) {
		t.Errorf("cursor row = %q, want it to start with ▶ %s", got, want)
	}
	if c := strings.Count(out, "▶"); c != 1 {
		t.Errorf("%d cursor markers, want 1", c)
	}
	if !strings.Contains(lines[11], "501/1000") {
		t.Errorf("status line %q lacks the position 501/1000", lines[11])
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
		got := BrokerTable{Cursor: c.cursor, Offset: c.offset}.Clamp(c.n, c.height)
		if got.Cursor != c.wc || got.Offset != c.wo {
			t.Errorf("Clamp(cursor %d, offset %d, n %d, h %d) = %d,%d; want %d,%d",
				c.cursor, c.offset, c.n, c.height, got.Cursor, got.Offset, c.wc, c.wo)
		}
	}
}

func TestSortFilterEveryColumn(t *testing.T) {
	rows := manyBrokers(500)
	for _, col := range Columns {
		for _, desc := range []bool{false, true} {
			idx := SortFilter(rows, BrokerTable{SortBy: col, Desc: desc}, now0)
			if len(idx) != len(rows) {
				t.Fatalf("%v: %d rows, want %d", col, len(idx), len(rows))
			}
			for i := 1; i < len(idx); i++ {
				c := compareBy(col, &rows[idx[i-1]], &rows[idx[i]])
				if (!desc && c > 0) || (desc && c < 0) {
					t.Fatalf("%v desc=%v: rows %d and %d out of order", col, desc, i-1, i)
				}
			}
		}
	}
}

// compareBy orders two brokers by a column, independently of SortFilter.
func compareBy(col Column, a, b *snapshot.Broker) int {
	if key := brokerKey(col, now0); key != nil {
		ka, kb := key(a), key(b)
		switch {
		case ka < kb:
			return -1
		case ka > kb:
			return 1
		}
		return 0
	}
	return strings.Compare(brokerText(col)(a), brokerText(col)(b))
}

func TestSortByAgeAndLastRx(t *testing.T) {
	s := fixture()
	ids := func(tb BrokerTable) []uint64 {
		var out []uint64
		for _, i := range SortFilter(s.Brokers, tb, now0) {
			out = append(out, s.Brokers[i].ID)
		}
		return out
	}
	// Youngest first; never-received (negotiating, #5) counts as the oldest.
	if got, want := fmt.Sprint(ids(BrokerTable{SortBy: ColAge})), "[5 3 1 6 2 4]"; got != want {
		t.Errorf("by age = %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(ids(BrokerTable{SortBy: ColLastRx, Desc: true})), "[5 6 4 2 3 1]"; got != want {
		t.Errorf("by last-rx desc = %s, want %s", got, want)
	}
}

func TestFilterFields(t *testing.T) {
	s := fixture()
	cases := map[string][]uint64{
		"":                 {1, 2, 3, 4, 5, 6},
		"ALICE":            {1, 6},
		"pcx5":             {1, 6},
		"2001:DB8":         {2},
		"suspect":          {2, 6},
		"5EED5EED":         {3},
		"onion":            {5},
		"  carol ":         {3, 4},
		"no-such-thing":    nil,
		"198.51.100.23:34": {6},
	}
	for f, want := range cases {
		var got []uint64
		for _, i := range SortFilter(s.Brokers, BrokerTable{SortBy: ColPeer, Filter: f}, now0) {
			got = append(got, s.Brokers[i].ID)
		}
		if fmt.Sprint(sortedIDs(got)) != fmt.Sprint(sortedIDs(want)) {
			t.Errorf("filter %q = %v, want %v", f, got, want)
		}
	}
}

func sortedIDs(ids []uint64) []uint64 {
	out := append([]uint64(nil), ids...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestSelectedBroker(t *testing.T) {
	s := fixture()
	b, ok := SelectedBroker(s.Brokers, BrokerTable{SortBy: ColAge, Cursor: 1}, now0)
	if !ok || b.ID != 3 {
		t.Errorf("SelectedBroker = #%d, %v; want #3", b.ID, ok)
	}
	if _, ok := SelectedBroker(s.Brokers, BrokerTable{Filter: "zzz"}, now0); ok {
		t.Error("SelectedBroker found a row in an empty filter result")
	}
}

func TestPeerDetailGolden(t *testing.T) {
	s := fixture()
	th := DefaultTheme()
	for _, p := range []struct{ name, id string }{{"alice", alice}, {"bob", bob}, {"carol", carol}, {"unknown", "unknownunknownunknownunknownunkn"}} {
		for _, sz := range sizes {
			name := "peer_" + p.name + "_" + sizeName(sz.w, sz.h)
			got := PeerDetail(s, PeerView{TubID: p.id}, sz.w, sz.h, now0, th)
			assertPane(t, name, got, sz.w, sz.h)
			golden(t, name, got)
		}
	}
}

func TestPeerDetailContent(t *testing.T) {
	s := fixture()
	out := PeerDetail(s, PeerView{TubID: bob}, 160, 48, now0, DefaultTheme())
	for _, want := range []string{bob, "tcp:[2001:db8::7]:3456", "c0ffee0123456789", "waiting, next attempt in 2.3s",
		"connection refused", "current-connection c0ffee01 2", "error: Duplicate connection", "clone         no"} {
		if !strings.Contains(out, want) {
			t.Errorf("bob's detail lacks %q", want)
		}
	}
	out = PeerDetail(s, PeerView{TubID: carol}, 160, 48, now0, DefaultTheme())
	if !strings.Contains(out, "two processes share its key") {
		t.Error("carol's detail does not flag the clone")
	}
	// A short pane keeps the newest decision and drops older ones.
	out = PeerDetail(s, PeerView{TubID: carol}, 160, 26, now0, DefaultTheme())
	if !strings.Contains(out, "offer seqnum 8 equals") {
		t.Errorf("short pane lost the newest decision:\n%s", out)
	}
}

func TestPeerDetailScroll(t *testing.T) {
	s := fixture()
	if n := PeerDecisions(s.Decisions, carol); n != 3 {
		t.Fatalf("PeerDecisions(carol) = %d, want 3", n)
	}
	// Scrolled one back, the older-seqnum refusal is at the bottom and its
	// sentence is the one shown in full.
	out := PeerDetail(s, PeerView{TubID: carol, Offset: 1}, 160, 26, now0, PlainTheme())
	for _, want := range []string{"↓ 1 newer", "why: older-seqnum", "offer seqnum 8 is older than the broker's 9"} {
		if !strings.Contains(out, want) {
			t.Errorf("scrolled detail lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "offer seqnum 8 equals") {
		t.Errorf("scrolled detail still shows the newest decision:\n%s", out)
	}
	// An offset past the oldest stops at the oldest.
	out = PeerDetail(s, PeerView{TubID: carol, Offset: 99}, 160, 26, now0, PlainTheme())
	if !strings.Contains(out, "↓ 2 newer") || !strings.Contains(out, "why: new-incarnation") {
		t.Errorf("over-scrolled detail is not at the oldest decision:\n%s", out)
	}
}

func TestDecisionsGolden(t *testing.T) {
	s := fixture()
	th := DefaultTheme()
	cases := []struct {
		name string
		v    LogView
	}{
		{"all", LogView{}},
		{"peer_carol", LogView{FilterPeer: "7HKQ"}},
		{"rejects", LogView{FilterVerdict: "reject"}},
		{"scrolled", LogView{Offset: 3}},
		{"nomatch", LogView{FilterPeer: "zzzz"}},
	}
	for _, c := range cases {
		for _, sz := range sizes {
			name := "decisions_" + c.name + "_" + sizeName(sz.w, sz.h)
			got := RenderDecisions(s.Decisions, c.v, sz.w, sz.h, th)
			assertPane(t, name, got, sz.w, sz.h)
			golden(t, name, got)
		}
	}
	golden(t, "decisions_all_40x10", RenderDecisions(s.Decisions, LogView{}, 40, 10, th))
	// Scrolled in a pane shorter than the log: the newest lines are hidden.
	golden(t, "decisions_scrolled_120x8", RenderDecisions(s.Decisions, LogView{Offset: 2}, 120, 8, th))
}

func TestDecisionsScrollAndFilter(t *testing.T) {
	s := fixture()
	out := RenderDecisions(s.Decisions, LogView{}, 160, 6, PlainTheme())
	lines := strings.Split(out, "\n")
	if !strings.Contains(lines[5], "no-incarnation") {
		t.Errorf("newest decision is not on the bottom line: %q", lines[5])
	}
	out = RenderDecisions(s.Decisions, LogView{Offset: 1000}, 160, 6, PlainTheme())
	if !strings.Contains(strings.Split(out, "\n")[2], "master-accepted") {
		t.Errorf("over-scrolled log does not stop at the oldest decision:\n%s", out)
	}
	idx := FilterDecisions(s.Decisions, LogView{FilterPeer: "pcx5", FilterVerdict: "ACCEPT"})
	if fmt.Sprint(idx) != "[2 3]" {
		t.Errorf("alice's accepts = %v, want [2 3]", idx)
	}
	idx = FilterDecisions(s.Decisions, LogView{FilterVerdict: "reject"})
	for _, i := range idx {
		if s.Decisions[i].Accept {
			t.Errorf("reject filter kept accepted decision %d", s.Decisions[i].Seq)
		}
	}
	if len(idx) != 4 {
		t.Errorf("%d rejects, want 4", len(idx))
	}
}

func TestDecisionJSON(t *testing.T) {
	s := fixture()
	got, err := DecisionJSON(s.Decisions[6])
	if err != nil {
		t.Fatal(err)
	}
	want := `{"seq":7,"time":"2025-03-14T11:59:10.123Z","peer":"f3bnq6yl4x2mqh7cz5dvkw6rsu3ejtao","broker":9,"role":"slave",` +
		`"offer_incarnation":"9226ecb833fae91a","offer_last_connection":"c0ffee0123456789 2","offer_attempt_id":"",` +
		`"verdict":"reject","accept":false,"rule":"master-rejected","detail":"","error":"Duplicate connection"}`
	if string(got) != want {
		t.Errorf("DecisionJSON =\n%s\nwant\n%s", got, want)
	}
	if strings.Contains(string(got), "\n") {
		t.Error("DecisionJSON spans lines")
	}
	if _, err := DecisionJSON(snapshot.Decision{Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}); err == nil {
		t.Error("DecisionJSON accepted a time JSON cannot carry")
	}
}

func TestHelpGolden(t *testing.T) {
	groups := [][]KeyHelp{
		{{"j/↓", "down"}, {"k/↑", "up"}, {"g/G", "top / bottom"}, {"pgup/pgdn", "page"}},
		{{"tab", "next pane"}, {"enter", "peer detail"}, {"esc", "back"}, {"/", "filter"}, {"s/S", "sort column / reverse"}},
		{{"space", "pause / resume"}, {"r", "force reconnect"}, {"d", "drop broker (asks first)"}, {"p", "cycle policy"}, {"e", "export decisions"}},
		{{"?", "close help"}, {"q", "quit"}},
	}
	th := DefaultTheme()
	for _, sz := range append(sizes, struct{ w, h int }{40, 10}) {
		name := "help_" + sizeName(sz.w, sz.h)
		got := Help(groups, sz.w, sz.h, th)
		assertPane(t, name, got, sz.w, sz.h)
		golden(t, name, got)
	}
}

func TestTooSmallAndScreen(t *testing.T) {
	got := TooSmall(40, 10)
	assertPane(t, "toosmall", got, 40, 10)
	golden(t, "toosmall_40x10", got)
	for _, sz := range [][2]int{{1, 1}, {12, 2}, {59, 14}} {
		assertPane(t, "toosmall", TooSmall(sz[0], sz[1]), sz[0], sz[1])
	}

	s := fixture()
	th := DefaultTheme()
	for _, sz := range sizes {
		h := Header(s, true, false, 0, sz.w, now0, th)
		main := RenderBrokers(s.Brokers, BrokerTable{SortBy: ColState, Cursor: 1}, sz.w, sz.h-2, now0, th)
		got := Screen(h, main, " ? help  q quit", sz.w, sz.h)
		assertPane(t, "screen", got, sz.w, sz.h)
		golden(t, "screen_"+sizeName(sz.w, sz.h), got)
	}
	// A main pane that is too tall is cut; header and bottom survive.
	got = Screen("H", strings.Repeat("m\n", 30), "B", 10, 5)
	if got != "H         \nm         \nm         \nm         \nB         " {
		t.Errorf("Screen = %q", got)
	}
	got = Screen("H1\nH2", "m", "B1\nB2", 4, 3)
	if got != "H1  \nH2  \nB1  " {
		t.Errorf("Screen too short for its bars = %q", got)
	}
}

// TestNoLineTooWide renders every screen at several widths, with colour on,
// and checks no line spills past the width.
func TestNoLineTooWide(t *testing.T) {
	lipgloss.SetColorProfile(termenv.TrueColor)
	defer lipgloss.SetColorProfile(termenv.Ascii)
	s := fixture()
	many := manyBrokers(300)
	groups := [][]KeyHelp{{{"a-very-long-key-name", strings.Repeat("long description ", 20)}}, {{"x", "y"}}}
	for _, th := range []Theme{DefaultTheme(), PlainTheme()} {
		for _, w := range []int{40, 80, 120, 160} {
			for _, h := range []int{1, 3, 10, 24} {
				screens := map[string]string{
					"header":     Header(s, true, true, 99999, w, now0, th),
					"brokers":    RenderBrokers(s.Brokers, BrokerTable{SortBy: ColRemote, Cursor: 3}, w, h, now0, th),
					"many":       RenderBrokers(many, BrokerTable{Cursor: 150, Filter: "node"}, w, h, now0, th),
					"peer":       PeerDetail(s, PeerView{TubID: alice}, w, h, now0, th),
					"peer-bob":   PeerDetail(s, PeerView{TubID: bob}, w, h, now0, th),
					"decisions":  RenderDecisions(s.Decisions, LogView{}, w, h, th),
					"help":       Help(groups, w, h, th),
					"toosmall":   TooSmall(w, h),
					"screen":     Screen(Header(s, true, false, 0, w, now0, th), PeerDetail(s, PeerView{TubID: carol}, w, h, now0, th), "bar", w, h),
					"decisionsF": RenderDecisions(s.Decisions, LogView{FilterVerdict: "reject"}, w, h, th),
				}
				for name, out := range screens {
					for i, l := range strings.Split(out, "\n") {
						if lw := lipgloss.Width(l); lw > w {
							t.Errorf("%s at %dx%d: line %d is %d cells wide", name, w, h, i, lw)
						}
					}
					wantH := h
					if name == "header" {
						wantH = 1
					}
					assertPane(t, fmt.Sprintf("%s %dx%d", name, w, h), out, w, wantH)
				}
			}
		}
	}
}

func TestPlainThemeHasNoColour(t *testing.T) {
	lipgloss.SetColorProfile(termenv.TrueColor)
	defer lipgloss.SetColorProfile(termenv.Ascii)
	s := fixture()
	th := PlainTheme()
	out := Header(s, true, false, 0, 160, now0, th) +
		RenderBrokers(s.Brokers, BrokerTable{Cursor: 1}, 160, 20, now0, th) +
		RenderDecisions(s.Decisions, LogView{}, 160, 20, th) +
		PeerDetail(s, PeerView{TubID: carol}, 160, 48, now0, th)
	for _, sgr := range []string{"[38;", "[48;", "[3", "[4"} {
		// Foreground/background codes all start 3x/4x or 38;/48;.
		if strings.Contains(out, "\x1b"+sgr) {
			t.Errorf("plain theme emitted colour sequence %q", sgr)
		}
	}
	if !strings.Contains(out, "◐ suspect") || !strings.Contains(out, "✗ REJECT") {
		t.Error("plain theme lost the state glyphs")
	}
	colour := RenderBrokers(s.Brokers, BrokerTable{}, 160, 20, now0, DefaultTheme())
	if !strings.Contains(colour, "\x1b[") {
		t.Error("default theme under a colour profile emitted no styling at all")
	}
}

// TestRowStyles checks the cursor row and suspect rows are styled as whole
// rows, using a theme whose styles are easy to spot.
func TestRowStyles(t *testing.T) {
	lipgloss.SetColorProfile(termenv.TrueColor)
	defer lipgloss.SetColorProfile(termenv.Ascii)
	th := PlainTheme()
	th.Suspect = lipgloss.NewStyle().Italic(true)
	th.Selected = lipgloss.NewStyle().Reverse(true)
	s := fixture()
	// By age: #5 #3 #1 #6 #2(suspect) #4; cursor on #1.
	lines := strings.Split(RenderBrokers(s.Brokers, BrokerTable{SortBy: ColAge, Cursor: 2}, 120, 10, now0, th), "\n")
	if !strings.HasPrefix(lines[3], "\x1b[7m▶ pcx5blrk alice") {
		t.Errorf("cursor row is not reverse video from the marker on: %q", lines[3])
	}
	if !strings.HasPrefix(lines[5], "\x1b[3m  f3bnq6yl bob") || !strings.HasSuffix(lines[5], "\x1b[0m") {
		t.Errorf("suspect row is not styled as a whole: %q", lines[5])
	}
	if strings.Contains(lines[2], "\x1b[3m") {
		t.Errorf("a live row carries the suspect style: %q", lines[2])
	}
}

func TestHostileText(t *testing.T) {
	s := fixture()
	s.Brokers[0].Nickname = "evil\x1b]0;pwned\x07\nname"
	s.Decisions[4].Error = "bad\r\nthing\x1b[2J"
	s.Peers[0].Nickname = "\x1b[31mred"
	outs := []string{
		RenderBrokers(s.Brokers, BrokerTable{}, 160, 20, now0, PlainTheme()),
		RenderDecisions(s.Decisions, LogView{}, 160, 20, PlainTheme()),
		PeerDetail(s, PeerView{TubID: alice}, 160, 48, now0, PlainTheme()),
	}
	for i, out := range outs {
		if strings.ContainsAny(out, "\x1b\x07\r") {
			t.Errorf("screen %d passed control characters through", i)
		}
	}
}

func TestAgeShortUntil(t *testing.T) {
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
	if got := Age(now0, time.Time{}); got != "—" {
		t.Errorf("Age(zero) = %q", got)
	}
	if got := Until(now0, now0.Add(2300*time.Millisecond)); got != "in 2.3s" {
		t.Errorf("Until = %q", got)
	}
	if got := Until(now0, now0.Add(75*time.Second)); got != "in 1m15s" {
		t.Errorf("Until = %q", got)
	}
	if got := Until(now0, now0.Add(-time.Second)); got != "now" {
		t.Errorf("Until(past) = %q", got)
	}
	for _, c := range []struct {
		id   string
		n    int
		want string
	}{{alice, 8, "pcx5blrk"}, {"abc", 8, "abc"}, {"", 8, "—"}, {"héllo", 2, "hé"}, {alice, 0, ""}} {
		if got := Short(c.id, c.n); got != c.want {
			t.Errorf("Short(%q, %d) = %q, want %q", c.id, c.n, got, c.want)
		}
	}
}

// BenchmarkRenderBrokers10k is a full frame: filter (which every row passes,
// the worst case), sort on a time column, and a 160×48 window.
func BenchmarkRenderBrokers10k(b *testing.B) {
	rows := manyBrokers(10000)
	th := DefaultTheme()
	tb := BrokerTable{SortBy: ColLastRx, Desc: true, Filter: "node-0", Cursor: 4000, Offset: 3990}
	b.ReportAllocs()
	for b.Loop() {
		out := RenderBrokers(rows, tb, 160, 48, now0, th)
		if len(out) == 0 {
			b.Fatal("empty frame")
		}
	}
}

func BenchmarkRenderBrokers10kUnfiltered(b *testing.B) {
	rows := manyBrokers(10000)
	th := DefaultTheme()
	tb := BrokerTable{SortBy: ColPeer, Cursor: 9999}
	b.ReportAllocs()
	for b.Loop() {
		_ = RenderBrokers(rows, tb, 160, 48, now0, th)
	}
}
