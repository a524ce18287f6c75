package ui

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
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

// utf8Env is a UTF-8 locale without NO_COLOR.
func utf8Env(k string) string {
	if k == "LANG" {
		return "C.UTF-8"
	}
	return ""
}

// harness drives a Model the way bubbletea would, running the commands a
// key returns (actions, exports, quit) synchronously.
type harness struct {
	t    *testing.T
	e    []*fakeEngine
	m    Model
	quit bool
}

func newHarness(t *testing.T, e *fakeEngine, opts Options) *harness {
	t.Helper()
	return newMulti(t, []*fakeEngine{e}, opts, utf8Env)
}

func newMulti(t *testing.T, es []*fakeEngine, opts Options, env func(string) string) *harness {
	t.Helper()
	engines := make([]Engine, len(es))
	for i, e := range es {
		engines[i] = e
	}
	h := &harness{t: t, e: es, m: newModel(engines, opts, env)}
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
		"right": tea.KeyRight,
	}
	if t, ok := types[k]; ok {
		return tea.KeyMsg{Type: t}
	}
	if k == " " {
		return tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}}
	}
	if strings.HasPrefix(k, "alt+") {
		return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k[4:]), Alt: true}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
}

func (h *harness) send(msg tea.Msg) {
	h.t.Helper()
	next, cmd := h.m.Update(msg)
	h.m = next.(Model)
	h.run(cmd)
}

// run executes a command's messages, batches included.
func (h *harness) run(cmd tea.Cmd) {
	h.t.Helper()
	if cmd == nil {
		return
	}
	switch msg := cmd().(type) {
	case tea.QuitMsg:
		h.quit = true
	case tea.BatchMsg:
		for _, c := range msg {
			h.run(c)
		}
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

// tick delivers a tick at t0+d, loading every source's snapshot.
func (h *harness) tick(d time.Duration) {
	h.t.Helper()
	h.send(tickMsg(t0.Add(d)))
}

func (h *harness) selected() *views.PeerRow {
	h.t.Helper()
	r, ok := h.m.src().selectedRow()
	if !ok {
		h.t.Fatal("no row selected")
	}
	return r
}

func (h *harness) nick() string {
	h.t.Helper()
	r := h.selected()
	if r.Peer == nil {
		return ""
	}
	return r.Peer.Nickname
}

func (h *harness) actions() []Action { return h.e[h.m.active].recorded() }

func (h *harness) lastAction() Action {
	h.t.Helper()
	acts := h.actions()
	if len(acts) == 0 {
		h.t.Fatal("no action recorded")
	}
	return acts[len(acts)-1]
}

func TestNavigationKeys(t *testing.T) {
	h := newHarness(t, newFakeEngine(testSnapshot(100, 500)), Options{})
	n := len(h.m.src().rows)
	if h.m.src().table.Cursor != 0 {
		t.Fatal("the cursor does not start on row 1")
	}
	steps := []struct {
		key  string
		want int
	}{
		{"j", 1}, {"down", 2}, {"k", 1}, {"up", 0}, {"up", 0},
		{"G", n - 1}, {"g", 0}, {"end", n - 1}, {"home", 0},
		{"pgdown", views.TableRows(h.m.layout().table)}, {"pgup", 0},
	}
	for _, s := range steps {
		h.press(s.key)
		tb := h.m.src().table
		if tb.Cursor != s.want {
			t.Fatalf("after %q cursor = %d, want %d", s.key, tb.Cursor, s.want)
		}
		if rows := views.TableRows(h.m.layout().table); tb.Cursor < tb.Offset || tb.Cursor >= tb.Offset+rows {
			t.Fatalf("after %q cursor %d is off screen (offset %d, %d rows)", s.key, tb.Cursor, tb.Offset, rows)
		}
	}
}

// Bubbletea v1 delivers keys read in one write as one message; each rune
// is a keypress.
func TestKeyBurstsAreSplit(t *testing.T) {
	h := newHarness(t, newFakeEngine(testSnapshot(20, 0)), Options{})
	h.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("jjj")})
	if c := h.m.src().table.Cursor; c != 3 {
		t.Fatalf("jjj in one message moved to row %d, want 3", c)
	}
	h.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("kk")})
	if c := h.m.src().table.Cursor; c != 1 {
		t.Fatalf("kk moved to row %d, want 1", c)
	}
	// A burst that opens a prompt types the rest into it.
	h.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("/bob")})
	if h.m.mode != modeFilter || h.m.src().table.Filter != "bob" {
		t.Fatalf("/bob in one message: mode %v filter %q", h.m.mode, h.m.src().table.Filter)
	}
	h.press("esc")
	// A paste is text, never keys.
	h.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("xxx"), Paste: true})
	if len(h.actions()) != 0 || h.m.mode != modeNormal {
		t.Fatal("a paste acted as keys")
	}
	// A burst ending in q quits after moving.
	h.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("jq")})
	if !h.quit || h.m.src().table.Cursor != 2 {
		t.Fatalf("jq: quit %v, cursor %d", h.quit, h.m.src().table.Cursor)
	}
}

