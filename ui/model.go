// Package ui is tubscope's interactive inspector: a bubbletea program that
// renders an Engine's snapshots through package views and turns keys into
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

	"github.com/tubscope/tubscope/tubclient/snapshot"
	"github.com/tubscope/tubscope/views"
)

// Options configures the inspector.
type Options struct {
	ExportDir string // where `e` writes the decision log; "" means the current directory
	Title     string // shown in the header; "" means "tubscope"
}

const flashFor = 4 * time.Second

type pane int

const (
	paneBrokers pane = iota
	paneLog
)

type mode int

const (
	modeNormal  mode = iota
	modeDetail       // peer detail of one broker's peer
	modeHelp         // full help over whatever was showing
	modeFilter       // typing a filter for the focused pane
	modeConnect      // typing a FURL to dial
)

type flash struct {
	text  string
	err   bool
	until time.Time
}

// Model is the inspector's bubbletea model.
type Model struct {
	engine Engine
	feed   Feed
	done   chan struct{} // closed when the program ends; unparks the listener
	opts   Options
	keys   keyMap
	help   help.Model
	input  textinput.Model
	clock  func() time.Time
	theme  views.Theme

	width, height int
	now           time.Time

	snap  snapshot.Snapshot
	order []int // indexes into snap.Brokers, sorted and filtered as the table shows them

	table   views.BrokerTable
	logView views.LogView
	focus   pane
	mode    mode
	under   mode // the mode help or a prompt returns to

	detail views.PeerView // the peer shown in modeDetail, and its scroll

	paused      bool
	frozen      []snapshot.Decision // the log as it stood when paused
	pausedTotal uint64              // DecisionsTotal when paused

	eventsSeen uint64
	dropped    uint64
	lastEvent  snapshot.Event
	notable    snapshot.Event // the latest event that explains itself in words
	feedClosed bool

	demoClients []string
	demo        bool
	demoClient  int // -1 when none was picked with 1–9

	filterBefore string // restored when a filter prompt is cancelled
	flash        flash
	quitting     bool
}

// New builds the inspector over e. It subscribes to e's events at once so
// nothing that happens before the first frame is missed.
func New(e Engine, opts Options) Model {
	if opts.Title == "" {
		opts.Title = "tubscope"
	}
	in := textinput.New()
	in.Prompt = ""
	in.CharLimit = 4096
	in.Cursor.SetMode(cursor.CursorStatic)
	m := Model{
		engine:     e,
		feed:       e.Subscribe(feedCapacity),
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
	}
	if os.Getenv("NO_COLOR") != "" {
		m.theme = views.PlainTheme()
	}
	m.now = m.clock()
	m.demoClients, m.demo = e.Demo()
	m.refresh(e.Snapshot())
	return m
}

// Init starts the feed listener and the age tick.
func (m Model) Init() tea.Cmd {
	return tea.Batch(listen(m.feed, drainMax, false, m.done), tick(), tea.SetWindowTitle(m.opts.Title))
}

// Update handles one message.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.help.Width = msg.Width
		m.clampCursor()
		return m, nil
	case eventsMsg:
		return m, m.absorb(msg)
	case feedClosedMsg:
		m.feedClosed = true
		return m, nil
	case tickMsg:
		m.now = time.Time(msg)
		m.demoClients, m.demo = m.engine.Demo()
		m.refresh(m.engine.Snapshot())
		if !m.flash.until.IsZero() && m.now.After(m.flash.until) {
			m.flash = flash{}
		}
		return m, tick()
	case actionDoneMsg:
		if msg.err != nil {
			m.setFlash(fmt.Sprintf("%s failed: %v", describe(msg.action, m.demoClients), msg.err), true)
		} else {
			m.setFlash(describe(msg.action, m.demoClients)+" requested", false)
		}
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
	case tea.KeyMsg:
		return m.handleKey(msg)
	}
	return m, nil
}

