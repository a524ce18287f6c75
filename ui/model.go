// Package ui is tubscope's interactive inspector: a bubbletea program that
// renders Engines' snapshots through package views and turns keys into
// engine actions. All bubbletea-specific code lives here.
package ui

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/tubscope/tubscope/views"
)

// Options configures the inspector.
type Options struct {
	// ExportDir is where `e` writes the decision log; "" means the
	// system's temporary directory, never the working tree.
	ExportDir string
	Title     string // the terminal window's title; "" means "tubscope"
	// ReadOnly (k9s's --readonly) refuses every action on a tub with a
	// flash saying so; looking, filtering, exporting and replay keys work.
	ReadOnly bool
	// ASCII draws ASCII stand-ins for every glyph. It is also on when the
	// locale (LC_ALL, else LC_CTYPE, else LANG) is not UTF-8.
	ASCII bool
	// Mouse turns on wheel scrolling and click selection. Off by default
	// so the terminal's own text selection keeps working.
	Mouse bool
	// Compare starts in the side-by-side view of every source.
	Compare bool
}

const flashFor = 4 * time.Second

type pane int

const (
	paneTable pane = iota
	paneLog
	paneEvents
)

type mode int

const (
	modeNormal  mode = iota
	modeDetail       // peer detail of the selected row's peer
	modeHelp         // full help over whatever was showing
	modeFilter       // typing a filter for the focused pane
	modeSearch       // typing a search for the log
	modeConnect      // typing a FURL to dial
	modeConfirm      // a destructive action waits for y
)

type flash struct {
	text  string
	err   bool
	until time.Time
}

// Model is the inspector's bubbletea model.
type Model struct {
	sources []source
	active  int
	done    chan struct{} // closed when the program ends; unparks the listeners
	opts    Options
	keys    keyMap
	help    help.Model
	input   textinput.Model
	clock   func() time.Time
	theme   views.Theme
	ascii   bool

	width, height int
	now           time.Time

	focus      pane
	mode       mode
	under      mode // the mode help, a prompt or a confirmation returns to
	helpOffset int
	showStorm  bool
	stormSet   bool // the operator toggled the storm strip; until then it follows the height
	compare    bool

	pending      Action // the action a confirmation waits on
	pendingText  string
	policyNext   string // the policy p asked for, named when the engine answers
	demoClient   int    // -1 when none was picked with 1–9
	filterBefore string // restored when a filter prompt is cancelled
	flash        flash
	quitting     bool
}

// New builds the inspector over one or more sources, the first shown
// first. It subscribes to each source's events at once so nothing that
// happens before the first frame is missed.
func New(sources []Engine, opts Options) Model {
	return newModel(sources, opts, os.Getenv)
}

func newModel(engines []Engine, opts Options, getenv func(string) string) Model {
	if opts.Title == "" {
		opts.Title = "tubscope"
	}
	in := textinput.New()
	in.Prompt = ""
	in.CharLimit = 4096
	in.Cursor.SetMode(cursor.CursorStatic)
	m := Model{
		done:       make(chan struct{}),
		opts:       opts,
		keys:       defaultKeys(),
		help:       help.New(),
		input:      in,
		clock:      time.Now,
		width:      80,
		height:     24,
		demoClient: -1,
		theme:      views.DefaultTheme(),
		ascii:      opts.ASCII || !utf8Locale(getenv),
		compare:    opts.Compare && len(engines) > 1,
	}
	if getenv("NO_COLOR") != "" {
		m.theme = views.PlainTheme()
	}
	m.now = m.clock()
	for _, e := range engines {
		s := source{engine: e, feed: e.Subscribe(feedCapacity)}
		s.demoClients, s.demo = e.Demo()
		s.load()
		m.sources = append(m.sources, s)
	}
	if len(m.sources) == 0 {
		m.sources = []source{{engine: nullEngine{}, feed: nullEngine{}.Subscribe(0), snap: empty}}
	}
	m.src().ensureRows()
	m.src().ensureLines()
	return m
}

