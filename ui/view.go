package ui

import (
	"strconv"
	"strings"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient/snapshot"
	"github.com/tubscope/tubscope/views"
)

// layout is how the terminal's rows are shared out this frame; y0 fields
// are where panes start, for mouse clicks.
type layout struct {
	header, fleet, narration, storm int
	table, log, events              int
	status, help                    int
	tableY, logY                    int
}

const (
	stormRows  = 5
	eventsRows = 7 // a standing events pane on tall terminals
)

func (m Model) layout() layout {
	s := &m.sources[m.active]
	l := layout{header: 1, status: 1, help: 1}
	if len(m.sources) > 1 {
		l.fleet = 1
	}
	if s.snap.Narration != nil && m.height >= 20 {
		l.narration = views.NarrationRows
	}
	if m.showStorm && m.height >= 24 && m.mode != modeDetail && m.mode != modeHelp && !m.compare {
		l.storm = stormRows
	}
	body := max(m.height-l.header-l.fleet-l.narration-l.storm-l.status-l.help, 2)
	// The table gets the larger half (it holds the cursor and the actions
	// aim at it), but no more than its rows need: the rest reads the log.
	l.table = max(body-body/2, 1)
	if need := len(s.rows) + 3; need < l.table {
		l.table = max(need, min(8, l.table))
	}
	l.log = max(body-l.table, 1)
	if m.height >= 40 && l.log > eventsRows+4 {
		l.events = eventsRows
		l.log -= eventsRows
	}
	l.tableY = l.header + l.fleet + l.narration + l.storm
	l.logY = l.tableY + l.table
	return l
}

// View draws one frame from the cached rows and lines: only the visible
// window is formatted, whatever the peer count.
func (m Model) View() string {
	if m.quitting {
		return ""
	}
	if m.width < views.MinWidth || m.height < views.MinHeight {
		return m.glyphs(views.TooSmall(m.width, m.height))
	}
	s := &m.sources[m.active]
	l := m.layout()
	th := m.theme
	hs := views.HeaderState{Live: !s.feedClosed, Paused: s.paused, PausedAt: s.pausedAt,
		NewWhilePaused: m.newSincePause(), Sources: len(m.sources)}
	top := []string{views.Header(s.snap, s.sum, hs, m.width, m.now, th)}
	if l.fleet > 0 {
		top = append(top, views.Fleet(m.fleetItems(), m.active, m.width, th))
	}
	if l.narration > 0 {
		top = append(top, views.NarrationStrip(s.snap.Narration, m.width, l.narration, m.now, th))
	}
	if l.storm > 0 {
		top = append(top, views.StormStrip(s.snap, s.sum, m.width, l.storm, m.now, th))
	}

	var body string
	bodyHeight := m.height - len(strings.Split(strings.Join(top, "\n"), "\n")) - l.status - l.help
	switch {
	case m.mode == modeHelp:
		groups, sections := m.helpContent()
		body = views.Help(groups, sections, m.helpOffset, m.width, bodyHeight, th)
	case m.mode == modeDetail || ((m.mode == modeConfirm || m.inPrompt()) && m.under == modeDetail):
		body = views.PeerDetail(s.snap, s.detail, m.width, bodyHeight, m.now, th)
	case m.compare:
		snaps := make([]*snapshot.Snapshot, len(m.sources))
		sums := make([]views.Summary, len(m.sources))
		for i := range m.sources {
			snaps[i], sums[i] = m.sources[i].snap, m.sources[i].sum
		}
		body = views.Compare(snaps, sums, m.active, m.width, bodyHeight, m.now, th)
	default:
		tableTheme, logTheme, evTheme := th, th, th
		switch m.focus {
		case paneLog:
			tableTheme, evTheme = blurred(th), blurred(th)
		case paneEvents:
			tableTheme, logTheme = blurred(th), blurred(th)
		default:
			logTheme, evTheme = blurred(th), blurred(th)
		}
		counts := views.PeerCounts{Peers: s.sum.Peers, Brokers: s.sum.Brokers}
		parts := []string{views.RenderPeers(s.rows, s.table, counts, m.width, l.table, m.now, tableTheme)}
		ls := s.logSnap()
		switch {
		case l.events > 0:
			parts = append(parts,
				views.RenderLog(ls.Decisions, s.lines, s.log, ls.DecisionsTotal, m.focus == paneLog, m.width, l.log, m.now, logTheme),
				views.RenderEvents(s.events, s.eventView, s.names, s.eventsTotal, m.focus == paneEvents, m.width, l.events, m.now, evTheme))
		case m.focus == paneEvents:
			parts = append(parts, views.RenderEvents(s.events, s.eventView, s.names, s.eventsTotal, true, m.width, l.log, m.now, evTheme))
		default:
			parts = append(parts, views.RenderLog(ls.Decisions, s.lines, s.log, ls.DecisionsTotal, m.focus == paneLog, m.width, l.log, m.now, logTheme))
		}
		body = strings.Join(parts, "\n")
	}
	frame := views.Screen(strings.Join(top, "\n"), body, m.statusLine()+"\n"+m.helpBar(), m.width, m.height)
	return m.glyphs(frame)
}