// absorb folds one drained batch into the model: one Snapshot per batch,
// whatever its size, then re-arms the listener.
func (m *Model) absorb(msg eventsMsg) tea.Cmd {
	m.dropped = msg.dropped
	if n := len(msg.events); n > 0 {
		m.eventsSeen += uint64(n)
		m.lastEvent = msg.events[n-1]
		for _, ev := range msg.events {
			if notableText(ev) != "" {
				m.notable = ev
			}
		}
		m.refresh(m.engine.Snapshot())
	}
	return listen(m.feed, drainMax, msg.more, m.done)
}

// refresh installs a new snapshot and keeps the cursor on the same broker
// when rows move under it.
func (m *Model) refresh(s snapshot.Snapshot) {
	var selected uint64
	hadSelection := false
	if b, ok := m.selectedBroker(); ok {
		selected, hadSelection = b.ID, true
	}
	m.snap = s
	m.order = views.SortFilter(s.Brokers, m.table, m.now)
	if hadSelection {
		for i, bi := range m.order {
			if s.Brokers[bi].ID == selected {
				m.table.Cursor = i
				break
			}
		}
	}
	m.clampCursor()
}

func (m Model) selectedBroker() (snapshot.Broker, bool) {
	if m.table.Cursor < 0 || m.table.Cursor >= len(m.order) {
		return snapshot.Broker{}, false
	}
	return m.snap.Brokers[m.order[m.table.Cursor]], true
}

// decisions is the log as the pane shows it: frozen while paused.
func (m Model) decisions() []snapshot.Decision {
	if m.paused {
		return m.frozen
	}
	return m.snap.Decisions
}

// newSincePause counts decisions logged since the log was paused.
func (m Model) newSincePause() uint64 {
	if !m.paused || m.snap.DecisionsTotal < m.pausedTotal {
		return 0
	}
	return m.snap.DecisionsTotal - m.pausedTotal
}

func (m *Model) setFlash(text string, isErr bool) {
	m.flash = flash{text: text, err: isErr, until: m.now.Add(flashFor)}
}

func (m Model) context() context {
	switch m.mode {
	case modeDetail:
		return ctxDetail
	case modeHelp:
		return ctxHelp
	case modeFilter, modeConnect:
		return ctxPrompt
	}
	if m.focus == paneLog {
		return ctxLog
	}
	return ctxBrokers
}