// utf8Locale reads the locale the way the C library does: LC_ALL, else
// LC_CTYPE, else LANG; unset means the C locale, which is not UTF-8.
func utf8Locale(getenv func(string) string) bool {
	for _, v := range []string{"LC_ALL", "LC_CTYPE", "LANG"} {
		if l := getenv(v); l != "" {
			l = strings.ToLower(l)
			return strings.Contains(l, "utf-8") || strings.Contains(l, "utf8")
		}
	}
	return false
}

// src is the active source.
func (m *Model) src() *source { return &m.sources[m.active] }

// Init starts the feed listeners and the tick.
func (m Model) Init() tea.Cmd {
	cmds := []tea.Cmd{tick(), tea.SetWindowTitle(m.opts.Title)}
	for i := range m.sources {
		cmds = append(cmds, listen(i, m.sources[i].feed, drainMax, false, m.done))
	}
	return tea.Batch(cmds...)
}

// Update handles one message.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.help.Width = msg.Width
		if !m.stormSet {
			m.showStorm = msg.Height >= 36
		}
		m.clampCursor()
		return m, nil
	case eventsMsg:
		return m, m.absorb(msg)
	case feedClosedMsg:
		if msg.src >= 0 && msg.src < len(m.sources) {
			m.sources[msg.src].feedClosed = true
		}
		return m, nil
	case tickMsg:
		m.now = time.Time(msg)
		for i := range m.sources {
			s := &m.sources[i]
			s.demoClients, s.demo = s.engine.Demo()
			if s.load() && i == m.active {
				m.rebuild()
			}
		}
		if !m.flash.until.IsZero() && m.now.After(m.flash.until) {
			m.flash = flash{}
		}
		return m, tick()
	case actionDoneMsg:
		m.actionDone(msg)
		return m, nil
	case exportDoneMsg:
		if msg.err != nil {
			m.setFlash("export failed: "+msg.err.Error(), true)
		} else {
			m.setFlash(fmt.Sprintf("exported %d decisions to %s", msg.count, msg.path), false)
		}
		return m, nil
	case flashMsg:
		m.setFlash(msg.text, msg.err)
		return m, nil
	case tea.MouseMsg:
		return m.handleMouse(msg)
	case tea.KeyMsg:
		return m.handleKeys(msg)
	}
	return m, nil
}

// absorb folds one drained batch into its source: one snapshot load per
// batch, whatever its size, then re-arms that source's listener.
func (m *Model) absorb(msg eventsMsg) tea.Cmd {
	if msg.src < 0 || msg.src >= len(m.sources) {
		return nil
	}
	s := &m.sources[msg.src]
	s.dropped = msg.dropped
	if n := len(msg.events); n > 0 {
		s.eventsSeen += uint64(n)
		s.addEvents(msg.events)
		if s.load() && msg.src == m.active {
			m.rebuild()
		}
	}
	return listen(msg.src, s.feed, drainMax, msg.more, m.done)
}

// rebuild brings the active source's caches up to date and the cursor
// onto its row.
func (m *Model) rebuild() {
	s := m.src()
	s.ensureRows()
	s.ensureLines()
	m.clampCursor()
}

func (m *Model) setFlash(text string, isErr bool) {
	m.flash = flash{text: text, err: isErr, until: m.now.Add(flashFor)}
}

func (m Model) flags() keyFlags {
	s := &m.sources[m.active]
	return keyFlags{demo: s.demo, replay: s.snap.Source.Replay != nil || s.snap.Source.Kind == "replay", sources: len(m.sources) > 1}
}

func (m Model) context() context {
	switch m.mode {
	case modeDetail:
		return ctxDetail
	case modeHelp:
		return ctxHelp
	case modeFilter, modeConnect, modeSearch:
		return ctxPrompt
	case modeConfirm:
		return ctxConfirm
	}
	if m.compare {
		return ctxCompare
	}
	switch m.focus {
	case paneLog:
		return ctxLog
	case paneEvents:
		return ctxEvents
	}
	return ctxTable
}