// glyphs rewrites a frame for terminals that cannot draw UTF-8.
func (m Model) glyphs(frame string) string {
	if m.ascii {
		return views.ToASCII(frame)
	}
	return frame
}

// blurred dims the panes without focus so the eye finds the focused one.
func blurred(th views.Theme) views.Theme {
	th.Title = th.Dim
	th.Selected = lipgloss.NewStyle().Underline(true)
	return th
}

func (m Model) fleetItems() []views.FleetItem {
	items := make([]views.FleetItem, len(m.sources))
	for i := range m.sources {
		s := &m.sources[i]
		name := s.snap.Source.Name
		if name == "" {
			name = views.Short(s.snap.TubID, 8)
		}
		items[i] = views.FleetItem{Name: name, Kind: s.snap.Source.Kind, Peers: s.sum.Peers,
			RejectsMin: views.LastMinute(s.snap.Activity.Rejects, s.snap.Activity.Bucket),
			LockedOut:  s.sum.LockedOut, Status: s.snap.Source.Status}
	}
	return items
}

// statusLine is the prompt or confirmation being answered, else the
// flash, else the newest important event first and the standing state
// after it, cut with an ellipsis.
func (m Model) statusLine() string {
	th := m.theme
	s := &m.sources[m.active]
	var line string
	switch {
	case m.mode == modeFilter:
		target := "peers"
		if m.focus == paneLog {
			target = "log"
		}
		line = th.Key.Render("filter "+target+": ") + m.input.View()
	case m.mode == modeSearch:
		line = th.Key.Render("search log: ") + m.input.View()
	case m.mode == modeConnect:
		line = th.Key.Render("connect FURL: ") + m.input.View()
	case m.mode == modeConfirm:
		line = th.Warn.Render(views.Truncate(m.pendingText+"? y confirms, any other key cancels", m.width))
	case m.flash.text != "" && m.flash.err:
		line = th.Reject.Render(views.Truncate("✗ "+m.flash.text, m.width))
	case m.flash.text != "":
		line = th.Accept.Render("› ") + views.Truncate(m.flash.text, m.width-2)
	default:
		var parts []string
		if n := len(s.events); n > 0 {
			parts = append(parts, views.EventLine(&s.events[n-1], s.names))
		}
		parts = append(parts, m.standing()...)
		line = th.Dim.Render(views.Truncate(strings.Join(parts, " · "), m.width))
	}
	return lipgloss.NewStyle().MaxWidth(m.width).Render(strings.ReplaceAll(line, "\n", " "))
}

// standing is the quiet status: demo client, feed health.
func (m Model) standing() []string {
	s := &m.sources[m.active]
	var parts []string
	if s.demo {
		if m.demoClient >= 0 && m.demoClient < len(s.demoClients) {
			parts = append(parts, "demo client: "+s.demoClients[m.demoClient])
		} else {
			parts = append(parts, "demo: 1-9 picks a client")
		}
	}
	if m.opts.ReadOnly {
		parts = append(parts, "read-only")
	}
	if s.dropped > 0 {
		parts = append(parts, "feed dropped "+strconv.FormatUint(s.dropped, 10))
	}
	if s.feedClosed {
		parts = append(parts, "feed closed")
	}
	return parts
}