// live reports whether b is bound in the current context, so a key only
// does what the help bar says it does.
func (m Model) live(msg tea.KeyMsg, b key.Binding) bool {
	if !key.Matches(msg, b) {
		return false
	}
	for _, g := range m.keys.groups(m.context(), m.demo) {
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

func (m Model) handleKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	if msg.Type == tea.KeyCtrlC {
		return m.quit()
	}
	switch m.mode {
	case modeFilter, modeConnect:
		return m.handlePrompt(msg)
	case modeHelp:
		switch {
		case m.live(msg, m.keys.Back), m.live(msg, m.keys.Help):
			m.mode = m.under
		case m.live(msg, m.keys.Quit):
			return m.quit()
		}
		return m, nil
	}

	k := m.keys
	switch {
	case m.live(msg, k.Quit):
		return m.quit()
	case m.live(msg, k.Help):
		m.under, m.mode = m.mode, modeHelp
	case m.live(msg, k.Back):
		m.mode, m.detail = modeNormal, views.PeerView{}
	case m.live(msg, k.Focus):
		if m.focus == paneBrokers {
			m.focus = paneLog
		} else {
			m.focus = paneBrokers
		}
	case m.live(msg, k.Enter):
		if b, ok := m.selectedBroker(); ok {
			m.mode, m.detail = modeDetail, views.PeerView{TubID: b.PeerTubID}
		}
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
		return m, m.openFilter()
	case m.live(msg, k.Sort):
		m.table.SortBy = nextColumn(m.table.SortBy)
		m.refresh(m.snap)
	case m.live(msg, k.Reverse):
		m.table.Desc = !m.table.Desc
		m.refresh(m.snap)
	case m.live(msg, k.Verdict):
		m.logView.FilterVerdict = nextVerdict(m.logView.FilterVerdict)
		m.logView.Offset = 0
	case m.live(msg, k.Pause):
		m.togglePause()
	case m.live(msg, k.Export):
		return m, exportDecisions(m.exportDir(), m.now, m.snap.Decisions)
	case m.live(msg, k.Connect):
		return m, m.openConnect()
	default:
		return m, m.actionForKey(msg)
	}
	return m, nil
}

func (m Model) quit() (tea.Model, tea.Cmd) {
	m.quitting = true
	return m, tea.Quit
}

// move shifts the cursor of the focused pane (the broker table or the log,
// or the peer detail's decisions when it is open) by delta rows, clamped.
func (m *Model) move(delta int) {
	switch {
	case m.mode == modeDetail:
		// Like the log, the detail's decisions scroll back from the newest.
		n := views.PeerDecisions(m.snap.Decisions, m.detail.TubID)
		m.detail.Offset = clamp(m.detail.Offset-delta, 0, max(0, n-1))
	case m.focus == paneLog:
		// The log's offset counts rows back from the newest, so "down"
		// moves toward newer entries.
		m.logView.Offset = clamp(m.logView.Offset-delta, 0, max(0, len(m.visibleDecisions())-1))
	default:
		m.table.Cursor = clamp(m.table.Cursor+delta, 0, max(0, len(m.order)-1))
		m.clampCursor()
	}
}

// clampCursor keeps the cursor on a row and the row on screen.
func (m *Model) clampCursor() {
	m.table = m.table.Clamp(len(m.order), m.layout().brokers)
}

func (m Model) pageSize() int {
	if m.mode == modeDetail {
		return detailPage
	}
	if m.focus == paneLog {
		return max(1, views.DecisionRows(m.layout().log))
	}
	return max(1, m.brokerRowsVisible())
}

// detailPage is how far page keys scroll the peer detail's decisions: the
// pane shows a handful below its tables.
const detailPage = 5

// brokerRowsVisible is how many broker rows the table pane shows.
func (m Model) brokerRowsVisible() int {
	return max(1, views.BrokerRows(m.layout().brokers))
}

func (m *Model) togglePause() {
	if m.paused {
		m.paused, m.frozen, m.pausedTotal = false, nil, 0
		return
	}
	m.paused = true
	m.frozen = m.snap.Decisions
	m.pausedTotal = m.snap.DecisionsTotal
}

func (m *Model) openFilter() tea.Cmd {
	m.under, m.mode = m.mode, modeFilter
	if m.focus == paneLog {
		m.filterBefore = m.logView.FilterPeer
	} else {
		m.filterBefore = m.table.Filter
	}
	m.input.Placeholder = "filter"
	m.input.SetValue(m.filterBefore)
	m.input.CursorEnd()
	return m.input.Focus()
}

func (m *Model) openConnect() tea.Cmd {
	m.under, m.mode = m.mode, modeConnect
	m.input.Placeholder = "pb://…"
	m.input.SetValue("")
	return m.input.Focus()
}

// handlePrompt edits the filter or FURL prompt. Filters apply as they are
// typed; esc puts the old one back.
func (m Model) handlePrompt(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	switch {
	case key.Matches(msg, m.keys.Cancel):
		if m.mode == modeFilter {
			m.setFilter(m.filterBefore)
		}
		m.closePrompt()
		return m, nil
	case key.Matches(msg, m.keys.Accept):
		value := strings.TrimSpace(m.input.Value())
		wasConnect := m.mode == modeConnect
		m.closePrompt()
		if wasConnect {
			if value == "" {
				return m, nil
			}
			return m, m.do(Action{Kind: ActConnect, FURL: value})
		}
		m.setFilter(value)
		return m, nil
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(msg)
	if m.mode == modeFilter {
		m.setFilter(m.input.Value())
	}
	return m, cmd
}

func (m *Model) closePrompt() {
	m.input.Blur()
	m.mode = m.under
}

func (m *Model) setFilter(v string) {
	if m.focus == paneLog {
		m.logView.FilterPeer = v
		m.logView.Offset = 0
		return
	}
	m.table.Filter = v
	m.refresh(m.snap)
}

func (m Model) exportDir() string {
	if m.opts.ExportDir == "" {
		return "."
	}
	return m.opts.ExportDir
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

// visibleDecisions is the log after its filters, oldest first.
func (m Model) visibleDecisions() []int {
	return views.FilterDecisions(m.decisions(), m.logView)
}

// nextColumn cycles the broker table's sort column.
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