// live reports whether b is bound in the current context, so a key only
// does what help says it does.
func (m Model) live(msg tea.KeyMsg, b key.Binding) bool {
	if !key.Matches(msg, b) {
		return false
	}
	for _, g := range m.keys.groups(m.context(), m.flags()) {
		for _, lb := range g {
			if sameBinding(lb, b) {
				return true
			}
		}
	}
	return false
}

func sameBinding(a, b key.Binding) bool {
	return a.Help() == b.Help() && strings.Join(a.Keys(), "\x00") == strings.Join(b.Keys(), "\x00")
}

// handleKeys splits a multi-rune key message into single keys. Bubbletea
// v1 delivers "jjj" read in one go (a held key, a paste over ssh, mosh) as
// one message; each rune is a keypress. Prompts take the text whole.
func (m Model) handleKeys(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	if msg.Type != tea.KeyRunes || len(msg.Runes) <= 1 || msg.Paste || m.inPrompt() {
		return m.handleKey(msg)
	}
	var cmds []tea.Cmd
	var next tea.Model = m
	for i, r := range msg.Runes {
		nm := next.(Model)
		if nm.inPrompt() {
			// A key of the burst opened a prompt: the rest is typed into it.
			var cmd tea.Cmd
			next, cmd = nm.handleKey(tea.KeyMsg{Type: tea.KeyRunes, Runes: msg.Runes[i:], Alt: msg.Alt})
			return next, tea.Batch(append(cmds, cmd)...)
		}
		one := tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}, Alt: msg.Alt}
		if r == ' ' {
			one.Type = tea.KeySpace
		}
		var cmd tea.Cmd
		next, cmd = nm.handleKey(one)
		cmds = append(cmds, cmd)
		if next.(Model).quitting {
			break
		}
	}
	return next, tea.Batch(cmds...)
}

func (m Model) inPrompt() bool {
	return m.mode == modeFilter || m.mode == modeConnect || m.mode == modeSearch
}

func (m Model) handleKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	if msg.Type == tea.KeyCtrlC {
		return m.quit()
	}
	switch m.mode {
	case modeFilter, modeConnect, modeSearch:
		return m.handlePrompt(msg)
	case modeConfirm:
		return m.handleConfirm(msg)
	case modeHelp:
		switch {
		case m.live(msg, m.keys.Back), m.live(msg, m.keys.Help):
			m.mode = m.under
		case m.live(msg, m.keys.Quit):
			return m.quit()
		case m.live(msg, m.keys.Up):
			m.helpOffset = max(m.helpOffset-1, 0)
		case m.live(msg, m.keys.Down):
			m.helpOffset = min(m.helpOffset+1, m.helpMax())
		case m.live(msg, m.keys.PageUp), m.live(msg, m.keys.Top):
			m.helpOffset = 0
		case m.live(msg, m.keys.PageDown):
			m.helpOffset = min(m.helpOffset+m.height-3, m.helpMax())
		case m.live(msg, m.keys.Bottom):
			m.helpOffset = m.helpMax()
		}
		return m, nil
	}

	k := m.keys
	s := m.src()
	switch {
	case m.live(msg, k.Quit):
		return m.quit()
	case m.live(msg, k.Help):
		m.under, m.mode, m.helpOffset = m.mode, modeHelp, 0
	case m.live(msg, k.Back):
		m.mode, s.detail = modeNormal, views.PeerView{}
	case m.live(msg, k.Focus):
		m.cycleFocus(msg.String() == "shift+tab")
	case m.live(msg, k.Enter):
		if r, ok := s.selectedRow(); ok && r.TubID() != "" {
			m.mode, s.detail = modeDetail, views.PeerView{TubID: r.TubID()}
		} else {
			m.setFlash("no peer selected: this inbound connection has not said who it is yet", true)
		}
	case m.live(msg, k.Expand):
		m.toggleOpen()
	case m.live(msg, k.JumpPeer):
		m.jumpToPeer()
	case m.live(msg, k.Up):
		m.move(-1)
	case m.live(msg, k.Down):
		m.move(1)
	case m.live(msg, k.PageUp):
		m.move(-m.pageSize())
	case m.live(msg, k.PageDown):
		m.move(m.pageSize())
	case m.live(msg, k.Top):
		m.move(-1 << 30)
	case m.live(msg, k.Bottom):
		m.move(1 << 30)
	case m.live(msg, k.Filter):
		return m, m.openPrompt(modeFilter)
	case m.live(msg, k.Search):
		return m, m.openPrompt(modeSearch)
	case m.live(msg, k.NextMatch):
		m.findMatch(1)
	case m.live(msg, k.PrevMatch):
		m.findMatch(-1)
	case m.live(msg, k.Sort):
		s.table.SortBy = nextColumn(s.table.SortBy)
		m.rebuild()
	case m.live(msg, k.Reverse):
		s.table.Desc = !s.table.Desc
		m.rebuild()
	case m.live(msg, k.Verdict):
		s.log.Verdict = nextVerdict(s.log.Verdict)
		m.logFiltersChanged()
	case m.live(msg, k.RuleFilter):
		s.log.Rule = nextRule(s.log.Rule, s.rules)
		m.logFiltersChanged()
		if s.log.Rule == "" {
			m.setFlash("rule filter off", false)
		} else {
			m.setFlash("only rule "+s.log.Rule+" (f for the next)", false)
		}
	case m.live(msg, k.Fold):
		s.log.NoGroup = !s.log.NoGroup
		m.rebuild()
	case m.live(msg, k.Pause):
		m.togglePause()
	case m.live(msg, k.Export):
		return m, exportDecisions(m.exportDir(), m.now, s.snap.Decisions)
	case m.live(msg, k.StormStrip):
		m.showStorm, m.stormSet = !m.showStorm, true
		m.clampCursor()
	case m.live(msg, k.Compare):
		m.compare = !m.compare
	case m.live(msg, k.PrevSource):
		m.switchSource(m.active - 1)
	case m.live(msg, k.NextSource):
		m.switchSource(m.active + 1)
	case m.live(msg, k.PickSource):
		m.switchSource(int(msg.Runes[0] - '1'))
	case m.live(msg, k.Connect):
		if err := m.refuse(ActConnect); err != "" {
			m.setFlash(err, true)
			return m, nil
		}
		return m, m.openPrompt(modeConnect)
	default:
		return m, m.actionForKey(msg)
	}
	return m, nil
}

