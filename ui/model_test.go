package ui

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
	"go.uber.org/goleak"

	"github.com/tubscope/tubscope/tubclient/snapshot"
	"github.com/tubscope/tubscope/views"
)

func TestMain(m *testing.M) {
	lipgloss.SetColorProfile(termenv.Ascii)
	goleak.VerifyTestMain(m)
}

// harness drives a Model the way bubbletea would, running the commands a
// key returns (actions, exports, quit) synchronously.
type harness struct {
	t    *testing.T
	e    *fakeEngine
	m    Model
	quit bool
}

func newHarness(t *testing.T, e *fakeEngine, opts Options) *harness {
	t.Helper()
	h := &harness{t: t, e: e, m: New(e, opts)}
	h.m.clock = func() time.Time { return t0 }
	h.m.now = t0
	h.send(tea.WindowSizeMsg{Width: 120, Height: 40})
	return h
}

func demoEngine() *fakeEngine {
	e := newFakeEngine(testSnapshot(0, 9))
	e.clients, e.demo = []string{"alice", "bob", "carol"}, true
	return e
}

func keyMsg(k string) tea.KeyMsg {
	types := map[string]tea.KeyType{
		"enter": tea.KeyEnter, "esc": tea.KeyEscape, "tab": tea.KeyTab, "shift+tab": tea.KeyShiftTab,
		"up": tea.KeyUp, "down": tea.KeyDown, "pgup": tea.KeyPgUp, "pgdown": tea.KeyPgDown,
		"home": tea.KeyHome, "end": tea.KeyEnd, "ctrl+c": tea.KeyCtrlC, "backspace": tea.KeyBackspace,
	}
	if t, ok := types[k]; ok {
		return tea.KeyMsg{Type: t}
	}
	if k == " " {
		return tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
}

func (h *harness) send(msg tea.Msg) {
	h.t.Helper()
	next, cmd := h.m.Update(msg)
	h.m = next.(Model)
	h.run(cmd)
}

func (h *harness) run(cmd tea.Cmd) {
	h.t.Helper()
	if cmd == nil {
		return
	}
	switch msg := cmd().(type) {
	case tea.QuitMsg:
		h.quit = true
	case actionDoneMsg, exportDoneMsg, flashMsg:
		h.send(msg)
	}
}

// absorb feeds a drained batch without running the re-armed listener,
// which would wait for the next signal.
func (h *harness) absorb(msg tea.Msg) tea.Cmd {
	h.t.Helper()
	if _, ok := msg.(eventsMsg); !ok {
		h.t.Fatalf("listener returned %T, want eventsMsg", msg)
	}
	next, cmd := h.m.Update(msg)
	h.m = next.(Model)
	return cmd
}

func (h *harness) press(keys ...string) {
	h.t.Helper()
	for _, k := range keys {
		h.send(keyMsg(k))
	}
}

func (h *harness) typeText(s string) {
	h.t.Helper()
	for _, r := range s {
		h.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
	}
}

func (h *harness) selected() snapshot.Broker {
	h.t.Helper()
	b, ok := h.m.selectedBroker()
	if !ok {
		h.t.Fatal("no broker selected")
	}
	return b
}

func (h *harness) lastAction() Action {
	h.t.Helper()
	acts := h.e.recorded()
	if len(acts) == 0 {
		h.t.Fatal("no action recorded")
	}
	return acts[len(acts)-1]
}

func TestNavigationKeys(t *testing.T) {
	h := newHarness(t, newFakeEngine(testSnapshot(100, 500)), Options{})
	n := len(h.m.order)
	steps := []struct {
		key  string
		want int
	}{
		{"j", 1}, {"down", 2}, {"k", 1}, {"up", 0}, {"up", 0},
		{"G", n - 1}, {"g", 0}, {"end", n - 1}, {"home", 0},
		{"pgdown", h.m.brokerRowsVisible()}, {"pgup", 0},
	}
	for _, s := range steps {
		h.press(s.key)
		if h.m.table.Cursor != s.want {
			t.Fatalf("after %q cursor = %d, want %d", s.key, h.m.table.Cursor, s.want)
		}
		rows := h.m.brokerRowsVisible()
		if c, o := h.m.table.Cursor, h.m.table.Offset; c < o || c >= o+rows {
			t.Fatalf("after %q cursor %d is off screen (offset %d, %d rows)", s.key, c, o, rows)
		}
	}

	// In the log the same keys scroll back from the newest decision.
	h.press("tab")
	h.press("k", "k")
	if h.m.logView.Offset != 2 {
		t.Fatalf("log offset after k k = %d, want 2", h.m.logView.Offset)
	}
	h.press("j")
	if h.m.logView.Offset != 1 {
		t.Fatalf("log offset after j = %d, want 1", h.m.logView.Offset)
	}
	h.press("g")
	if h.m.logView.Offset != 499 {
		t.Fatalf("log offset after g = %d, want 499 (oldest)", h.m.logView.Offset)
	}
	h.press("G")
	if h.m.logView.Offset != 0 {
		t.Fatalf("log offset after G = %d, want 0 (newest)", h.m.logView.Offset)
	}
	h.press("pgup")
	if h.m.logView.Offset != views.DecisionRows(h.m.layout().log) {
		t.Fatalf("log offset after pgup = %d, want a page", h.m.logView.Offset)
	}
	h.press("pgdown")
	if h.m.logView.Offset != 0 {
		t.Fatalf("log offset after pgdown = %d, want 0", h.m.logView.Offset)
	}
	if h.m.table.Cursor != 0 {
		t.Fatalf("log keys moved the broker cursor to %d", h.m.table.Cursor)
	}
}

func TestTabSwitchesFocus(t *testing.T) {
	h := newHarness(t, newFakeEngine(testSnapshot(0, 3)), Options{})
	if h.m.focus != paneBrokers {
		t.Fatal("focus does not start on the broker table")
	}
	h.press("tab")
	if h.m.focus != paneLog || !strings.Contains(h.m.View(), "focus: log") {
		t.Fatal("tab did not move focus to the log")
	}
	h.press("shift+tab")
	if h.m.focus != paneBrokers {
		t.Fatal("shift+tab did not move focus back")
	}
}

func TestEnterOpensPeerDetailAndEscCloses(t *testing.T) {
	h := newHarness(t, newFakeEngine(testSnapshot(0, 3)), Options{})
	h.press("j")
	want := h.selected().PeerTubID
	h.press("enter")
	if h.m.mode != modeDetail || h.m.detail.TubID != want {
		t.Fatalf("enter: mode %v peer %q, want detail of %q", h.m.mode, h.m.detail.TubID, want)
	}
	if !strings.Contains(h.m.View(), "Peer "+want) {
		t.Fatalf("detail view does not show the peer:\n%s", h.m.View())
	}
	// r in the detail view reconnects the peer shown.
	h.press("r")
	if a := h.lastAction(); a.Kind != ActForceReconnect || a.Peer != want {
		t.Fatalf("r in detail = %+v", a)
	}
	h.press("esc")
	if h.m.mode != modeNormal {
		t.Fatal("esc did not leave the detail view")
	}
	if strings.Contains(h.m.View(), "Peer "+want) {
		t.Fatal("detail still drawn after esc")
	}
}

func TestPeerDetailScrollsItsDecisions(t *testing.T) {
	// 30 decisions over 3 peers: 10 about the first.
	h := newHarness(t, newFakeEngine(testSnapshot(0, 30)), Options{})
	peer := h.selected().PeerTubID
	h.press("enter", "k", "k")
	if h.m.detail.Offset != 2 {
		t.Fatalf("two ups scrolled the detail to %d, want 2", h.m.detail.Offset)
	}
	if v := h.m.View(); !strings.Contains(v, "↓ 2 newer") {
		t.Fatalf("detail does not say it is scrolled:\n%s", v)
	}
	if h.m.table.Cursor != 0 {
		t.Fatalf("scrolling the detail moved the hidden table cursor to %d", h.m.table.Cursor)
	}
	h.press("g")
	if want := views.PeerDecisions(h.m.snap.Decisions, peer) - 1; h.m.detail.Offset != want {
		t.Fatalf("g scrolled to %d, want the oldest (%d)", h.m.detail.Offset, want)
	}
	h.press("G")
	if h.m.detail.Offset != 0 {
		t.Fatalf("G left the detail at %d", h.m.detail.Offset)
	}
	// Leaving and reopening starts at the newest again.
	h.press("k", "esc", "enter")
	if h.m.detail.Offset != 0 {
		t.Fatalf("reopened detail kept offset %d", h.m.detail.Offset)
	}
}

func TestHelpToggles(t *testing.T) {
	h := newHarness(t, demoEngine(), Options{})
	h.press("?")
	if h.m.mode != modeHelp {
		t.Fatal("? did not open help")
	}
	v := h.m.View()
	for _, want := range []string{"Keys", "black-hole broker", "silent restart", "power cut"} {
		if !strings.Contains(v, want) {
			t.Fatalf("full help lacks %q:\n%s", want, v)
		}
	}
	// Action keys are inert while help is up.
	h.press("R")
	if len(h.e.recorded()) != 0 {
		t.Fatal("R acted while help was showing")
	}
	h.press("?")
	if h.m.mode != modeNormal {
		t.Fatal("? did not close help")
	}
	h.press("enter", "?", "esc")
	if h.m.mode != modeDetail {
		t.Fatalf("esc from help over detail went to %v", h.m.mode)
	}
}

func TestQuit(t *testing.T) {
	for _, k := range []string{"q", "ctrl+c"} {
		h := newHarness(t, newFakeEngine(testSnapshot(0, 0)), Options{})
		_, cmd := h.m.Update(keyMsg(k))
		if cmd == nil {
			t.Fatalf("%s returned no command", k)
		}
		if _, ok := cmd().(tea.QuitMsg); !ok {
			t.Fatalf("%s did not return tea.Quit", k)
		}
	}
	// ctrl+c quits even from inside a prompt.
	h := newHarness(t, newFakeEngine(testSnapshot(0, 0)), Options{})
	h.press("/", "ctrl+c")
	if !h.quit {
		t.Fatal("ctrl+c in the filter prompt did not quit")
	}
}

func TestBrokerActions(t *testing.T) {
	h := newHarness(t, newFakeEngine(testSnapshot(0, 3)), Options{})
	h.press("j") // bob
	b := h.selected()
	cases := []struct {
		key  string
		want Action
	}{
		{"r", Action{Kind: ActForceReconnect, Peer: b.PeerTubID}},
		{"x", Action{Kind: ActDrop, Broker: b.ID, Peer: b.PeerTubID}},
		{"b", Action{Kind: ActBlackHole, Broker: b.ID, Peer: b.PeerTubID}},
		{"R", Action{Kind: ActRestart}},
		{"S", Action{Kind: ActSilentRestart}},
		// Outside the demo, L stages S3 with the selected peer.
		{"L", Action{Kind: ActLoseNext, Peer: b.PeerTubID}},
		{"p", Action{Kind: ActCyclePolicy}},
	}
	for _, c := range cases {
		h.press(c.key)
		if got := h.lastAction(); got != c.want {
			t.Fatalf("%s: action %+v, want %+v", c.key, got, c.want)
		}
		if h.m.flash.text == "" || h.m.flash.err {
			t.Fatalf("%s: flash %+v, want a notice", c.key, h.m.flash)
		}
	}
	if !strings.Contains(h.m.View(), "policy change requested") {
		t.Fatalf("flash not drawn:\n%s", h.m.View())
	}
	h.press("S")
	if !strings.Contains(h.m.flash.text, "silent restart") {
		t.Fatalf("S flash %q does not say what it did", h.m.flash.text)
	}

	// Errors from Do flash as errors.
	h.e.doErr = errors.New("peer unknown")
	h.press("r")
	if !h.m.flash.err || !strings.Contains(h.m.flash.text, "peer unknown") {
		t.Fatalf("error flash = %+v", h.m.flash)
	}
	if !strings.Contains(h.m.View(), "✗ reconnect") {
		t.Fatal("error flash not drawn")
	}

	// Flashes fade on a later tick.
	h.send(tickMsg(t0.Add(flashFor + time.Second)))
	if h.m.flash.text != "" {
		t.Fatal("flash outlived its time")
	}
}

func TestActionsWithoutBrokers(t *testing.T) {
	h := newHarness(t, newFakeEngine(snapshot.Snapshot{}), Options{})
	h.press("r", "x", "b", "L", "enter")
	if n := len(h.e.recorded()); n != 0 {
		t.Fatalf("%d actions with no broker selected", n)
	}
	if !h.m.flash.err || h.m.mode != modeNormal {
		t.Fatalf("want an error flash and no detail view; flash %+v mode %v", h.m.flash, h.m.mode)
	}
}

func TestConnectPrompt(t *testing.T) {
	h := newHarness(t, newFakeEngine(testSnapshot(0, 0)), Options{})
	furl := "pb://abcdefgh@tcp:127.0.0.1:5000/swissnum"
	h.press("c")
	if h.m.mode != modeConnect {
		t.Fatal("c did not open the connect prompt")
	}
	h.typeText(furl)
	// Keys typed into the prompt are text, not commands.
	if len(h.e.recorded()) != 0 || h.quit {
		t.Fatal("typing in the prompt triggered actions")
	}
	if !strings.Contains(h.m.View(), "connect FURL:") {
		t.Fatal("prompt not drawn")
	}
	h.press("enter")
	if got := h.lastAction(); got != (Action{Kind: ActConnect, FURL: furl}) {
		t.Fatalf("connect action = %+v", got)
	}
	if h.m.mode != modeNormal {
		t.Fatal("prompt still open after enter")
	}

	h.press("c")
	h.typeText("pb://nothing")
	h.press("esc")
	if n := len(h.e.recorded()); n != 1 {
		t.Fatalf("esc still connected: %d actions", n)
	}
}

func TestDemoActions(t *testing.T) {
	h := newHarness(t, demoEngine(), Options{})
	// With no client picked, client actions aim at the selected broker's.
	h.press("j", "j") // carol
	h.press("P")
	if got := h.lastAction(); got != (Action{Kind: ActPowerCut, Client: 2}) {
		t.Fatalf("P on carol's broker = %+v", got)
	}
	h.press("2")
	if h.m.demoClient != 1 || !strings.Contains(h.m.View(), "demo client: bob") {
		t.Fatal("2 did not pick bob")
	}
	for _, c := range []struct {
		key  string
		kind ActionKind
	}{{"P", ActPowerCut}, {"F", ActFlap}, {"L", ActLoseDecision}, {"C", ActClone}} {
		h.press(c.key)
		if got := h.lastAction(); got != (Action{Kind: c.kind, Client: 1}) {
			t.Fatalf("%s = %+v, want %s on client 1", c.key, got, c.kind)
		}
	}
	h.press("T")
	if got := h.lastAction(); got.Kind != ActStorm {
		t.Fatalf("T = %+v", got)
	}
	// A client that does not exist is refused with a flash.
	before := len(h.e.recorded())
	h.press("7")
	if h.m.demoClient != 1 || !h.m.flash.err {
		t.Fatal("7 picked a missing client")
	}
	// Picking the same client again clears it.
	h.press("2")
	if h.m.demoClient != -1 {
		t.Fatal("2 twice did not clear the pick")
	}
	if len(h.e.recorded()) != before {
		t.Fatal("picking a client acted")
	}
}

func TestDemoKeysNeedDemo(t *testing.T) {
	h := newHarness(t, newFakeEngine(testSnapshot(0, 0)), Options{})
	h.press("1", "P", "T", "F", "C")
	if n := len(h.e.recorded()); n != 0 {
		t.Fatalf("demo keys acted without a demo engine: %d actions", n)
	}
	if strings.Contains(h.m.View(), "power cut") {
		t.Fatal("help bar offers demo keys without a demo")
	}
}

func TestDemoActionNeedsAClient(t *testing.T) {
	e := demoEngine()
	e.clients = []string{"zed"} // matches no broker
	h := newHarness(t, e, Options{})
	h.press("F")
	if len(e.recorded()) != 0 || !h.m.flash.err {
		t.Fatal("F without a client should flash an error and do nothing")
	}
}

func TestPauseCountsNewDecisions(t *testing.T) {
	s := testSnapshot(0, 5)
	e := newFakeEngine(s)
	h := newHarness(t, e, Options{})
	h.press(" ")
	if !h.m.paused {
		t.Fatal("space did not pause")
	}
	frozen := h.m.decisions()

	// Seven decisions arrive while paused.
	s2 := s
	s2.Decisions = makeDecisions(s, 12)
	s2.DecisionsTotal = 12
	e.setSnapshot(s2)
	e.feed.publish(make([]snapshot.Event, 7)...)
	h.absorb(listen(e.feed, drainMax, false, h.m.done)())

	if got := h.m.newSincePause(); got != 7 {
		t.Fatalf("new while paused = %d, want 7", got)
	}
	if !strings.Contains(h.m.View(), "PAUSED · 7 new") {
		t.Fatalf("header lacks PAUSED · 7 new:\n%s", h.m.View())
	}
	if !reflect.DeepEqual(h.m.decisions(), frozen) {
		t.Fatal("the log moved while paused")
	}
	if h.m.snap.DecisionsTotal != 12 {
		t.Fatal("the snapshot stopped refreshing while paused")
	}
	h.press(" ")
	if h.m.paused || len(h.m.decisions()) != 12 {
		t.Fatal("space did not resume with the new decisions")
	}
}

func TestExportWritesJSONLines(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, newFakeEngine(testSnapshot(0, 25)), Options{ExportDir: dir})
	h.press("e")
	path := filepath.Join(dir, exportName(t0))
	if h.m.flash.err || !strings.Contains(h.m.flash.text, path) {
		t.Fatalf("flash %+v does not name %s", h.m.flash, path)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("line %d is not one JSON object: %v", n+1, err)
		}
		if rec["seq"] != float64(n+1) {
			t.Fatalf("line %d has seq %v", n+1, rec["seq"])
		}
		n++
	}
	if n != 25 {
		t.Fatalf("%d lines, want 25", n)
	}

	// The same instant again would overwrite; it is refused instead.
	h.press("e")
	if !h.m.flash.err {
		t.Fatal("second export at the same instant did not report the clash")
	}
}