func (m Model) helpBar() string {
	return m.help.ShortHelpView(m.keys.groups(m.context(), m.flags())[0])
}

// helpContent is the full help: the keys of the context under it, then
// the glyph and column legends and what each policy does.
func (m Model) helpContent() ([][]views.KeyHelp, []views.HelpSection) {
	under := m
	under.mode = m.under
	var groups [][]views.KeyHelp
	for _, g := range m.keys.groups(under.context(), m.flags()) {
		kh := make([]views.KeyHelp, 0, len(g))
		for _, b := range g {
			kh = append(kh, views.KeyHelp{Key: b.Help().Key, Desc: b.Help().Desc})
		}
		groups = append(groups, kh)
	}
	cur := m.sources[m.active].snap.Policy
	var policies []views.KeyHelp
	for _, name := range negotiation.PolicyNames() {
		key := name
		if name == cur {
			key = "▶ " + name
		}
		policies = append(policies, views.KeyHelp{Key: key, Desc: negotiation.Describe(name)})
	}
	sections := []views.HelpSection{
		{Title: "Glyphs", Rows: views.GlyphLegend()},
		{Title: "Columns", Rows: views.ColumnLegend()},
		{Title: "Policies (p cycles; ▶ is in force)", Rows: policies},
	}
	return groups, sections
}

// handleMouse scrolls the pane under the wheel and selects the row or
// line clicked. Only delivered when Options.Mouse turned reporting on.
func (m Model) handleMouse(msg tea.MouseMsg) (tea.Model, tea.Cmd) {
	if m.mode != modeNormal || m.compare {
		return m, nil
	}
	l := m.layout()
	inTable := msg.Y >= l.tableY && msg.Y < l.tableY+l.table
	inLog := msg.Y >= l.logY && msg.Y < l.logY+l.log+l.events
	switch {
	case msg.Button == tea.MouseButtonWheelUp || msg.Button == tea.MouseButtonWheelDown:
		delta := 3
		if msg.Button == tea.MouseButtonWheelUp {
			delta = -3
		}
		if inTable {
			m.focus = paneTable
		} else if inLog && m.focus == paneTable {
			m.focus = paneLog
		}
		m.move(delta)
	case msg.Button == tea.MouseButtonLeft && msg.Action == tea.MouseActionPress:
		s := m.src()
		switch {
		case inTable:
			row := msg.Y - l.tableY - 1 // below the heading
			if row >= 0 && row < views.TableRows(l.table) && s.table.Offset+row < len(s.rows) {
				m.focus = paneTable
				s.table.Cursor = s.table.Offset + row
				s.anchor = s.rows[s.table.Cursor].Key()
				m.clampCursor()
			}
		case msg.Y >= l.logY && msg.Y < l.logY+l.log:
			m.focus = paneLog
			line := msg.Y - l.logY - 2 // below the title and heading
			cur, top := views.LogWindow(s.logSnap().Decisions, s.lines, s.log, m.width, l.log)
			if cur >= 0 && line >= 0 {
				m.moveLog(m.logIndexAtRow(top, line) - cur)
			}
		case msg.Y >= l.logY+l.log && msg.Y < l.logY+l.log+l.events:
			m.focus = paneEvents
		}
	}
	return m, nil
}

// logIndexAtRow maps a screen row of the log body to a line index,
// counting the rows open lines take.
func (m Model) logIndexAtRow(top, row int) int {
	s := &m.sources[m.active]
	i := top
	for ; i < len(s.lines); i++ {
		tall := 1
		if s.log.Open[views.OpenKey(s.lines[i])] && !s.lines[i].Group {
			tall += len(views.DecisionDetail(&s.logSnap().Decisions[s.lines[i].First], m.width, m.now))
		}
		if row < tall {
			return i
		}
		row -= tall
	}
	return max(len(s.lines)-1, 0)
}