func (m Model) quit() (tea.Model, tea.Cmd) {
	m.quitting = true
	return m, tea.Quit
}

func (m *Model) cycleFocus(back bool) {
	n := 3
	step := 1
	if back {
		step = n - 1
	}
	m.focus = pane((int(m.focus) + step) % n)
}

func (m *Model) switchSource(i int) {
	if i < 0 || i >= len(m.sources) {
		if len(m.sources) > 1 {
			i = (i + len(m.sources)) % len(m.sources)
		} else {
			return
		}
	}
	m.active = i
	m.mode = modeNormal
	m.demoClient = -1
	m.rebuild()
	s := m.src()
	name := s.snap.Source.Name
	if name == "" {
		name = fmt.Sprintf("source %d", i+1)
	}
	m.setFlash(fmt.Sprintf("showing %s (%d of %d)", name, i+1, len(m.sources)), false)
}

// move shifts the focused pane's cursor by delta rows, clamped.
func (m *Model) move(delta int) {
	s := m.src()
	switch {
	case m.mode == modeDetail:
		// Like the log, the detail's decisions scroll back from the newest.
		n := views.PeerDecisions(s.snap.Decisions, s.detail.TubID)
		s.detail.Offset = clamp(s.detail.Offset-delta, 0, max(0, n-1))
	case m.focus == paneLog:
		m.moveLog(delta)
	case m.focus == paneEvents:
		s.eventView.Offset = clamp(s.eventView.Offset-delta, 0, max(0, len(s.events)-1))
	default:
		if len(s.rows) == 0 {
			return
		}
		s.table.Cursor = clamp(s.table.Cursor+delta, 0, len(s.rows)-1)
		s.anchor = s.rows[s.table.Cursor].Key()
		m.clampCursor()
	}
}

