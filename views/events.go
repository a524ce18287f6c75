package views

import (
	"fmt"
	"strings"
	"time"

	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// Important says whether an event explains something the tables do not:
// faults, detaches and why, failed negotiations, restarts, refused sockets,
// a source's trouble. Routine ones (pings, calls, offers, attaches) are
// already in the tables and the decision log.
func Important(ev *snapshot.Event) bool {
	switch ev.Kind {
	case snapshot.KindFault, snapshot.KindIncarnation, snapshot.KindPolicy, snapshot.KindClone,
		snapshot.KindBrokerDetached, snapshot.KindBrokerSuspect, snapshot.KindNegotiationFailed,
		snapshot.KindRefused, snapshot.KindSource, snapshot.KindPeerEvicted:
		return true
	case snapshot.KindReconnectScheduled:
		return ev.Err != "" || ev.Reason != ""
	}
	return false
}

// EventText is an important event in one sentence, without the time.
func EventText(ev *snapshot.Event) string {
	var text string
	switch ev.Kind {
	case snapshot.KindBrokerDetached:
		text = fmt.Sprintf("broker #%d closed", ev.BrokerID)
		if ev.Close != "" {
			text += " (" + string(ev.Close) + ")"
		}
		if r := firstOf(ev.Reason, ev.Err); r != "" {
			text += ": " + r
		}
	case snapshot.KindBrokerSuspect:
		text = fmt.Sprintf("broker #%d suspect: %s", ev.BrokerID, firstOf(ev.Reason, "nothing received past the keepalive"))
	case snapshot.KindNegotiationFailed:
		text = "negotiation failed"
		if ev.Close != "" {
			text += " (" + string(ev.Close) + ")"
		}
		if r := firstOf(ev.Err, ev.Reason); r != "" {
			text += ": " + r
		}
		if ev.Remote != "" {
			text += " from " + ev.Remote
		}
	case snapshot.KindReconnectScheduled:
		text = "next attempt in " + Millis(ev.Delay)
		if r := firstOf(ev.Err, ev.Reason); r != "" {
			text += " after: " + r
		}
	case snapshot.KindRefused:
		text = "socket refused: " + firstOf(ev.Reason, ev.Message, ev.Err)
		if ev.Remote != "" {
			text += " (" + ev.Remote + ")"
		}
	case snapshot.KindIncarnation:
		text = firstOf(ev.Message, "this tub started with incarnation "+Short(ev.Incarnation, 8))
	default:
		text = firstOf(ev.Message, ev.Reason, ev.Err, string(ev.Kind))
	}
	return clean(text)
}

func firstOf(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// EventLine is one event for the status line: its time, the peer and the
// sentence, with the kind only when the sentence does not already say it.
func EventLine(ev *snapshot.Event, names func(tubid string) string) string {
	text := EventText(ev)
	kind := string(ev.Kind)
	if !strings.HasPrefix(text, strings.SplitN(kind, "-", 2)[0]) && ev.Kind != snapshot.KindBrokerDetached &&
		ev.Kind != snapshot.KindBrokerSuspect && ev.Kind != snapshot.KindReconnectScheduled {
		text = kind + ": " + text
	}
	if ev.PeerTubID != "" {
		text = names(ev.PeerTubID) + " " + text
	}
	return ev.Time.Format("15:04:05") + " " + text
}

// EventView is the events pane's state; the ui owns it.
type EventView struct {
	Offset int // lines scrolled up from the newest; the ui adds what arrives so the view stays put
}

// RenderEvents draws the important events, newest at the bottom, as a
// width×height pane.
func RenderEvents(evs []snapshot.Event, v EventView, names func(tubid string) string, total int, focused bool, width, height int, now time.Time, th Theme) string {
	if width <= 0 || height <= 0 {
		return ""
	}
	rows := max(height-1, 0)
	offset := min(max(v.Offset, 0), max(len(evs)-rows, 0))
	end := len(evs) - offset
	start := max(end-rows, 0)
	info := plural(len(evs), "event")
	if total > len(evs) {
		info += fmt.Sprintf(" (newest of %d)", total)
	}
	title := th.Title.Render("Events") + "  " + th.Dim.Render(info+" · faults, closes and why, failed negotiations, restarts")
	if offset > 0 {
		title = th.Title.Render("Events") + "  " + th.Warn.Render(fmt.Sprintf("↓ %d new below", offset))
	}
	lines := []string{title}
	if len(evs) == 0 {
		lines = append(lines, th.Dim.Render("  nothing yet: faults, closes and failed negotiations show here"))
	}
	for i := start; i < end; i++ {
		ev := &evs[i]
		who := ""
		if ev.PeerTubID != "" {
			who = names(ev.PeerTubID) + " "
		}
		kind := padRight(string(ev.Kind), 18)
		style := th.Dim
		switch ev.Kind {
		case snapshot.KindFault, snapshot.KindRefused, snapshot.KindNegotiationFailed, snapshot.KindSource:
			style = th.Reject
		case snapshot.KindBrokerSuspect, snapshot.KindClone, snapshot.KindReconnectScheduled:
			style = th.Warn
		}
		line := th.Dim.Render(ev.Time.Format("15:04:05.000")) + " " + style.Render(kind) + " " + truncate(who+EventText(ev), max(width-32, 8))
		if focused && i == end-1 {
			line = th.Selected.Render(padRight(ev.Time.Format("15:04:05.000")+" "+kind+" "+truncate(who+EventText(ev), max(width-32, 8)), width))
		}
		lines = append(lines, line)
	}
	return pane(lines, width, height)
}
