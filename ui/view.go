package ui

import (
	"strconv"
	"strings"

	"github.com/charmbracelet/lipgloss"

	"github.com/tubscope/tubscope/tubclient/snapshot"
	"github.com/tubscope/tubscope/views"
)

// layout is how the terminal's rows are shared out this frame.
type layout struct {
	header, brokers, log, status, help int
}

func (m Model) layout() layout {
	l := layout{header: 1, status: 1, help: 1}
	body := max(m.height-l.header-l.status-l.help, 2)
	// The table gets the larger half: it holds the cursor and the actions
	// aim at it.
	l.brokers = max(body-body/2, 1)
	l.log = max(body-l.brokers, 1)
	return l
}

// View draws one frame. Only visible rows are formatted, so the cost is
// the sort plus a screenful whatever the broker count.
func (m Model) View() string {
	if m.quitting {
		return ""
	}
	if m.width < views.MinWidth || m.height < views.MinHeight {
		return views.TooSmall(m.width, m.height)
	}
	l := m.layout()
	th := m.theme
	header := views.Header(m.snap, !m.feedClosed, m.paused, int(m.newSincePause()), m.width, m.now, th)

	var body string
	bodyHeight := l.brokers + l.log
	switch {
	case m.mode == modeHelp:
		body = m.fullHelp(bodyHeight)
	case m.mode == modeDetail || (isPrompt(m.mode) && m.under == modeDetail):
		body = views.PeerDetail(m.snap, m.detail, m.width, bodyHeight, m.now, th)
	default:
		brokerTheme, logTheme := th, th
		if m.focus == paneLog {
			brokerTheme = blurred(th)
		} else {
			logTheme = blurred(th)
		}
		brokers := views.RenderBrokers(m.snap.Brokers, m.table, m.width, l.brokers, m.now, brokerTheme)
		log := views.RenderDecisions(m.decisions(), m.logView, m.width, l.log, logTheme)
		body = brokers + "\n" + log
	}
	return views.Screen(header, body, m.statusLine()+"\n"+m.helpBar(), m.width, m.height)
}

func isPrompt(md mode) bool { return md == modeFilter || md == modeConnect }

// blurred dims the pane without focus so the eye finds the focused one.
func blurred(th views.Theme) views.Theme {
	th.Title = th.Dim
	th.Selected = lipgloss.NewStyle().Underline(true)
	return th
}

// statusLine is the prompt being typed, else the flash, else the standing
// state (demo client, dropped events).
func (m Model) statusLine() string {
	th := m.theme
	var s string
	switch {
	case m.mode == modeFilter:
		target := "brokers"
		if m.focus == paneLog {
			target = "log peer"
		}
		s = th.Key.Render("filter "+target+": ") + m.input.View()
	case m.mode == modeConnect:
		s = th.Key.Render("connect FURL: ") + m.input.View()
	case m.flash.text != "" && m.flash.err:
		s = th.Reject.Render("✗ " + m.flash.text)
	case m.flash.text != "":
		s = th.Accept.Render("› ") + m.flash.text
	default:
		s = th.Dim.Render(m.standing())
	}
	return lipgloss.NewStyle().MaxWidth(m.width).Render(strings.ReplaceAll(s, "\n", " "))
}

// standing is the quiet status: focus, demo client, feed health.
func (m Model) standing() string {
	parts := []string{}
	if m.focus == paneLog {
		parts = append(parts, "focus: log")
	} else {
		parts = append(parts, "focus: brokers")
	}
	if m.demo {
		if m.demoClient >= 0 && m.demoClient < len(m.demoClients) {
			parts = append(parts, "demo client: "+m.demoClients[m.demoClient])
		} else {
			parts = append(parts, "demo: 1-9 picks a client")
		}
	}
	if m.eventsSeen > 0 {
		last := string(m.lastEvent.Kind)
		if m.lastEvent.PeerTubID != "" {
			last += " " + views.Short(m.lastEvent.PeerTubID, 8)
		}
		parts = append(parts, strconv.FormatUint(m.eventsSeen, 10)+" events, last "+last)
	}
	if m.dropped > 0 {
		parts = append(parts, "feed dropped "+strconv.FormatUint(m.dropped, 10))
	}
	if text := notableText(m.notable); text != "" {
		parts = append(parts, m.notable.Time.Format("15:04:05")+" "+text)
	}
	if m.feedClosed {
		parts = append(parts, "feed closed")
	}
	return strings.Join(parts, " · ")
}

func (m Model) helpBar() string {
	return m.help.ShortHelpView(m.keys.groups(m.context(), m.demo)[0])
}

func (m Model) fullHelp(height int) string {
	c := m.under
	under := m
	under.mode = c
	var groups [][]views.KeyHelp
	for _, g := range m.keys.groups(under.context(), m.demo) {
		kh := make([]views.KeyHelp, 0, len(g))
		for _, b := range g {
			kh = append(kh, views.KeyHelp{Key: b.Help().Key, Desc: b.Help().Desc})
		}
		groups = append(groups, kh)
	}
	return views.Help(groups, m.width, height, m.theme)
}

// notableText is what the status line says about events that carry their
// own explanation (faults, restarts, clones, drops); "" for the routine
// ones (pings, calls, offers), which the tables already show.
func notableText(ev snapshot.Event) string {
	var text string
	switch ev.Kind {
	case snapshot.KindFault, snapshot.KindIncarnation, snapshot.KindPolicy, snapshot.KindClone:
		text = ev.Message
	case snapshot.KindBrokerDetached, snapshot.KindBrokerSuspect:
		text = ev.Reason
	case snapshot.KindNegotiationFailed:
		text = ev.Err
	default:
		return ""
	}
	if text == "" {
		return ""
	}
	if ev.PeerTubID != "" {
		text = views.Short(ev.PeerTubID, 8) + ": " + text
	}
	return string(ev.Kind) + " " + text
}
