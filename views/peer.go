package views

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"

	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// PeerView is the peer detail pane's state; the ui owns it.
type PeerView struct {
	TubID  string
	Offset int // decisions scrolled back from the newest
}

// PeerDecisions counts the decisions about one peer, the range PeerView's
// Offset scrolls over.
func PeerDecisions(ds []snapshot.Decision, peerTubID string) int {
	n := 0
	for i := range ds {
		if ds[i].PeerTubID == peerTubID {
			n++
		}
	}
	return n
}

// section is one block of the detail: a title line and rows. When the
// pane is short a section keeps its title and newest rows.
type section struct {
	lines      []string // title first
	min        int      // lines kept however short the pane (0: may go entirely)
	newestLast bool     // rows are oldest first, so cutting keeps the tail
}

// PeerDetail is everything known about one peer as a width×height pane:
// where we stand with it (state, last error, attempts, lockout, next try),
// identity and tables, its connections now, its connection history (each
// one attached, replaced by whom and why, or lost and why), incarnations
// seen, and the decisions about it, scrolled v.Offset back from the newest.
// The bottom decision's why: line is always shown: it is the explanation
// the operator opened the pane for, so other sections shrink first.
func PeerDetail(s *snapshot.Snapshot, v PeerView, width, height int, now time.Time, th Theme) string {
	if width <= 0 || height <= 0 {
		return ""
	}
	peerTubID := v.TubID
	var peer *snapshot.Peer
	for i := range s.Peers {
		if s.Peers[i].TubID == peerTubID {
			peer = &s.Peers[i]
			break
		}
	}
	const keyW = 14
	valueW := width - 2 - keyW
	kv := func(k, v string) string { return "  " + th.Dim.Render(padRight(k, keyW)) + truncate(v, valueW) }
	fit := func(long, short string) string {
		if textWidth(long) <= valueW {
			return long
		}
		return short
	}

	var brokers []*snapshot.Broker
	var primary *snapshot.Broker
	for i := range s.Brokers {
		if b := &s.Brokers[i]; b.PeerTubID == peerTubID {
			brokers = append(brokers, b)
			if peer != nil && b.ID == peer.BrokerID {
				primary = b
			}
		}
	}

	// Where we stand: always kept.
	title := "Peer " + clean(peerTubID)
	if peer != nil && peer.Nickname != "" {
		title += "  “" + clean(peer.Nickname) + "”"
	}
	head := []string{th.Title.Render(truncate(title, width))}
	if peer == nil {
		head = append(head, "  "+th.Warn.Render("not in the peer table; shown from brokers and the log"))
	} else {
		state := PeerState(peer, primary)
		label := peerLabel(state)
		var facts []string
		if !peer.LockedOutSince.IsZero() {
			facts = append(facts, "locked out for "+Clock(now.Sub(peer.LockedOutSince)))
		}
		if !peer.Connected.IsZero() {
			facts = append(facts, "connected "+ago(now, peer.Connected))
		}
		row := PeerRow{Peer: peer}
		if a := row.attempts(); a > 0 {
			facts = append(facts, plural(a, "failed attempt"))
		}
		if peer.Rejects > 0 {
			facts = append(facts, plural(peer.Rejects, "offer")+" refused")
		}
		if t := row.nextAttempt(); !t.IsZero() {
			facts = append(facts, "next try "+Until(now, t))
		}
		text := label
		if len(facts) > 0 {
			text += " · " + strings.Join(facts, " · ")
		}
		// The facts wrap rather than fall off the edge; the state word
		// keeps its colour.
		for i, l := range wrapOr(text, valueW) {
			key := padRight("state", keyW)
			if i > 0 {
				key = strings.Repeat(" ", keyW)
			}
			if i == 0 && strings.HasPrefix(l, label) {
				l = th.peerStyle(state).Render(label) + l[len(label):]
			}
			head = append(head, "  "+th.Dim.Render(key)+l)
		}
		if e := row.lastError(); e != "" {
			at := ""
			if !peer.LastErrorAt.IsZero() {
				at = " (" + ago(now, peer.LastErrorAt) + ")"
			}
			head = append(head, "  "+th.Dim.Render(padRight("last error", keyW))+th.Reject.Render(truncate(e+at, valueW)))
		}
	}

	// Identity and tables.
	var ident []string
	ident = append(ident, th.Title.Render("Identity and tables"))
	if peer != nil {
		ident = append(ident, kv("hints", orNone(strings.Join(peer.Hints, ", "))))
		if peer.Clone {
			ident = append(ident, "  "+th.Dim.Render(padRight("clone", keyW))+
				th.Warn.Render("×2 YES: interleaving incarnations, two processes share its key"))
		} else {
			ident = append(ident, kv("clone", "no"))
		}
	}
	master := None + " (never master for this peer)"
	for _, m := range s.MasterTable {
		if m.PeerTubID == peerTubID {
			long := fmt.Sprintf("slave-inc %s  seq %d  attempt %s  updated %s", orNone(m.SlaveIncarnation), m.SeqNum, orNone(m.AttemptID), ago(now, m.Updated))
			short := fmt.Sprintf("slave-inc %s  seq %d  attempt %s  %s", Short(m.SlaveIncarnation, 8), m.SeqNum, Short(m.AttemptID, 8), ago(now, m.Updated))
			master = fit(long, short)
		}
	}
	ident = append(ident, kv("master table", master))
	slave := None + " (no decision received from it)"
	for _, e := range s.SlaveTable {
		if e.PeerTubID == peerTubID {
			long := fmt.Sprintf("master-inc %s  seq %d  updated %s", orNone(e.MasterIncarnation), e.SeqNum, ago(now, e.Updated))
			short := fmt.Sprintf("master-inc %s  seq %d  %s", Short(e.MasterIncarnation, 8), e.SeqNum, ago(now, e.Updated))
			slave = fit(long, short)
		}
	}
	ident = append(ident, kv("slave table", slave))
	if peer != nil && peer.Reconnector != nil {
		r := peer.Reconnector
		state := string(r.State)
		if r.State == snapshot.Waiting {
			state += ", next attempt " + Until(now, r.NextAttempt)
		}
		state += fmt.Sprintf(" · %s · delay %s", plural(r.Attempts, "attempt"), r.Delay.Round(100*time.Millisecond))
		ident = append(ident, kv("reconnector", state))
		if r.LastError != "" && r.LastError != peer.LastError {
			ident = append(ident, "  "+th.Dim.Render(padRight("dial error", keyW))+th.Reject.Render(truncate(r.LastError, valueW)))
		}
		ident = append(ident, kv("furl", r.FURL))
	}

	// Connections now.
	conns := [][]string{{"ID", "STATE", "ROLE", "SIDE", "REMOTE", "AGE", "LAST-RX", "RTT", "SEQ", "PINGS", "TLS"}}
	for _, b := range brokers {
		rtt := None
		if b.RTT > 0 {
			rtt = b.RTT.Round(100 * time.Microsecond).String()
		}
		id := "#" + strconv.FormatUint(b.ID, 10)
		if peer != nil && peer.BrokerID != 0 && b.ID != peer.BrokerID {
			id = "└" + id
		}
		conns = append(conns, []string{id, stateLabel(b.State), roleLetter(b.Role), sideWord(b.Side),
			orNone(b.RemoteAddr), Age(now, b.Created), Age(now, b.LastReceived), rtt, seqText(b), strconv.Itoa(b.PingsOutstanding),
			orNone(strings.TrimPrefix(b.TLS, "TLS "))})
	}
	connSec := []string{th.Title.Render(fmt.Sprintf("Connections now (%d)", len(brokers)))}
	if len(brokers) == 0 {
		connSec = append(connSec, th.Dim.Render("  none"))
	} else {
		connSec = append(connSec, grid(conns, []bool{true, false, false, false, false, true, true, true, true, true, false}, width, th)...)
	}

	// History: the dead connection and its replacement side by side.
	var histSec []string
	if peer != nil {
		histSec = append(histSec, th.Title.Render(fmt.Sprintf("History (%d, newest last)", len(peer.History))))
		if len(peer.History) == 0 {
			histSec = append(histSec, th.Dim.Render("  no connection recorded"))
		} else {
			rows := [][]string{{"ID", "SIDE", "ROLE", "REMOTE", "OPENED", "ATTACHED", "ENDED", "HOW", "WHY"}}
			for _, h := range peer.History {
				how, why := historyEnd(&h)
				rows = append(rows, []string{"#" + strconv.FormatUint(h.BrokerID, 10), sideWord(h.Side), roleLetter(h.Role),
					orNone(h.Remote), ago(now, h.Opened), attachedText(&h, now), ago(now, h.Closed), how, why})
			}
			histSec = append(histSec, grid(rows, []bool{true, false, false, false, true, false, true, false, false}, width, th)...)
		}
	}

	var incSec []string
	if peer != nil {
		incs := peer.Incarnations
		incSec = append(incSec, th.Title.Render(fmt.Sprintf("Incarnations seen (%d, oldest first)", len(incs))))
		rows := [][]string{{"INCARNATION", "FIRST SEEN", "LAST SEEN", "OFFERS"}}
		for _, inc := range incs {
			rows = append(rows, []string{inc.Incarnation, ago(now, inc.FirstSeen), ago(now, inc.LastSeen), strconv.Itoa(inc.Offers)})
		}
		if len(rows) == 1 {
			incSec = append(incSec, th.Dim.Render("  none"))
		} else {
			incSec = append(incSec, grid(rows, []bool{false, true, true, true}, width, th)...)
		}
	}

	// Decisions: the bottom one's why: line is reserved first.
	var mine []int
	for i := range s.Decisions {
		if s.Decisions[i].PeerTubID == peerTubID {
			mine = append(mine, i)
		}
	}
	decTitle := th.Title.Render(fmt.Sprintf("Decisions (%d, newest last)", len(mine)))
	if offset := min(max(v.Offset, 0), max(len(mine)-1, 0)); offset > 0 {
		decTitle += "  " + th.Warn.Render(fmt.Sprintf("↓ %d newer", offset))
		mine = mine[:len(mine)-offset]
	}
	var why []string
	if len(mine) > 0 {
		bottom := &s.Decisions[mine[len(mine)-1]]
		why = wrap("why: "+orNone(bottom.Rule)+": "+decisionWhy(bottom), width-4)
		// However short the pane, why: keeps at least its first line.
		why = why[:min(len(why), max(height-len(head)-3, 1))]
	}
	decMin := 2 // title and "none"
	if len(mine) > 0 {
		decMin = 3 + len(why) // title, heading, the bottom decision, why
	}

	// Share the height: head, then the decisions' minimum, then the other
	// sections in the order they matter, newest rows kept.
	secs := []section{
		{lines: connSec, min: 2},
		{lines: histSec, min: 2, newestLast: true},
		{lines: ident, min: 0},
		{lines: incSec, min: 0, newestLast: true},
	}
	room := height - len(head) - decMin
	got := make([]int, len(secs))
	for i, sec := range secs {
		if n := min(sec.min, len(sec.lines)); n <= room {
			got[i] = n
			room -= n
		}
	}
	for i, sec := range secs {
		if got[i] == 0 && sec.min > 0 {
			continue
		}
		more := min(len(sec.lines)-got[i], max(room, 0))
		got[i] += more
		room -= more
	}
	extraDecisions := 0
	if len(mine) > 0 {
		extraDecisions = min(len(mine)-1, max(room, 0))
		room -= extraDecisions
	}
	spaced := room >= len(secs)+1

	lines := append([]string{}, head...)
	if spaced {
		lines = append(lines, "")
	}
	for i, sec := range secs {
		if got[i] == 0 {
			continue
		}
		lines = append(lines, cutSection(sec, got[i], th)...)
		if spaced {
			lines = append(lines, "")
		}
	}
	lines = append(lines, decTitle)
	if len(mine) == 0 {
		lines = append(lines, th.Dim.Render("  none in the log"))
		return pane(lines, width, height)
	}
	mine = mine[len(mine)-1-extraDecisions:]
	lines = append(lines, peerDecisionLines(s.Decisions, mine, width, th)...)
	for _, w := range why {
		lines = append(lines, th.Dim.Render("    "+w))
	}
	return pane(lines, width, height)
}

