package views

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// Summary is what the header and the fleet line count in a snapshot. The
// ui computes it once per snapshot version, not per frame.
type Summary struct {
	Peers, Brokers, Suspect int
	LockedOut               int
	LongestLockout          time.Time // the earliest LockedOutSince; zero when none
	LongestPeer             string    // whose lockout that is (nickname or short tubid)
}

// Summarize counts a snapshot for the header and the storm strip.
func Summarize(s *snapshot.Snapshot) Summary {
	if s == nil {
		return Summary{}
	}
	sum := Summary{Peers: len(s.Peers), Brokers: len(s.Brokers)}
	for i := range s.Brokers {
		if s.Brokers[i].State == snapshot.Suspect {
			sum.Suspect++
		}
	}
	for i := range s.Peers {
		p := &s.Peers[i]
		if p.State != snapshot.PeerLockedOut {
			continue
		}
		sum.LockedOut++
		if !p.LockedOutSince.IsZero() && (sum.LongestLockout.IsZero() || p.LockedOutSince.Before(sum.LongestLockout)) {
			sum.LongestLockout = p.LockedOutSince
			sum.LongestPeer = PeerName(p.TubID, p.Nickname)
		}
	}
	return sum
}

// PeerName is how a peer is named in sentences: its nickname, else its
// short tubid.
func PeerName(tubid, nickname string) string {
	if nickname != "" {
		return clean(nickname)
	}
	return Short(tubid, 8)
}

// HeaderState is the display's own state the header reports.
type HeaderState struct {
	Live           bool      // false: the snapshot is no longer being refreshed
	Paused         bool      // the log is frozen
	PausedAt       time.Time // when it was frozen
	NewWhilePaused int
	Sources        int // how many sources the inspector shows; >1 names this one
}

// headerField is one item of the status line.
type headerField struct {
	text  string
	style lipgloss.Style
	prio  int  // lower survives narrower terminals
	flex  bool // may be cut to fit (listening addresses)
}

// Header is the one-line status bar: which tub, its policy and counts,
// and whether the display is live, paused or replaying. Narrow terminals
// lose the app name, then listening addresses, the incarnation and the
// broker counts; the policy stays at 80 columns.
func Header(s *snapshot.Snapshot, sum Summary, st HeaderState, width int, now time.Time, th Theme) string {
	if width <= 0 {
		return ""
	}
	base := th.Header
	on := func(sty lipgloss.Style) lipgloss.Style { return sty.Inherit(base) }

	var status headerField
	rc := s.Source.Replay
	switch {
	case st.Paused:
		status = headerField{text: fmt.Sprintf("‖ PAUSED · %d new", st.NewWhilePaused), style: on(th.Paused)}
	case rc != nil && rc.Playing:
		status = headerField{text: fmt.Sprintf("▶ REPLAY ×%g", rc.Speed), style: base}
	case rc != nil:
		status = headerField{text: "‖ REPLAY", style: base}
	case st.Live:
		status = headerField{text: "● LIVE", style: base}
	default:
		status = headerField{text: "○ STALE", style: base}
	}

	inc := "inc " + Short(s.Incarnation, 8)
	if s.IncarnationCount > 0 {
		inc += fmt.Sprintf(" (#%d)", s.IncarnationCount)
	}
	listen := "listen " + None
	if len(s.Listening) > 0 {
		listen = "listen " + strings.Join(s.Listening, ", ")
	}
	fields := []headerField{
		{text: "tubscope", style: on(lipgloss.NewStyle().Bold(true)), prio: 9},
		{text: "tub " + Short(s.TubID, 8), style: base, prio: 0},
		{text: inc, style: base, prio: 6},
		{text: listen, style: base, prio: 8, flex: true},
		{text: "policy " + orNone(s.Policy), style: base, prio: 1},
		{text: plural(sum.Peers, "peer"), style: base, prio: 2},
		{text: plural(sum.Brokers, "broker"), style: base, prio: 5},
	}
	if st.Sources > 1 && s.Source.Name != "" {
		fields = append(fields, headerField{text: "[" + clean(s.Source.Name) + "]", style: on(lipgloss.NewStyle().Bold(true)), prio: 0})
	}
	if sum.Suspect > 0 {
		fields = append(fields, headerField{text: fmt.Sprintf("%d suspect", sum.Suspect), style: base, prio: 3})
	}
	if sum.LockedOut > 0 {
		fields = append(fields, headerField{text: fmt.Sprintf("%d locked out", sum.LockedOut), style: on(lipgloss.NewStyle().Bold(true)), prio: 2})
	}
	if rc != nil {
		fields = append(fields, headerField{text: ReplayCursor(rc), style: base, prio: 0})
	}
	if s.Source.Status != "" {
		fields = append(fields, headerField{text: s.Source.Status, style: on(lipgloss.NewStyle().Bold(true)), prio: 1, flex: true})
	}
	if s.EventsDropped > 0 {
		fields = append(fields, headerField{text: fmt.Sprintf("%d events dropped", s.EventsDropped), style: base, prio: 4})
	}
	if st.Paused && !st.PausedAt.IsZero() {
		fields = append(fields, headerField{text: "frozen " + Age(now, st.PausedAt) + " ago", style: base, prio: 7})
	}

	const sep = "  "
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
	b.WriteString(base.Render(strings.Repeat(" ", max(room-used+len(sep), 0))))
	b.WriteString(status.style.Render(status.text))
	b.WriteString(base.Render(" "))
	return fitLine(b.String(), width)
}

// ReplayCursor says where a replay stands: the cursor's time, its speed,
// how far through the files it is, and where the incident's trigger is.
func ReplayCursor(rc *snapshot.ReplayCursor) string {
	s := "replay " + rc.At.Format("15:04:05.000")
	if span := rc.End.Sub(rc.Start); span > 0 {
		s += fmt.Sprintf(" %d%%", int(100*rc.At.Sub(rc.Start)/span))
	}
	s += fmt.Sprintf(" · %d/%d events", rc.Applied, rc.Read)
	if !rc.Done {
		s += " (reading)"
	}
	if !rc.Trigger.IsZero() {
		d := rc.Trigger.Sub(rc.At)
		switch {
		case d > 0:
			s += " · trigger in " + Millis(d)
		case d < 0:
			s += " · trigger " + Millis(-d) + " ago"
		default:
			s += " · at the trigger"
		}
	}
	return s
}