// Until the operator moves it, the cursor stays on row 1 as peers
// arrive; once moved it stays on its peer across re-sorts, drops and
// peers arriving above it.
func TestCursorAnchoring(t *testing.T) {
	s := testSnapshot(0, 0)
	e := newFakeEngine(s)
	h := newHarness(t, e, Options{})
	arrive := clone(s)
	arrive.Peers = append(arrive.Peers, snapshot.Peer{TubID: tubid("aaron"), Nickname: "aaron", State: snapshot.PeerConnecting})
	sortPeers(arrive)
	e.publish(arrive)
	h.tick(time.Second)
	if h.m.src().table.Cursor != 0 || h.nick() != "aaron" {
		t.Fatalf("unmoved cursor left row 1 for %q", h.nick())
	}

	h.press("j", "j", "j") // carol
	if h.nick() != "carol" {
		t.Fatalf("on %q, want carol", h.nick())
	}
	more := clone(arrive)
	more.Peers = append(more.Peers, snapshot.Peer{TubID: tubid("abby"), Nickname: "abby"})
	sortPeers(more)
	e.publish(more)
	h.tick(2 * time.Second)
	if h.nick() != "carol" {
		t.Fatalf("a peer arriving above moved the cursor to %q", h.nick())
	}
	h.press("o", "o", "O")
	if h.nick() != "carol" {
		t.Fatalf("re-sorting moved the cursor to %q", h.nick())
	}
	// x drops carol's broker: her row stays (now idle) and so does the cursor.
	h.press("x", "y")
	if a := h.lastAction(); a.Kind != ActDrop || a.Broker != 3 {
		t.Fatalf("x on carol = %+v", a)
	}
	dropped := clone(more)
	dropped.Brokers = dropped.Brokers[:2]
	for i := range dropped.Peers {
		if dropped.Peers[i].Nickname == "carol" {
			dropped.Peers[i].State, dropped.Peers[i].BrokerID = snapshot.PeerIdle, 0
		}
	}
	e.publish(dropped)
	h.tick(3 * time.Second)
	if h.nick() != "carol" {
		t.Fatalf("after x the cursor moved to %q", h.nick())
	}
	// A peer that vanishes leaves the cursor where it was.
	at := h.m.src().table.Cursor
	gone := clone(dropped)
	var keep []snapshot.Peer
	for _, p := range gone.Peers {
		if p.Nickname != "carol" {
			keep = append(keep, p)
		}
	}
	gone.Peers = keep
	e.publish(gone)
	h.tick(4 * time.Second)
	if c := h.m.src().table.Cursor; c != min(at, len(h.m.src().rows)-1) {
		t.Fatalf("after carol vanished the cursor jumped from %d to %d", at, c)
	}
}

func TestTabCyclesPanes(t *testing.T) {
	h := newHarness(t, newFakeEngine(testSnapshot(0, 3)), Options{})
	for _, want := range []pane{paneLog, paneEvents, paneTable} {
		h.press("tab")
		if h.m.focus != want {
			t.Fatalf("tab: focus %v, want %v", h.m.focus, want)
		}
	}
	h.press("shift+tab")
	if h.m.focus != paneEvents {
		t.Fatal("shift+tab did not go back")
	}
}

func TestEnterOpensPeerDetailAndEscCloses(t *testing.T) {
	h := newHarness(t, newFakeEngine(testSnapshot(0, 3)), Options{})
	h.press("j")
	want := h.selected().TubID()
	h.press("enter")
	if h.m.mode != modeDetail || h.m.src().detail.TubID != want {
		t.Fatalf("enter: mode %v peer %q, want detail of %q", h.m.mode, h.m.src().detail.TubID, want)
	}
	if v := h.m.View(); !strings.Contains(v, "Peer "+want) || !strings.Contains(v, "why: ") {
		t.Fatalf("detail view does not show the peer and its why: line:\n%s", v)
	}
	h.press("r")
	if a := h.lastAction(); a.Kind != ActForceReconnect || a.Peer != want {
		t.Fatalf("r in detail = %+v", a)
	}
	h.press("esc")
	if h.m.mode != modeNormal || strings.Contains(h.m.View(), "Peer "+want) {
		t.Fatal("esc did not leave the detail view")
	}
}

func TestPeerDetailScrollsItsDecisions(t *testing.T) {
	h := newHarness(t, newFakeEngine(testSnapshot(0, 30)), Options{})
	peer := h.selected().TubID()
	h.press("enter", "k", "k")
	if h.m.src().detail.Offset != 2 || !strings.Contains(h.m.View(), "↓ 2 newer") {
		t.Fatalf("two ups scrolled the detail to %d", h.m.src().detail.Offset)
	}
	h.press("g")
	if want := views.PeerDecisions(h.m.src().snap.Decisions, peer) - 1; h.m.src().detail.Offset != want {
		t.Fatalf("g scrolled to %d, want the oldest (%d)", h.m.src().detail.Offset, want)
	}
	h.press("G", "k", "esc", "enter")
	if h.m.src().detail.Offset != 0 {
		t.Fatalf("reopened detail kept offset %d", h.m.src().detail.Offset)
	}
}

