package views

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// headerField is one item of the status line.
type headerField struct {
	text  string
	style lipgloss.Style
	prio  int  // lower survives narrower terminals
	flex  bool // may be cut to fit (listening addresses)
}

// Header is the one-line status bar: who this tub is, what it is doing,
// and whether the display is live or paused. Narrow terminals lose the app
// name, then listening addresses, policy and incarnation before the counts.
// live false means the snapshot is no longer being refreshed.
func Header(s snapshot.Snapshot, live bool, paused bool, newWhilePaused int, width int, now time.Time, th Theme) string {
	if width <= 0 {
		return ""
	}
	suspect := 0
	for i := range s.Brokers {
		if s.Brokers[i].State == snapshot.Suspect {
			suspect++
		}
	}

	base := th.Header
	on := func(st lipgloss.Style) lipgloss.Style { return st.Inherit(base) }

	var status headerField
	switch {
	case paused:
		status = headerField{text: fmt.Sprintf("‖ PAUSED · %d new", newWhilePaused), style: on(th.Paused)}
	case live:
		status = headerField{text: "● LIVE", style: on(th.Live)}
	default:
		status = headerField{text: "○ STALE", style: on(th.Warn)}
	}

	inc := "inc " + Short(s.Incarnation, 8)
	if s.IncarnationCount > 0 {
		inc += fmt.Sprintf(" (#%d)", s.IncarnationCount)
	}
	listen := "listen " + None
	if len(s.Listening) > 0 {
		listen = "listen " + strings.Join(s.Listening, ", ")
	}
	policy := "policy " + None
	if s.Policy != "" {
		policy = "policy " + s.Policy
	}
	suspectStyle := base
	if suspect > 0 {
		suspectStyle = on(th.Suspect)
	}
	fields := []headerField{
		{text: "tubscope", style: on(th.Title), prio: 9},
		{text: "tub " + Short(s.TubID, 8), style: base, prio: 0},
		{text: inc, style: base, prio: 4},
		{text: listen, style: base, prio: 8, flex: true},
		{text: policy, style: base, prio: 6},
		{text: fmt.Sprintf("%d peers", len(s.Peers)), style: base, prio: 3},
		{text: fmt.Sprintf("%d brokers", len(s.Brokers)), style: base, prio: 1},
		{text: fmt.Sprintf("%d suspect", suspect), style: suspectStyle, prio: 2},
	}
	if s.EventsDropped > 0 {
		fields = append(fields, headerField{text: fmt.Sprintf("%d events dropped", s.EventsDropped), style: on(th.Warn), prio: 5})
	}
	if paused && !s.Taken.IsZero() {
		fields = append(fields, headerField{text: "frozen " + Age(now, s.Taken) + " ago", style: base, prio: 7})
	}

	const sep = "  "
	// One space of margin each side, the status on the right.
	room := width - 2 - textWidth(status.text) - len(sep)
	if room < 0 {
		return base.Render(padRight(" "+status.text, width))
	}

	keep := make([]bool, len(fields))
	used := 0
	for p := 0; p <= 9; p++ {
		for i, f := range fields {
			if f.prio != p {
				continue
			}
			need := textWidth(f.text)
			if used > 0 {
				need += len(sep)
			}
			if used+need <= room {
				keep[i] = true
				used += need
			} else if f.flex && room-used-len(sep) >= 16 {
				// Part of the address list beats none of it.
				fields[i].text = truncate(f.text, room-used-len(sep))
				keep[i] = true
				used = room
			}
		}
	}

	var b strings.Builder
	b.WriteString(base.Render(" "))
	first := true
	for i, f := range fields {
		if !keep[i] {
			continue
		}
		if !first {
			b.WriteString(base.Render(sep))
		}
		first = false
		b.WriteString(f.style.Render(clean(f.text)))
	}
	b.WriteString(base.Render(strings.Repeat(" ", room-used+len(sep))))
	b.WriteString(status.style.Render(status.text))
	b.WriteString(base.Render(" "))
	return fitLine(b.String(), width)
}