// cutSection keeps n lines of a section: its title, and the newest rows
// when they are listed oldest first (the grid heading stays with them).
func cutSection(sec section, n int, th Theme) []string {
	if n >= len(sec.lines) {
		return sec.lines
	}
	if !sec.newestLast || n < 3 {
		return sec.lines[:n]
	}
	hidden := len(sec.lines) - n + 1
	out := []string{sec.lines[0], sec.lines[1], th.Dim.Render(fmt.Sprintf("  … %d earlier", hidden))}
	return append(out, sec.lines[len(sec.lines)-(n-3):]...)
}

// peerDecisionLines draws decisions in the log's columns, indented, with
// the peer column dropped (the pane is about one peer).
func peerDecisionLines(ds []snapshot.Decision, idx []int, width int, th Theme) []string {
	w := width - 2
	cols := append([]column[logRow](nil), logCols(w)...)
	cols[1].prio, cols[1].min = 99, width+1 // never fits
	want := make([]int, len(cols))
	for c := range cols {
		want[c] = textWidth(cols[c].title)
	}
	rows := make([]logRow, len(idx))
	for k, i := range idx {
		rows[k] = logRow{d: &ds[i], first: &ds[i], line: LogLine{First: i, Last: i, Count: 1}}
		for _, c := range []int{4, 7, lcDetail} {
			want[c] = max(want[c], textWidth(cols[c].cell(&rows[k], time.Time{})))
		}
	}
	widths := layoutColumns(cols, want, w, 0, logGap(w))
	out := []string{"  " + th.Heading.Render(heading(cols, widths, -1, false, 0, logGap(w), w))}
	sep := strings.Repeat(" ", logGap(w))
	for k := range rows {
		var b strings.Builder
		first := true
		for c, col := range cols {
			if widths[c] == 0 {
				continue
			}
			if !first {
				b.WriteString(sep)
			}
			first = false
			text := padRight(col.cell(&rows[k], time.Time{}), widths[c])
			switch {
			case c == lcVerdict && rows[k].d.Accept:
				text = th.Accept.Render(text)
			case c == lcVerdict:
				text = th.Reject.Render(text)
			case c == 0 || c == lcDetail:
				text = th.Dim.Render(text)
			}
			b.WriteString(text)
		}
		out = append(out, "  "+b.String())
	}
	return out
}