func TestExportDefaultsToCurrentDir(t *testing.T) {
	h := newHarness(t, newFakeEngine(testSnapshot(0, 0)), Options{})
	if h.m.exportDir() != "." {
		t.Fatalf("default export dir %q", h.m.exportDir())
	}
}

func TestBrokerFilter(t *testing.T) {
	h := newHarness(t, newFakeEngine(testSnapshot(20, 0)), Options{})
	h.press("/")
	h.typeText("bob")
	if len(h.m.order) != 1 || h.selected().Nickname != "bob" {
		t.Fatalf("filter bob shows %d rows", len(h.m.order))
	}
	h.press("enter")
	if h.m.mode != modeNormal || h.m.table.Filter != "bob" {
		t.Fatalf("enter: mode %v filter %q", h.m.mode, h.m.table.Filter)
	}
	// Actions aim at the filtered row.
	h.press("x")
	if a := h.lastAction(); a.Broker != 2 {
		t.Fatalf("x after filter dropped broker %d, want bob's (2)", a.Broker)
	}
	// esc in a fresh prompt puts the previous filter back.
	h.press("/", "backspace", "backspace", "backspace")
	if h.m.table.Filter != "" {
		t.Fatalf("filter while editing = %q", h.m.table.Filter)
	}
	h.press("esc")
	if h.m.table.Filter != "bob" || len(h.m.order) != 1 {
		t.Fatalf("esc restored filter %q", h.m.table.Filter)
	}
}