// lockedOut is a snapshot with a peer the master refuses, and one whose
// address refuses: rows without a broker.
func lockedOut() *snapshot.Snapshot {
	s := testSnapshot(0, 3)
	s.Peers = append(s.Peers,
		snapshot.Peer{TubID: tubid("erin"), Nickname: "erin", State: snapshot.PeerLockedOut, Attempts: 7, Rejects: 6,
			LockedOutSince: t0.Add(-42 * time.Second), NextAttempt: t0.Add(3 * time.Second), LastError: "the master refused our offer: Duplicate connection"},
		snapshot.Peer{TubID: tubid("frank"), Nickname: "frank", State: snapshot.PeerRefused, Attempts: 4,
			NextAttempt: t0.Add(6 * time.Second), LastError: "dial tcp 10.0.0.6:9999: connect: connection refused"})
	sortPeers(s)
	return s
}

func TestActionsWorkOnRowsWithoutABroker(t *testing.T) {
	h := newHarness(t, newFakeEngine(lockedOut()), Options{})
	for h.nick() != "erin" {
		h.press("j")
	}
	v := h.m.View()
	for _, want := range []string{"⊘ locked-out", "0:42", "in 3.0s", "✕ refused", "connection refused · dial"} {
		if !strings.Contains(v, want) {
			t.Fatalf("view lacks %q:\n%s", want, v)
		}
	}
	h.press("r")
	if a := h.lastAction(); a != (Action{Kind: ActForceReconnect, Peer: tubid("erin")}) {
		t.Fatalf("r on a locked-out peer = %+v", a)
	}
	h.press("enter")
	if h.m.mode != modeDetail || !strings.Contains(h.m.View(), "locked out for 0:42") {
		t.Fatalf("enter on a locked-out peer:\n%s", h.m.View())
	}
	h.press("esc", "x")
	if n := len(h.actions()); n != 1 || !h.m.flash.err || !strings.Contains(h.m.flash.text, "erin has no connection") {
		t.Fatalf("x without a broker: %d actions, flash %+v", n, h.m.flash)
	}
}

// Outside the demo, destructive keys wait for y; any other key cancels.
func TestDestructiveKeysAskFirst(t *testing.T) {
	h := newHarness(t, newFakeEngine(testSnapshot(0, 3)), Options{})
	h.press("j") // bob
	cases := []struct {
		key  string
		want Action
	}{
		{"x", Action{Kind: ActDrop, Broker: 2, Peer: tubid("bob")}},
		{"b", Action{Kind: ActBlackHole, Broker: 2, Peer: tubid("bob")}},
		{"R", Action{Kind: ActRestart}},
		{"S", Action{Kind: ActSilentRestart}},
		{"L", Action{Kind: ActLoseNext, Peer: tubid("bob")}},
	}
	for _, c := range cases {
		before := len(h.actions())
		h.press(c.key)
		if h.m.mode != modeConfirm || len(h.actions()) != before {
			t.Fatalf("%s acted without asking (mode %v)", c.key, h.m.mode)
		}
		if v := h.m.View(); !strings.Contains(v, "y confirms") {
			t.Fatalf("%s: no question on screen:\n%s", c.key, v)
		}
		h.press("n")
		if len(h.actions()) != before || !strings.Contains(h.m.flash.text, "cancelled") {
			t.Fatalf("%s then n acted", c.key)
		}
		h.press(c.key, "y")
		if got := h.lastAction(); got != c.want {
			t.Fatalf("%s y: %+v, want %+v", c.key, got, c.want)
		}
		if h.m.mode != modeNormal || h.m.flash.err {
			t.Fatalf("%s y: mode %v flash %+v", c.key, h.m.mode, h.m.flash)
		}
	}
	// r and p do not break anything: no question.
	h.press("r")
	if a := h.lastAction(); a.Kind != ActForceReconnect {
		t.Fatalf("r = %+v", a)
	}
	h.press("p")
	if a := h.lastAction(); a.Kind != ActCyclePolicy || !strings.Contains(h.m.flash.text, "policy → handle-old: as foolscap") {
		t.Fatalf("p = %+v, flash %q", a, h.m.flash.text)
	}
	// Errors from Do flash as errors.
	h.e[0].doErr = errors.New("peer unknown")
	h.press("r")
	if !h.m.flash.err || !strings.Contains(h.m.View(), "✗ connect now to bobaaaaa failed: peer unknown") {
		t.Fatalf("error flash:\n%s", h.m.View())
	}
	h.tick(flashFor + time.Second)
	if h.m.flash.text != "" {
		t.Fatal("flash outlived its time")
	}
}

