package views

import (
	"fmt"
	"strings"
	"time"

	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// Headline is one source's outcome in a sentence, for the compare view:
// a running lockout beats everything, then the newest comeback and the
// rule that let it in.
func Headline(s *snapshot.Snapshot, sum Summary, now time.Time) (text string, bad bool) {
	policy := orNone(s.Policy)
	if sum.LockedOut > 0 {
		text = fmt.Sprintf("%s: locked out %s and counting", policy, Clock(now.Sub(sum.LongestLockout)))
		if sum.LockedOut > 1 {
			text += fmt.Sprintf(" (%d peers)", sum.LockedOut)
		}
		return text, true
	}
	if back, rule, who, ok := lastComeback(s); ok {
		return fmt.Sprintf("%s: %s back in %s (%s)", policy, who, Millis(back), orNone(rule)), false
	}
	live := 0
	for i := range s.Peers {
		if PeerState(&s.Peers[i], nil) == snapshot.PeerLive || s.Peers[i].BrokerID != 0 {
			live++
		}
	}
	return fmt.Sprintf("%s: %d of %s live", policy, live, plural(len(s.Peers), "peer")), false
}

// lastComeback finds the newest connection that followed an earlier one
// of the same peer: how long it took from its TCP connect to its attach,
// and the rule that accepted it.
func lastComeback(s *snapshot.Snapshot) (time.Duration, string, string, bool) {
	var best *snapshot.ConnectionRecord
	var who string
	for i := range s.Peers {
		h := s.Peers[i].History
		for j := 1; j < len(h); j++ {
			if h[j].Attached.IsZero() || h[j-1].Attached.IsZero() {
				continue
			}
			if best == nil || h[j].Attached.After(best.Attached) {
				best = &h[j]
				who = PeerName(s.Peers[i].TubID, s.Peers[i].Nickname)
			}
		}
	}
	if best == nil {
		return 0, "", "", false
	}
	return best.Attached.Sub(best.Opened), best.Rule, who, true
}

// Compare lays several sources side by side, one column each: the
// source and its policy, the headline, its peers with lockout timers and
// countdowns, and its newest decisions.
func Compare(snaps []*snapshot.Snapshot, sums []Summary, active, width, height int, now time.Time, th Theme) string {
	n := len(snaps)
	if n == 0 || width <= 0 || height <= 0 {
		return ""
	}
	const gap = 3
	colW := (width - gap*(n-1)) / n
	if colW < 20 {
		return pane([]string{th.Warn.Render(truncate("too narrow to compare "+plural(n, "source")+" side by side", width))}, width, height)
	}
	cols := make([][]string, n)
	for i, s := range snaps {
		cols[i] = compareColumn(s, sums[i], i == active, colW, height, now, th)
	}
	lines := make([]string, height)
	for r := range height {
		var b strings.Builder
		for i := range cols {
			if i > 0 {
				b.WriteString(strings.Repeat(" ", gap-2) + th.Border.Render("│") + " ")
			}
			cell := ""
			if r < len(cols[i]) {
				cell = cols[i][r]
			}
			b.WriteString(fitLine(cell, colW))
		}
		lines[r] = b.String()
	}
	return pane(lines, width, height)
}

func compareColumn(s *snapshot.Snapshot, sum Summary, active bool, w, h int, now time.Time, th Theme) []string {
	name := s.Source.Name
	if name == "" {
		name = Short(s.TubID, 8)
	}
	title := th.Title.Render(truncate(clean(name)+" · policy "+orNone(s.Policy), w))
	if active {
		title = th.Selected.Render(padRight(clean(name)+" · policy "+orNone(s.Policy), w))
	}
	text, bad := Headline(s, sum, now)
	style := th.Accept
	if bad {
		style = th.Reject
	}
	lines := []string{title}
	for _, l := range wrap(text, w) {
		lines = append(lines, style.Render(l))
	}
	if s.Source.Status != "" {
		lines = append(lines, th.Warn.Render(truncate(s.Source.Status, w)))
	}
	lines = append(lines, "")
	// Peers: name, state, and the timer that matters for that state.
	peerRows := max(h-len(lines)-6, 1)
	shown := 0
	for i := range s.Peers {
		if shown == peerRows {
			lines = append(lines, th.Dim.Render(fmt.Sprintf("… %d more", len(s.Peers)-shown)))
			break
		}
		p := &s.Peers[i]
		st := PeerState(p, nil)
		if p.State == "" && p.BrokerID != 0 {
			st = snapshot.PeerLive
		}
		timer := ""
		switch {
		case !p.LockedOutSince.IsZero():
			timer = "locked " + Clock(now.Sub(p.LockedOutSince))
		case !p.NextAttempt.IsZero():
			timer = "next " + Until(now, p.NextAttempt)
		case !p.Connected.IsZero():
			timer = "up " + Age(now, p.Connected)
		}
		nameW := max(w-16-textWidth(timer)-1, 6)
		line := padRight(PeerName(p.TubID, p.Nickname), nameW) + " " + th.peerStyle(st).Render(padRight(peerLabel(st), 14)) + " " + th.Dim.Render(timer)
		lines = append(lines, line)
		shown++
	}
	if len(s.Peers) == 0 {
		lines = append(lines, th.Dim.Render("no peers yet"))
	}
	lines = append(lines, "")
	// The newest decisions, compactly.
	room := h - len(lines)
	ds := s.Decisions
	if room > 0 && len(ds) > room {
		ds = ds[len(ds)-room:]
	}
	names := peerNames(s)
	for i := range ds {
		if room <= 0 {
			break
		}
		d := &ds[i]
		mark := th.Reject.Render("✗")
		if d.Accept {
			mark = th.Accept.Render("✓")
		}
		lines = append(lines, th.Dim.Render(d.Time.Format("15:04:05"))+" "+mark+" "+truncate(names(d.PeerTubID)+" "+d.Rule, w-11))
	}
	return lines
}

// FleetItem is one source on the fleet line.
type FleetItem struct {
	Name       string
	Kind       snapshot.SourceKind
	Peers      int
	RejectsMin int // rejects in the last minute
	LockedOut  int
	Status     string
}

// Fleet is one line naming every source with its vital signs, the active
// one marked; [ and ] (or alt+1–9) switch between them.
func Fleet(items []FleetItem, active, width int, th Theme) string {
	var b strings.Builder
	for i, it := range items {
		if i > 0 {
			b.WriteString(th.Dim.Render(" │ "))
		}
		text := fmt.Sprintf("%d %s: %s · %d rej/min", i+1, clean(it.Name), plural(it.Peers, "peer"), it.RejectsMin)
		if it.LockedOut > 0 {
			text += fmt.Sprintf(" · %d locked", it.LockedOut)
		}
		if it.Status != "" {
			text += " · " + clean(it.Status)
		}
		switch {
		case i == active:
			b.WriteString(th.Selected.Render(text))
		case it.Status != "" || it.LockedOut > 0:
			b.WriteString(th.Warn.Render(text))
		default:
			b.WriteString(text)
		}
	}
	return fitLine(b.String(), width)
}