func TestLogFilters(t *testing.T) {
	h := newHarness(t, newFakeEngine(testSnapshot(0, 30)), Options{})
	h.press("tab", "/")
	h.typeText("bbb")
	h.press("enter")
	if h.m.logView.FilterPeer != "bbb" || h.m.table.Filter != "" {
		t.Fatalf("log filter %q, broker filter %q", h.m.logView.FilterPeer, h.m.table.Filter)
	}
	if got := len(h.m.visibleDecisions()); got != 10 {
		t.Fatalf("peer filter shows %d decisions, want 10", got)
	}
	for _, want := range []string{"accept", "reject", ""} {
		h.press("v")
		if h.m.logView.FilterVerdict != want {
			t.Fatalf("v: verdict filter %q, want %q", h.m.logView.FilterVerdict, want)
		}
	}
	h.press("v")
	for _, i := range h.m.visibleDecisions() {
		if !h.m.snap.Decisions[i].Accept {
			t.Fatal("accept filter shows a reject")
		}
	}
}

func TestSortKeys(t *testing.T) {
	h := newHarness(t, newFakeEngine(testSnapshot(10, 0)), Options{})
	h.press("j")
	sel := h.selected().ID
	h.press("o")
	if h.m.table.SortBy != views.Columns[1] {
		t.Fatalf("o: sort by %v, want %v", h.m.table.SortBy, views.Columns[1])
	}
	if h.selected().ID != sel {
		t.Fatal("resorting lost the selected broker")
	}
	for range len(views.Columns) - 1 {
		h.press("o")
	}
	if h.m.table.SortBy != views.Columns[0] {
		t.Fatal("o does not cycle back to the first column")
	}
	first := h.m.snap.Brokers[h.m.order[0]].ID
	h.press("O")
	if !h.m.table.Desc || h.m.snap.Brokers[h.m.order[len(h.m.order)-1]].ID != first {
		t.Fatal("O did not reverse the order")
	}
	if h.selected().ID != sel {
		t.Fatal("reversing lost the selected broker")
	}
}