func TestDemoActionsDoNotAsk(t *testing.T) {
	h := newHarness(t, demoEngine(), Options{})
	h.press("j", "j") // carol
	h.press("P")
	if got := h.lastAction(); got != (Action{Kind: ActPowerCut, Client: 2}) {
		t.Fatalf("P on carol's row = %+v", got)
	}
	h.press("2")
	if !strings.Contains(h.m.View(), "demo client: bob") {
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
	h.press("T", "x")
	if acts := h.actions(); acts[len(acts)-2].Kind != ActStorm || acts[len(acts)-1].Kind != ActDrop {
		t.Fatalf("T x in the demo = %+v", acts[len(acts)-2:])
	}
	before := len(h.actions())
	h.press("7")
	if h.m.demoClient != 1 || !h.m.flash.err || len(h.actions()) != before {
		t.Fatal("7 picked a missing client")
	}
	h.press("2")
	if h.m.demoClient != -1 {
		t.Fatal("2 twice did not clear the pick")
	}
}

func TestDemoKeysNeedDemo(t *testing.T) {
	h := newHarness(t, newFakeEngine(testSnapshot(0, 0)), Options{})
	h.press("1", "P", "T", "F", "C")
	if n := len(h.actions()); n != 0 || h.m.mode != modeNormal {
		t.Fatalf("demo keys acted without a demo engine: %d actions", n)
	}
}

func TestReadOnlyRefusesEveryAction(t *testing.T) {
	h := newHarness(t, demoEngine(), Options{ReadOnly: true})
	for _, k := range []string{"r", "x", "b", "R", "S", "p", "c", "P", "T", "F", "L", "C"} {
		h.press(k)
		if h.m.mode != modeNormal || len(h.actions()) != 0 {
			t.Fatalf("%s acted or prompted under --readonly (mode %v)", k, h.m.mode)
		}
		if !h.m.flash.err || !strings.Contains(h.m.flash.text, "read-only") {
			t.Fatalf("%s: flash %+v", k, h.m.flash)
		}
	}
	// Looking still works.
	h.press("j", "enter")
	if h.m.mode != modeDetail {
		t.Fatal("read-only blocked the detail view")
	}
}

func TestSourceReadOnlySaysWhy(t *testing.T) {
	s := testSnapshot(0, 0)
	s.Source = snapshot.Source{Name: "tahoe", Kind: snapshot.SourceWatched, ReadOnly: "a watched tub: tubscope only reads its logport"}
	h := newHarness(t, newFakeEngine(s), Options{})
	h.press("r")
	if len(h.actions()) != 0 || !strings.Contains(h.m.flash.text, "only reads its logport") {
		t.Fatalf("r on a watched tub: flash %q", h.m.flash.text)
	}
}

func twoSources() (*fakeEngine, *fakeEngine) {
	a := newFakeEngine(testSnapshot(0, 3))
	b := newFakeEngine(lockedOut())
	b.snap.Source = snapshot.Source{Name: "tahoe", Kind: snapshot.SourceWatched, Status: "logport lost: retrying in 4s"}
	b.snap.Policy = "first-wins"
	return a, b
}

func TestSourceSwitcher(t *testing.T) {
	a, b := twoSources()
	h := newMulti(t, []*fakeEngine{a, b}, Options{}, utf8Env)
	v := h.m.View()
	if !strings.Contains(v, "1 queen: 3 peers") || !strings.Contains(v, "2 tahoe: 5 peers") || !strings.Contains(v, "logport lost") {
		t.Fatalf("fleet line missing:\n%s", v)
	}
	h.press("j")
	h.press("]")
	if h.m.active != 1 || !strings.Contains(h.m.View(), "[tahoe]") {
		t.Fatalf("] did not switch to tahoe:\n%s", h.m.View())
	}
	if h.m.src().table.Cursor != 0 {
		t.Fatal("each source keeps its own cursor")
	}
	h.press("r")
	if len(b.recorded()) != 1 || len(a.recorded()) != 0 {
		t.Fatal("r went to the wrong source")
	}
	h.press("[")
	if h.m.active != 0 || h.m.src().table.Cursor != 1 {
		t.Fatalf("[ back: source %d cursor %d", h.m.active, h.m.src().table.Cursor)
	}
	h.press("alt+2")
	if h.m.active != 1 {
		t.Fatal("alt+2 did not pick the second source")
	}
	h.press("]")
	if h.m.active != 0 {
		t.Fatal("] does not wrap round")
	}
	// With one source the switcher keys are not bound.
	one := newHarness(t, newFakeEngine(testSnapshot(0, 0)), Options{})
	one.press("]")
	if one.m.active != 0 || one.m.flash.text != "" {
		t.Fatal("] acted with one source")
	}
}

func TestCompareView(t *testing.T) {
	a, b := twoSources()
	h := newMulti(t, []*fakeEngine{a, b}, Options{Compare: true}, utf8Env)
	v := h.m.View()
	if !strings.Contains(v, "first-wins: locked out 0:42 and counting") || !strings.Contains(v, "foolscap: 3 of 3 peers live") {
		t.Fatalf("compare view:\n%s", v)
	}
	h.press("w")
	if h.m.compare || !strings.Contains(h.m.View(), "Decision log") {
		t.Fatal("w did not leave the compare view")
	}
}

func replaySource() *fakeEngine {
	s := testSnapshot(0, 3)
	s.Source = snapshot.Source{Name: "incident", Kind: snapshot.SourceReplay, ReadOnly: "a replay of saved log files",
		Replay: &snapshot.ReplayCursor{Start: t0.Add(-time.Minute), End: t0, At: t0.Add(-30 * time.Second), Speed: 2, Playing: true,
			Trigger: t0.Add(-10 * time.Second), Applied: 10, Read: 20, Done: true}}
	return newFakeEngine(s)
}

func TestReplayKeys(t *testing.T) {
	h := newHarness(t, replaySource(), Options{ReadOnly: true})
	if v := h.m.View(); !strings.Contains(v, "replay 11:59:30.000 50%") || !strings.Contains(v, "REPLAY ×2") {
		t.Fatalf("header lacks the replay cursor:\n%s", v)
	}
	for k, kind := range map[string]ActionKind{">": ActReplayToggle, ".": ActReplayStep, "+": ActReplaySpeedUp, "-": ActReplaySpeedDown, "!": ActReplayTrigger} {
		h.press(k)
		if got := h.lastAction(); got.Kind != kind {
			t.Fatalf("%s = %+v, want %s", k, got, kind)
		}
	}
	// Connection actions say why not.
	n := len(h.actions())
	h.press("r")
	if len(h.actions()) != n || !h.m.flash.err {
		t.Fatal("r acted on a replay")
	}
	// Replay keys mean nothing on a live tub.
	live := newHarness(t, newFakeEngine(testSnapshot(0, 0)), Options{})
	live.press(">", ".", "!")
	if len(live.actions()) != 0 {
		t.Fatal("replay keys acted on a live tub")
	}
}

// The log's cursor is a decision seq: new rows arriving below do not move
// the lines in view, and G follows the newest again.
func TestLogCursorStaysPut(t *testing.T) {
	s := testSnapshot(0, 60)
	e := newFakeEngine(s)
	h := newHarness(t, e, Options{})
	h.press("tab", "k", "k", "k")
	cur := h.m.src().log.Cursor
	if cur != 57 {
		t.Fatalf("three ups from the newest: cursor seq %d, want 57", cur)
	}
	before := logPane(h.m.View())
	more := clone(s)
	more.Decisions = makeDecisions(s, 90)
	more.DecisionsTotal = 90
	e.publish(more)
	h.tick(time.Second)
	after := logPane(h.m.View())
	if before[2:] == "" || strings.Join(strings.Split(after, "\n")[1:], "\n") != strings.Join(strings.Split(before, "\n")[1:], "\n") {
		t.Fatalf("the lines in view moved:\n%s\n---\n%s", before, after)
	}
	if !strings.Contains(after, "↓ 30 new below") {
		t.Fatalf("no count of what is below:\n%s", after)
	}
	h.press("G")
	if h.m.src().log.Cursor != 0 || !strings.Contains(logPane(h.m.View()), "decision 90") {
		t.Fatal("G did not follow the newest")
	}
}

// logPane is the log's part of a frame: from its title to the events pane.
func logPane(frame string) string {
	i := strings.Index(frame, "Decision log")
	j := strings.Index(frame, "Events")
	if i < 0 || j < i {
		return ""
	}
	return frame[i:j]
}

func TestLogExpandFilterSearchJump(t *testing.T) {
	s := testSnapshot(0, 12)
	// A run of five alike decisions groups into one line.
	for i := 5; i < 10; i++ {
		s.Decisions[i].Rule, s.Decisions[i].Accept = "new-incarnation", true
	}
	h := newHarness(t, newFakeEngine(s), Options{})
	h.press("tab")
	if v := h.m.View(); !strings.Contains(v, "▸ 5× in") {
		t.Fatalf("no group line:\n%s", v)
	}
	// Onto the group (lines: 5 singles, the group, 2 singles) and open it.
	h.press("k", "k", "enter")
	if v := h.m.View(); !strings.Contains(v, "▾ 5× in") || strings.Count(v, "decision 6") == 0 {
		t.Fatalf("enter on the group did not open it:\n%s", v)
	}
	h.press("enter")
	h.press("G", "enter")
	if v := h.m.View(); !strings.Contains(v, "why:") || !strings.Contains(v, "offer: my-incarnation offinc") {
		t.Fatalf("enter on a decision did not expand it:\n%s", v)
	}
	h.press("enter")
	// Rule filter cycles through the rules in the log.
	h.press("f")
	if r := h.m.src().log.Rule; r != "never-decided" {
		t.Fatalf("f: rule %q", r)
	}
	for _, l := range h.m.src().lines {
		if d := h.m.src().snap.Decisions[l.First]; d.Rule != "never-decided" {
			t.Fatalf("rule filter shows %s", d.Rule)
		}
	}
	h.press("f", "f", "f")
	if h.m.src().log.Rule != "" {
		t.Fatal("f does not come back to all rules")
	}
	h.press("v", "v")
	if h.m.src().log.Verdict != "reject" {
		t.Fatal("v v is not rejects only")
	}
	h.press("v")
	// Text filter.
	h.press("/")
	h.typeText("decision 1")
	h.press("enter")
	if n := len(h.m.src().lines); n != 4 { // 1, 10, 11, 12
		t.Fatalf("text filter shows %d lines", n)
	}
	h.press("/", "backspace", "backspace", "backspace", "backspace", "backspace", "backspace", "backspace", "backspace", "backspace", "backspace", "enter")
	// Search and n/N.
	h.press("s")
	h.typeText("decision 3")
	h.press("enter")
	l, _ := h.m.logLine()
	if d := h.m.src().snap.Decisions[l.First]; d.Detail != "decision 3" {
		t.Fatalf("search landed on %q", d.Detail)
	}
	h.press("n")
	if l2, _ := h.m.logLine(); l2.Seq != l.Seq {
		t.Fatalf("n with one match moved to %d", l2.Seq)
	}
	// Jump to the line's peer in the table.
	want := h.m.src().snap.Decisions[l.First].PeerTubID
	h.press("l")
	if h.m.focus != paneTable || h.selected().TubID() != want {
		t.Fatalf("l did not select the line's peer")
	}
}

func TestEventsPaneAndStatusLine(t *testing.T) {
	e := newFakeEngine(testSnapshot(0, 0))
	h := newHarness(t, e, Options{})
	evs := []snapshot.Event{
		{Seq: 1, Kind: snapshot.KindFault, Time: t0, PeerTubID: tubid("carol"), Message: "demo: carol lost power"},
		{Seq: 2, Kind: snapshot.KindCall, Time: t0},
		{Seq: 3, Kind: snapshot.KindBrokerDetached, Time: t0.Add(time.Second), BrokerID: 3, PeerTubID: tubid("carol"), Close: snapshot.CloseReplaced,
			Reason: "replaced by a new connection (new-incarnation)"},
		{Seq: 4, Kind: snapshot.KindCall, Time: t0},
	}
	h.absorb(eventsMsg{events: evs})
	v := h.m.View()
	if !strings.Contains(v, "12:00:01 carol broker #3 closed (replaced): replaced by a new connection") {
		t.Fatalf("status line does not lead with the newest important event:\n%s", v)
	}
	if !strings.Contains(v, "fault") || strings.Contains(v, " ping ") {
		t.Fatalf("events pane:\n%s", v)
	}
	// At 80 columns the status line ends in an ellipsis when cut.
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	lines := strings.Split(h.m.View(), "\n")
	if status := lines[len(lines)-2]; !strings.HasSuffix(strings.TrimRight(status, " "), "…") {
		t.Fatalf("cut status line without an ellipsis: %q", status)
	}
	// Scrolled back, arriving events do not move the pane.
	h.send(tea.WindowSizeMsg{Width: 120, Height: 40})
	h.press("tab", "tab", "k")
	h.absorb(eventsMsg{events: []snapshot.Event{{Seq: 5, Kind: snapshot.KindFault, Time: t0, Message: "later"}}})
	if h.m.src().eventView.Offset != 2 {
		t.Fatalf("events offset %d after a new event, want 2", h.m.src().eventView.Offset)
	}
}

func TestPauseFreezesTheLog(t *testing.T) {
	s := testSnapshot(0, 5)
	e := newFakeEngine(s)
	h := newHarness(t, e, Options{})
	h.press(" ")
	if !h.m.src().paused {
		t.Fatal("space did not pause")
	}
	more := clone(s)
	more.Decisions = makeDecisions(s, 12)
	more.DecisionsTotal = 12
	e.publish(more)
	h.tick(3 * time.Second)
	v := h.m.View()
	if !strings.Contains(v, "PAUSED · 7 new") || !strings.Contains(v, "frozen 3s ago") {
		t.Fatalf("header while paused:\n%s", v)
	}
	if strings.Contains(v, "decision 12") {
		t.Fatal("the log moved while paused")
	}
	h.press(" ")
	if h.m.src().paused || !strings.Contains(h.m.View(), "decision 12") {
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
		n++
	}
	if n != 25 {
		t.Fatalf("%d lines, want 25", n)
	}
	h.press("e")
	if !h.m.flash.err {
		t.Fatal("second export at the same instant did not report the clash")
	}
	// Without a directory, never the working tree.
	if d := newHarness(t, newFakeEngine(testSnapshot(0, 0)), Options{}).m.exportDir(); d != os.TempDir() {
		t.Fatalf("default export dir %q", d)
	}
}

func TestConnectPrompt(t *testing.T) {
	h := newHarness(t, newFakeEngine(testSnapshot(0, 0)), Options{})
	furl := "pb://abcdefgh@tcp:127.0.0.1:5000/swissnum"
	h.press("c")
	h.typeText(furl)
	if len(h.actions()) != 0 || h.quit || !strings.Contains(h.m.View(), "connect FURL:") {
		t.Fatal("typing in the prompt triggered actions")
	}
	h.press("enter")
	if got := h.lastAction(); got != (Action{Kind: ActConnect, FURL: furl}) {
		t.Fatalf("connect action = %+v", got)
	}
	h.press("c")
	h.typeText("pb://nothing")
	h.press("esc")
	if n := len(h.actions()); n != 1 {
		t.Fatalf("esc still connected: %d actions", n)
	}
}

func TestTableFilter(t *testing.T) {
	h := newHarness(t, newFakeEngine(testSnapshot(20, 0)), Options{})
	h.press("/")
	h.typeText("bob")
	if len(h.m.src().rows) != 1 || h.nick() != "bob" {
		t.Fatalf("filter bob shows %d rows", len(h.m.src().rows))
	}
	h.press("enter", "x", "y")
	if a := h.lastAction(); a.Broker != 2 {
		t.Fatalf("x after filter dropped broker %d, want bob's (2)", a.Broker)
	}
	h.press("/", "backspace", "backspace", "backspace")
	if h.m.src().table.Filter != "" {
		t.Fatalf("filter while editing = %q", h.m.src().table.Filter)
	}
	h.press("esc")
	if h.m.src().table.Filter != "bob" {
		t.Fatalf("esc restored filter %q", h.m.src().table.Filter)
	}
}

func TestHelpHasLegendAndPolicies(t *testing.T) {
	h := newHarness(t, demoEngine(), Options{})
	h.send(tea.WindowSizeMsg{Width: 120, Height: 60})
	h.press("?")
	v := h.m.View()
	for _, want := range []string{"Keys", "black-hole broker", "power cut", "Glyphs", "⊘", "locked out: the master refuses our offers"} {
		if !strings.Contains(v, want) {
			t.Fatalf("help lacks %q:\n%s", want, v)
		}
	}
	h.press("G")
	v = h.m.View()
	for _, want := range []string{"Policies", "▶ foolscap", "first-wins", "the first connection always wins"} {
		if !strings.Contains(v, want) {
			t.Fatalf("help scrolled to the end lacks %q:\n%s", want, v)
		}
	}
	h.press("R")
	if len(h.actions()) != 0 {
		t.Fatal("R acted while help was showing")
	}
	h.press("?")
	if h.m.mode != modeNormal {
		t.Fatal("? did not close help")
	}
}

func TestQuit(t *testing.T) {
	for _, k := range []string{"q", "ctrl+c"} {
		h := newHarness(t, newFakeEngine(testSnapshot(0, 0)), Options{})
		h.press(k)
		if !h.quit {
			t.Fatalf("%s did not quit", k)
		}
	}
	h := newHarness(t, newFakeEngine(testSnapshot(0, 0)), Options{})
	h.press("/", "ctrl+c")
	if !h.quit {
		t.Fatal("ctrl+c in the filter prompt did not quit")
	}
}

func TestSortKeys(t *testing.T) {
	h := newHarness(t, newFakeEngine(testSnapshot(10, 0)), Options{})
	h.press("o")
	if h.m.src().table.SortBy != views.Columns[1] {
		t.Fatalf("o: sort by %v", h.m.src().table.SortBy)
	}
	for range len(views.Columns) - 1 {
		h.press("o")
	}
	if h.m.src().table.SortBy != views.Columns[0] {
		t.Fatal("o does not cycle back to the first column")
	}
	first := h.m.src().rows[0].Key()
	h.press("O")
	if rows := h.m.src().rows; !h.m.src().table.Desc || rows[len(rows)-1].Key() != first {
		t.Fatal("O did not reverse the order")
	}
}

// A tick loads the snapshot pointer; the rows are rebuilt only when the
// version changes.
func TestRowsRebuiltOnlyOnANewVersion(t *testing.T) {
	e := newFakeEngine(testSnapshot(5, 0))
	h := newHarness(t, e, Options{})
	rows := h.m.src().rows
	h.tick(time.Second)
	if &h.m.src().rows[0] != &rows[0] {
		t.Fatal("a tick without a new version rebuilt the rows")
	}
	e.publish(clone(e.current()))
	h.tick(2 * time.Second)
	if &h.m.src().rows[0] == &rows[0] {
		t.Fatal("a new version did not rebuild the rows")
	}
}

func TestASCIIAndColourModes(t *testing.T) {
	lang := func(v string) func(string) string {
		return func(k string) string {
			if k == "LANG" {
				return v
			}
			return ""
		}
	}
	for _, c := range []struct {
		env   func(string) string
		opts  Options
		ascii bool
	}{
		{lang("C"), Options{}, true},
		{lang(""), Options{}, true},
		{lang("en_GB.UTF-8"), Options{}, false},
		{lang("de_DE.utf8"), Options{}, false},
		{lang("en_GB.UTF-8"), Options{ASCII: true}, true},
		{func(k string) string {
			return map[string]string{"LC_ALL": "C", "LANG": "en_US.UTF-8"}[k]
		}, Options{}, true},
	} {
		h := newMulti(t, []*fakeEngine{newFakeEngine(lockedOut())}, c.opts, c.env)
		v := h.m.View()
		if got := !strings.ContainsFunc(v, func(r rune) bool { return r > 127 }); got != c.ascii {
			t.Errorf("env LANG=%q opts %+v: ASCII %v, want %v", c.env("LANG"), c.opts, got, c.ascii)
		}
		if c.ascii && !strings.Contains(v, "! locked-out") {
			t.Errorf("ASCII view lacks the locked-out glyph:\n%s", v)
		}
	}
	if p, ok := noColorProfile(func(string) string { return "1" }, true); !ok || p != termenv.ANSI {
		t.Error("NO_COLOR on a terminal should keep attributes (ANSI profile)")
	}
	if _, ok := noColorProfile(func(string) string { return "" }, true); ok {
		t.Error("without NO_COLOR the profile is left alone")
	}
	h := newMulti(t, []*fakeEngine{newFakeEngine(testSnapshot(0, 0))}, Options{}, func(k string) string {
		return map[string]string{"NO_COLOR": "1", "LANG": "C.UTF-8"}[k]
	})
	if h.m.theme.Selected.GetReverse() != true || h.m.theme.Live.GetForeground() != (lipgloss.NoColor{}) {
		t.Error("NO_COLOR should pick the plain theme with a reverse-video cursor")
	}
}

func TestMouse(t *testing.T) {
	h := newHarness(t, newFakeEngine(testSnapshot(30, 20)), Options{Mouse: true})
	l := h.m.layout()
	h.send(tea.MouseMsg{X: 5, Y: l.tableY + 1 + 4, Button: tea.MouseButtonLeft, Action: tea.MouseActionPress})
	if c := h.m.src().table.Cursor; c != 4 {
		t.Fatalf("click on the fifth row: cursor %d", c)
	}
	h.send(tea.MouseMsg{X: 5, Y: l.tableY + 2, Button: tea.MouseButtonWheelDown})
	if c := h.m.src().table.Cursor; c != 7 {
		t.Fatalf("wheel down: cursor %d, want 7", c)
	}
	h.send(tea.MouseMsg{X: 5, Y: l.logY + 3, Button: tea.MouseButtonLeft, Action: tea.MouseActionPress})
	if h.m.focus != paneLog || h.m.src().log.Cursor == 0 {
		t.Fatalf("click in the log: focus %v cursor %d", h.m.focus, h.m.src().log.Cursor)
	}
}

func TestStormStripToggle(t *testing.T) {
	h := newHarness(t, newFakeEngine(testSnapshot(0, 0)), Options{})
	if !h.m.showStorm || !strings.Contains(h.m.View(), "offers/s") {
		t.Fatal("a 40-line terminal shows the storm strip")
	}
	h.press("a")
	if strings.Contains(h.m.View(), "offers/s") {
		t.Fatal("a did not hide the storm strip")
	}
	h.send(tea.WindowSizeMsg{Width: 120, Height: 50})
	if h.m.showStorm {
		t.Fatal("a resize undid the operator's choice")
	}
}

func TestTerminalSizes(t *testing.T) {
	h := newHarness(t, newFakeEngine(lockedOut()), Options{})
	h.send(tea.WindowSizeMsg{Width: 50, Height: 10})
	if !strings.Contains(h.m.View(), "too small") {
		t.Fatalf("50×10 view:\n%s", h.m.View())
	}
	for _, size := range [][2]int{{60, 15}, {80, 24}, {120, 40}, {200, 60}} {
		h.send(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		for _, md := range []string{"", "enter", "?"} {
			if md != "" {
				h.press(md)
			}
			v := h.m.View()
			lines := strings.Split(v, "\n")
			if len(lines) != size[1] {
				t.Fatalf("%v %q: %d lines", size, md, len(lines))
			}
			for i, l := range lines {
				if w := lipgloss.Width(l); w > size[0] {
					t.Fatalf("%v %q: line %d is %d wide: %q", size, md, i, w, l)
				}
			}
			if md == "" {
				for _, want := range []string{"alice", "Decision", "LIVE", "policy foolscap", "quit"} {
					if !strings.Contains(v, want) {
						t.Fatalf("%v: view lacks %q:\n%s", size, want, v)
					}
				}
			}
			if md != "" {
				h.press("esc")
			}
		}
	}
}