// historyEnd says how a connection ended and why, in words; an open one
// reads "open".
func historyEnd(h *snapshot.ConnectionRecord) (how, why string) {
	switch {
	case h.End == "" && h.Closed.IsZero():
		return "open", orNone(h.Rule)
	case h.End == snapshot.CloseReplaced && h.ReplacedBy != 0:
		how = "replaced by #" + strconv.FormatUint(h.ReplacedBy, 10)
	case h.End != "":
		how = string(h.End)
	default:
		how = "closed"
	}
	return how, orNone(h.Detail)
}

func attachedText(h *snapshot.ConnectionRecord, now time.Time) string {
	if h.Attached.IsZero() {
		return "never"
	}
	s := ago(now, h.Attached)
	if h.Rule != "" {
		s += " (" + h.Rule + ")"
	}
	return s
}

// wrapOr wraps text, or cuts it to width when the width is too small to
// wrap into.
func wrapOr(text string, width int) []string {
	if w := wrap(text, width); len(w) > 0 {
		return w
	}
	return []string{truncate(text, width)}
}

// wrap breaks text into lines of at most width cells at spaces.
func wrap(text string, width int) []string {
	if width < 10 {
		return nil
	}
	var out []string
	line := ""
	for _, word := range strings.Fields(text) {
		for r := []rune(word); len(r) > width; r = []rune(word) {
			if line != "" {
				out = append(out, line)
				line = ""
			}
			out = append(out, string(r[:width]))
			word = string(r[width:])
		}
		switch {
		case line == "":
			line = word
		case lipgloss.Width(line)+1+lipgloss.Width(word) <= width:
			line += " " + word
		default:
			out = append(out, line)
			line = word
		}
	}
	if line != "" {
		out = append(out, line)
	}
	return out
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return None
	}
	return Age(now, t) + " ago"
}