func TestSelectionFollowsBrokerAcrossSnapshots(t *testing.T) {
	s := testSnapshot(0, 0)
	e := newFakeEngine(s)
	h := newHarness(t, e, Options{})
	h.press("j", "j") // carol
	s2 := s
	s2.Brokers = append([]snapshot.Broker{}, s.Brokers[1:]...) // alice gone
	e.setSnapshot(s2)
	h.send(tickMsg(t0.Add(time.Second)))
	if h.selected().Nickname != "carol" {
		t.Fatalf("selection moved to %q", h.selected().Nickname)
	}
}

func TestTerminalSizes(t *testing.T) {
	h := newHarness(t, newFakeEngine(testSnapshot(5, 10)), Options{})
	h.send(tea.WindowSizeMsg{Width: 50, Height: 10})
	if !strings.Contains(h.m.View(), "too small") {
		t.Fatalf("50×10 view:\n%s", h.m.View())
	}
	for _, size := range [][2]int{{60, 15}, {79, 24}, {120, 40}, {200, 60}} {
		h.send(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		v := h.m.View()
		lines := strings.Split(v, "\n")
		if len(lines) != size[1] {
			t.Fatalf("%v: %d lines", size, len(lines))
		}
		for i, l := range lines {
			if w := lipgloss.Width(l); w > size[0] {
				t.Fatalf("%v: line %d is %d wide: %q", size, i, w, l)
			}
		}
		for _, want := range []string{"aaaaaaaa", "Decision", "LIVE", "quit", "help"} {
			if !strings.Contains(v, want) {
				t.Fatalf("%v: view lacks %q:\n%s", size, want, v)
			}
		}
	}
}

func TestTickTakesOneSnapshot(t *testing.T) {
	e := newFakeEngine(testSnapshot(0, 0))
	h := newHarness(t, e, Options{})
	before := e.snapshotCount()
	now := t0.Add(5 * time.Second)
	next, cmd := h.m.Update(tickMsg(now))
	h.m = next.(Model)
	if e.snapshotCount() != before+1 || !h.m.now.Equal(now) || cmd == nil {
		t.Fatalf("tick: %d snapshots, now %v, cmd %v", e.snapshotCount()-before, h.m.now, cmd)
	}
}
