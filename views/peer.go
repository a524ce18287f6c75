package views

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"

	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// maxDetailRows caps each list in the peer pane so one long history cannot
// push the decisions off the screen.
const maxDetailRows = 6

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

// PeerDetail is everything known about one peer as a width×height pane:
// identity and hints, the clone flag, its master- and slave-table rows, the
// reconnector, incarnations seen, its connections, and the decisions about
// it, scrolled v.Offset back from the newest. The bottom decision's sentence
// is shown in full. When the pane is short the blank lines between sections
// go first, then the older decisions.
func PeerDetail(s snapshot.Snapshot, v PeerView, width, height int, now time.Time, th Theme) string {
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
	// fit picks the long form of a value when it fits, else the short one.
	fit := func(long, short string) string {
		if textWidth(long) <= valueW {
			return long
		}
		return short
	}

	// Identity, tables and reconnector: one line each.
	var ident []string
	title := "Peer " + clean(peerTubID)
	if peer != nil && peer.Nickname != "" {
		title += "  “" + clean(peer.Nickname) + "”"
	}
	ident = append(ident, th.Title.Render(truncate(title, width)))
	if peer == nil {
		ident = append(ident, "  "+th.Warn.Render("not in the peer table; shown from brokers and the log"))
	} else {
		ident = append(ident, kv("hints", orNone(strings.Join(peer.Hints, ", "))))
		if peer.Clone {
			ident = append(ident, "  "+th.Dim.Render(padRight("clone", keyW))+
				th.Warn.Render("✗ YES: interleaving incarnations, two processes share its key"))
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
		if r.LastError != "" {
			ident = append(ident, "  "+th.Dim.Render(padRight("last error", keyW))+th.Reject.Render(truncate(r.LastError, valueW)))
		}
		ident = append(ident, kv("furl", r.FURL))
	}
	sections := [][]string{ident}

	if peer != nil {
		incs := peer.Incarnations
		sec := []string{th.Title.Render(fmt.Sprintf("Incarnations seen (%d, oldest first)", len(incs)))}
		if len(incs) > maxDetailRows {
			sec = append(sec, th.Dim.Render(fmt.Sprintf("  … %d earlier", len(incs)-maxDetailRows)))
			incs = incs[len(incs)-maxDetailRows:]
		}
		rows := [][]string{{"INCARNATION", "FIRST SEEN", "LAST SEEN", "OFFERS"}}
		for _, inc := range incs {
			rows = append(rows, []string{inc.Incarnation, ago(now, inc.FirstSeen), ago(now, inc.LastSeen), strconv.Itoa(inc.Offers)})
		}
		if len(rows) == 1 {
			sec = append(sec, th.Dim.Render("  none"))
		} else {
			sec = append(sec, grid(rows, []bool{false, true, true, true}, width, th)...)
		}
		sections = append(sections, sec)
	}

	rows := [][]string{{"ID", "STATE", "ROLE", "SIDE", "REMOTE", "AGE", "LAST-RX", "RTT", "SEQ", "PINGS", "TLS"}}
	hidden := 0
	for i := range s.Brokers {
		b := &s.Brokers[i]
		if b.PeerTubID != peerTubID {
			continue
		}
		if len(rows) > maxDetailRows {
			hidden++
			continue
		}
		rtt := None
		if b.RTT > 0 {
			rtt = b.RTT.Round(100 * time.Microsecond).String()
		}
		rows = append(rows, []string{"#" + strconv.FormatUint(b.ID, 10), stateLabel(b.State), roleLetter(b.Role), sideWord(b.Side),
			orNone(b.RemoteAddr), Age(now, b.Created), Age(now, b.LastReceived), rtt, brokerCell(b, ColSeqNum, now), strconv.Itoa(b.PingsOutstanding),
			orNone(strings.TrimPrefix(b.TLS, "TLS "))})
	}
	sec := []string{th.Title.Render(fmt.Sprintf("Connections (%d)", len(rows)-1+hidden))}
	if len(rows) == 1 {
		sec = append(sec, th.Dim.Render("  none"))
	} else {
		sec = append(sec, grid(rows, []bool{true, false, false, false, false, true, true, true, true, true, false}, width, th)...)
	}
	if hidden > 0 {
		sec = append(sec, th.Dim.Render(fmt.Sprintf("  … %d more", hidden)))
	}
	sections = append(sections, sec)

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

	// Blank lines between sections only when everything, with at least a
	// heading and the newest decision, still fits.
	fixed := 1
	for _, sec := range sections {
		fixed += len(sec)
	}
	wantDecisions := 1
	if len(mine) > 0 {
		wantDecisions = 2
	}
	spaced := fixed+len(sections)+wantDecisions <= height

	var lines []string
	for _, sec := range sections {
		lines = append(lines, sec...)
		if spaced {
			lines = append(lines, "")
		}
	}
	lines = append(lines, decTitle)
	if len(mine) == 0 {
		lines = append(lines, th.Dim.Render("  none in the log"))
		return pane(lines, width, height)
	}
	room := height - len(lines) - 1 // one line for the headings
	if room < 1 {
		return pane(lines, width, height)
	}
	// The bottom decision's sentence in full, wrapped, when it fits beside
	// at least that decision's own row: the table cuts it to the width.
	bottom := &s.Decisions[mine[len(mine)-1]]
	why := wrap("why: "+decisionWhy(bottom), width-4)
	if room-len(why) >= 1 {
		room -= len(why)
	} else {
		why = nil
	}
	if len(mine) > room {
		mine = mine[len(mine)-room:]
	}
	widths := decisionLayout(s.Decisions, mine, width-2, false)
	lines = append(lines, "  "+decisionHeading(widths, width-2, th))
	for _, i := range mine {
		lines = append(lines, "  "+decisionLine(&s.Decisions[i], widths, width-2, th))
	}
	for _, w := range why {
		lines = append(lines, th.Dim.Render("    "+w))
	}
	return pane(lines, width, height)
}

// decisionWhy is a decision's rule and sentence, with what the slave heard.
func decisionWhy(d *snapshot.Decision) string {
	text := d.Rule
	if d.Detail != "" {
		text += ": " + clean(d.Detail)
	}
	if d.Current != "" {
		text += " (current-connection " + clean(d.Current) + ")"
	}
	if d.Error != "" && !d.Accept {
		text += " (error: " + clean(d.Error) + ")"
	}
	return text
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

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

func orNone(s string) string {
	if s == "" {
		return None
	}
	return s
}

// grid lays out a small table indented two cells, first row as headings,
// dropping trailing columns that would not fit in width.
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