// moveLog moves the log cursor by lines. Positions are decision seqs, so
// the lines in view stay put as new ones arrive; reaching the newest line
// follows it again.
func (m *Model) moveLog(delta int) {
	s := m.src()
	s.ensureLines()
	if len(s.lines) == 0 {
		return
	}
	l := m.layout()
	ds := s.logSnap().Decisions
	cur, top := views.LogWindow(ds, s.lines, s.log, m.width, l.log)
	next := clamp(cur+delta, 0, len(s.lines)-1)
	if next == len(s.lines)-1 {
		s.log.Cursor, s.log.Top = 0, 0
		return
	}
	s.log.Top = s.lines[top].Seq
	s.log.Cursor = s.lines[next].Seq
	_, top = views.LogWindow(ds, s.lines, s.log, m.width, l.log)
	s.log.Top = s.lines[top].Seq
}

// logLine is the line under the log cursor.
func (m *Model) logLine() (views.LogLine, bool) {
	s := m.src()
	s.ensureLines()
	cur, _ := views.LogWindow(s.logSnap().Decisions, s.lines, s.log, m.width, m.layout().log)
	if cur < 0 {
		return views.LogLine{}, false
	}
	return s.lines[cur], true
}

func (m *Model) toggleOpen() {
	s := m.src()
	l, ok := m.logLine()
	if !ok {
		return
	}
	if s.log.Open == nil {
		s.log.Open = map[uint64]bool{}
	}
	if k := views.OpenKey(l); s.log.Open[k] {
		delete(s.log.Open, k)
	} else {
		s.log.Open[k] = true
	}
	// Keep the cursor on this line even if it was following the newest.
	if s.log.Cursor == 0 {
		s.log.Cursor = l.Seq
	}
	s.openGen++
	m.rebuild()
	m.moveLog(0)
}

func (m *Model) jumpToPeer() {
	s := m.src()
	l, ok := m.logLine()
	if !ok {
		return
	}
	tubid := s.logSnap().Decisions[l.Last].PeerTubID
	for i := range s.rows {
		if !s.rows[i].Sub && s.rows[i].TubID() == tubid {
			s.table.Cursor, s.anchor = i, s.rows[i].Key()
			m.focus = paneTable
			m.clampCursor()
			m.setFlash("peer "+s.names(tubid)+": enter for its detail and history", false)
			return
		}
	}
	m.setFlash("peer "+views.Short(tubid, 8)+" is not in the table (filtered out or forgotten)", true)
}

// findMatch moves the log cursor to the next (dir 1) or previous line
// holding the search term, wrapping round.
func (m *Model) findMatch(dir int) {
	s := m.src()
	term := strings.ToLower(strings.TrimSpace(s.log.Search))
	if term == "" {
		m.setFlash("no search: s starts one", true)
		return
	}
	cur, ok := m.logLineIndex()
	if !ok {
		return
	}
	ds := s.logSnap().Decisions
	for step := 1; step <= len(s.lines); step++ {
		i := ((cur+dir*step)%len(s.lines) + len(s.lines)) % len(s.lines)
		if views.LineMatches(ds, s.lines[i], term) {
			m.moveLog(i - cur)
			return
		}
	}
	m.setFlash(fmt.Sprintf("%q: no match in the log", s.log.Search), true)
}

func (m *Model) logLineIndex() (int, bool) {
	s := m.src()
	s.ensureLines()
	cur, _ := views.LogWindow(s.logSnap().Decisions, s.lines, s.log, m.width, m.layout().log)
	return cur, cur >= 0
}

func (m *Model) logFiltersChanged() {
	s := m.src()
	s.log.Cursor, s.log.Top = 0, 0
	m.rebuild()
}

// clampCursor keeps the table cursor on a row and the row on screen.
func (m *Model) clampCursor() {
	s := m.src()
	s.table = s.table.Clamp(len(s.rows), m.layout().table)
}

func (m Model) pageSize() int {
	l := m.layout()
	switch {
	case m.mode == modeDetail:
		return detailPage
	case m.focus == paneLog:
		return max(1, views.LogRows(l.log))
	case m.focus == paneEvents:
		return max(1, l.log-1)
	}
	return max(1, views.TableRows(l.table))
}

// detailPage is how far page keys scroll the peer detail's decisions.
const detailPage = 5