func orNone(s string) string {
	if s == "" {
		return None
	}
	return s
}

// grid lays out a small table indented two cells, first row as headings.
// Columns are kept left to right while they fit; the last one kept is cut
// to the width rather than dropped when it is text.
func grid(rows [][]string, right []bool, width int, th Theme) []string {
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for c, cell := range r {
			widths[c] = max(widths[c], textWidth(clean(cell)))
		}
	}
	cols, used := 0, 2
	for c, w := range widths {
		need := w
		if c > 0 {
			need += 2
		}
		if used+need > width {
			if !right[c] && width-used-2 >= 12 {
				widths[c] = width - used - 2
				cols++
			}
			break
		}
		used += need
		cols++
	}
	cols = max(cols, 1)
	out := make([]string, 0, len(rows))
	for i, r := range rows {
		var b strings.Builder
		b.WriteString("  ")
		for c, cell := range r[:cols] {
			if c > 0 {
				b.WriteString("  ")
			}
			if right[c] {
				b.WriteString(padLeft(cell, widths[c]))
			} else {
				b.WriteString(padRight(cell, widths[c]))
			}
		}
		line := strings.TrimRight(b.String(), " ")
		if i == 0 {
			line = th.Heading.Render(line)
		}
		out = append(out, line)
	}
	return out
}