func (m *Model) togglePause() {
	s := m.src()
	if s.paused {
		s.paused, s.frozen, s.pausedTotal = false, nil, 0
		m.rebuild()
		return
	}
	s.paused = true
	s.frozen = s.snap
	s.pausedAt = m.now
	s.pausedTotal = s.snap.DecisionsTotal
}

// newSincePause counts decisions logged since the log was paused.
func (m Model) newSincePause() int {
	s := &m.sources[m.active]
	if !s.paused || s.snap.DecisionsTotal < s.pausedTotal {
		return 0
	}
	return int(s.snap.DecisionsTotal - s.pausedTotal)
}

func (m *Model) openPrompt(md mode) tea.Cmd {
	s := m.src()
	m.under, m.mode = m.mode, md
	switch md {
	case modeFilter:
		switch m.focus {
		case paneLog:
			m.filterBefore = s.log.Text
		default:
			m.filterBefore = s.table.Filter
		}
		m.input.Placeholder = "text"
		m.input.SetValue(m.filterBefore)
	case modeSearch:
		m.filterBefore = s.log.Search
		m.input.Placeholder = "text"
		m.input.SetValue(m.filterBefore)
	case modeConnect:
		m.input.Placeholder = "pb://…"
		m.input.SetValue("")
	}
	m.input.CursorEnd()
	return m.input.Focus()
}

// handlePrompt edits the filter, search or FURL prompt. Filters apply as
// they are typed; esc puts the old one back.
func (m Model) handlePrompt(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	switch {
	case key.Matches(msg, m.keys.Cancel):
		if m.mode == modeFilter || m.mode == modeSearch {
			m.setText(m.mode, m.filterBefore)
		}
		m.closePrompt()
		return m, nil
	case key.Matches(msg, m.keys.Accept):
		value := strings.TrimSpace(m.input.Value())
		md := m.mode
		m.closePrompt()
		switch md {
		case modeConnect:
			if value == "" {
				return m, nil
			}
			return m, m.do(Action{Kind: ActConnect, FURL: value})
		case modeSearch:
			m.setText(md, value)
			if value != "" {
				m.findMatch(-1)
			}
		default:
			m.setText(md, value)
		}
		return m, nil
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(msg)
	if m.mode == modeFilter {
		m.setText(m.mode, m.input.Value())
	}
	return m, cmd
}

func (m *Model) closePrompt() {
	m.input.Blur()
	m.mode = m.under
}

// setText applies the prompt's text to what it edits.
func (m *Model) setText(md mode, v string) {
	s := m.src()
	switch {
	case md == modeSearch:
		s.log.Search = v
	case m.focus == paneLog:
		s.log.Text = v
		m.logFiltersChanged()
	default:
		s.table.Filter = v
		m.rebuild()
	}
}

func (m Model) exportDir() string {
	if m.opts.ExportDir == "" {
		return os.TempDir()
	}
	return m.opts.ExportDir
}

func (m Model) helpMax() int {
	groups, sections := m.helpContent()
	return max(views.HelpLines(groups, sections, m.width)-(m.height-3), 0)
}

func clamp(v, lo, hi int) int {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

// nextColumn cycles the table's sort column.
func nextColumn(c views.Column) views.Column {
	for i, col := range views.Columns {
		if col == c {
			return views.Columns[(i+1)%len(views.Columns)]
		}
	}
	return views.Columns[0]
}

// verdictFilters is the cycle `v` walks: all, accepts only, rejects only.
var verdictFilters = []string{"", "accept", "reject"}

func nextVerdict(v string) string {
	for i, f := range verdictFilters {
		if f == v {
			return verdictFilters[(i+1)%len(verdictFilters)]
		}
	}
	return verdictFilters[0]
}

// nextRule cycles the rule filter through the rules in the log, then off.
func nextRule(cur string, rules []string) string {
	if cur == "" {
		if len(rules) == 0 {
			return ""
		}
		return rules[0]
	}
	for i, r := range rules {
		if r == cur && i+1 < len(rules) {
			return rules[i+1]
		}
	}
	return ""
}
