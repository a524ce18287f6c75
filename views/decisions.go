package views

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// LogView is the decision log pane's state; the ui owns it. Positions are
// decision sequence numbers, not offsets from the newest line, so the
// lines under the reader stay put while new ones arrive below.
type LogView struct {
	Cursor  uint64 // Seq of the line under the cursor; 0 follows the newest
	Top     uint64 // Seq of the first line shown; 0 keeps the cursor line lowest
	Rule    string // only this rule; "" for all
	Text    string // case-insensitive substring of peer, rule, sentence; "" for all
	Verdict string // "", "accept" or "reject"
	Search  string // n/N jump between lines containing it
	// Open holds the lines expanded with enter, by their Seq: a decision
	// shows its offer, the held record and other policies' verdicts; a
	// group shows its members.
	Open    map[uint64]bool
	NoGroup bool // show repeated lines one by one
}

// groupBit marks a group's key in LogView.Open, so opening a group does
// not also open its first member.
const groupBit = 1 << 63

// OpenKey is the key of a line in LogView.Open.
func OpenKey(l LogLine) uint64 {
	if l.Group {
		return l.Seq | groupBit
	}
	return l.Seq
}

// groupMin is the shortest run of alike decisions folded into one line.
const groupMin = 3

// LogLine is one line of the log as shown: a decision, or a run of alike
// decisions (same rule, verdict and role) folded into one.
type LogLine struct {
	First, Last int    // indexes into the decisions, inclusive, oldest first
	Count       int    // decisions in the run (those passing the filters)
	Seq         uint64 // the first decision's Seq: the line's identity
	LastSeq     uint64
	Member      bool // a decision shown inside an open group
	Group       bool // a folded run (Count ≥ groupMin)
	Peers       int  // distinct peers in a group
}

// LogLines folds the filtered log into lines, oldest first. The ui keeps
// the result until the snapshot, a filter or an expansion changes.
func LogLines(ds []snapshot.Decision, v LogView) []LogLine {
	rule := strings.TrimSpace(v.Rule)
	text := strings.ToLower(strings.TrimSpace(v.Text))
	verdict := strings.ToLower(strings.TrimSpace(v.Verdict))
	pass := func(d *snapshot.Decision) bool {
		if rule != "" && d.Rule != rule {
			return false
		}
		if (verdict == "accept" && !d.Accept) || (verdict == "reject" && d.Accept) {
			return false
		}
		return text == "" || decisionMatches(d, text)
	}
	lines := make([]LogLine, 0, 64)
	var run []int
	flush := func() {
		if len(run) == 0 {
			return
		}
		if len(run) < groupMin || v.NoGroup {
			for _, i := range run {
				lines = append(lines, LogLine{First: i, Last: i, Count: 1, Seq: ds[i].Seq, LastSeq: ds[i].Seq})
			}
		} else {
			g := LogLine{First: run[0], Last: run[len(run)-1], Count: len(run), Group: true,
				Seq: ds[run[0]].Seq, LastSeq: ds[run[len(run)-1]].Seq, Peers: distinctPeers(ds, run)}
			lines = append(lines, g)
			if v.Open[OpenKey(g)] {
				for _, i := range run {
					lines = append(lines, LogLine{First: i, Last: i, Count: 1, Seq: ds[i].Seq, LastSeq: ds[i].Seq, Member: true})
				}
			}
		}
		run = run[:0]
	}
	for i := range ds {
		d := &ds[i]
		if !pass(d) {
			continue
		}
		if len(run) > 0 && !alike(&ds[run[len(run)-1]], d) {
			flush()
		}
		run = append(run, i)
	}
	flush()
	return lines
}

func alike(a, b *snapshot.Decision) bool {
	return a.Rule == b.Rule && a.Accept == b.Accept && a.Role == b.Role
}

func distinctPeers(ds []snapshot.Decision, run []int) int {
	seen := make(map[string]struct{}, len(run))
	for _, i := range run {
		seen[ds[i].PeerTubID] = struct{}{}
	}
	return len(seen)
}

func decisionMatches(d *snapshot.Decision, lower string) bool {
	return containsFold(d.PeerTubID, lower) || containsFold(d.Rule, lower) ||
		containsFold(d.Detail, lower) || containsFold(d.Error, lower) ||
		containsFold(d.OfferIncarnation, lower) || containsFold(d.OfferAttemptID, lower)
}

// LineMatches says whether a line holds a decision containing term
// (lowercase), for n/N.
func LineMatches(ds []snapshot.Decision, l LogLine, lowerTerm string) bool {
	if lowerTerm == "" {
		return false
	}
	for i := l.First; i <= l.Last; i++ {
		if decisionMatches(&ds[i], lowerTerm) {
			return true
		}
	}
	return false
}

// LineAt is the index of the line holding the decision seq, or the first
// line after it when that decision is gone (filtered, or out of the ring);
// the last line when every line is older; -1 when there are none.
func LineAt(lines []LogLine, seq uint64) int {
	if len(lines) == 0 {
		return -1
	}
	i, _ := slices.BinarySearchFunc(lines, seq, func(l LogLine, s uint64) int {
		switch {
		case l.LastSeq < s:
			return -1
		case l.Seq > s:
			return 1
		}
		return 0
	})
	// Members of an open group share its range; prefer the exact line.
	for j := i; j < len(lines) && lines[j].Seq <= seq; j++ {
		if lines[j].Seq == seq {
			return j
		}
	}
	return min(i, len(lines)-1)
}

// Rules lists the rules in the log, for the rule filter to cycle through.
func Rules(ds []snapshot.Decision) []string {
	seen := map[string]bool{}
	var out []string
	for i := range ds {
		if r := ds[i].Rule; !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return out
}

// LogRows is how many lines a log pane of the given height shows below its
// title and heading.
func LogRows(height int) int { return max(height-2, 0) }

// LogWindow places the log's window: the index of the cursor line and of
// the first line shown, such that the cursor line and its expansion are
// on screen. A zero Cursor is the newest line; a zero Top puts the cursor
// line at the bottom.
func LogWindow(ds []snapshot.Decision, lines []LogLine, v LogView, width, height int) (cursor, top int) {
	if len(lines) == 0 {
		return -1, 0
	}
	rows := max(LogRows(height), 1)
	cursor = len(lines) - 1
	if v.Cursor != 0 {
		cursor = LineAt(lines, v.Cursor)
	}
	tall := func(i int) int { return 1 + len(expansion(ds, lines[i], v, width, time.Time{})) }
	if v.Top != 0 {
		top = LineAt(lines, v.Top)
	} else {
		top, used := cursor, tall(cursor)
		for top > 0 && used+tall(top-1) <= rows {
			top--
			used += tall(top)
		}
		return cursor, top
	}
	if cursor < top {
		top = cursor
	}
	for used := 0; ; {
		used = 0
		for i := top; i <= cursor; i++ {
			used += tall(i)
		}
		if used <= rows || top == cursor {
			break
		}
		top++
	}
	return cursor, top
}

// logRow is what one log line's cells read from.
type logRow struct {
	d     *snapshot.Decision // the line's decision, the newest of a group
	line  LogLine
	first *snapshot.Decision
	open  bool
}

// logColumns is the log's shape. The time, verdict, peer and rule read a
// line at a glance and go last; the ids that explain the rule come next,
// the attempt id shrinks first, and the sentence takes what is left.
var logColumns = []column[logRow]{
	{title: "TIME", min: 12, max: 12, prio: 0, grow: 0, cell: func(r *logRow, _ time.Time) string {
		if r.first.Time.IsZero() {
			return None
		}
		return r.first.Time.Format("15:04:05.000")
	}},
	{title: "PEER", min: 8, max: 8, prio: 2, grow: 0, cell: func(r *logRow, _ time.Time) string {
		if r.line.Group && r.line.Peers > 1 {
			return plural(r.line.Peers, "peer")
		}
		prefix := ""
		if r.line.Member {
			prefix = "└"
		}
		return prefix + Short(r.d.PeerTubID, 8-len(prefix)/3)
	}},
	{title: "ROLE", min: 4, max: 4, prio: 4, grow: 1, expendable: true, cell: func(r *logRow, _ time.Time) string { return roleLetter(r.d.Role) }},
	{title: "OFFER-INC", min: 9, max: 9, prio: 7, grow: 2, expendable: true, cell: func(r *logRow, _ time.Time) string {
		if r.line.Group {
			return ""
		}
		return Short(r.d.OfferIncarnation, 8)
	}},
	{title: "LAST-CONN", min: 10, max: 17, prio: 6, grow: 2, expendable: true, cell: func(r *logRow, _ time.Time) string {
		if r.line.Group {
			return ""
		}
		return shortConn(r.d.OfferLast)
	}},
	{title: "ATTEMPT", min: 8, max: 8, prio: 8, grow: 9, expendable: true, cell: func(r *logRow, _ time.Time) string {
		if r.line.Group {
			return ""
		}
		return Short(r.d.OfferAttemptID, 8)
	}},
	{title: "VERDICT", min: 8, max: 8, prio: 1, grow: 0, cell: func(r *logRow, _ time.Time) string {
		if r.d.Accept {
			return "✓ ACCEPT"
		}
		return "✗ REJECT"
	}},
	{title: "RULE", min: 6, max: 24, prio: 3, grow: 1, cell: func(r *logRow, _ time.Time) string { return orNone(r.d.Rule) }},
	{title: "DETAIL", min: 12, max: 48, prio: 5, grow: 5, flex: true, cell: func(r *logRow, _ time.Time) string {
		if r.line.Group {
			fold := "▸"
			if r.open {
				fold = "▾"
			}
			span := r.d.Time.Sub(r.first.Time)
			return fmt.Sprintf("%s %d× in %s · %s", fold, r.line.Count, Millis(span), DecisionSentence(r.d))
		}
		return DecisionSentence(r.d)
	}},
}

const (
	lcVerdict = 6
	lcDetail  = 8
)

// logColumnsNarrow drops the milliseconds below 100 columns, where every
// cell comes out of the sentence.
var logColumnsNarrow = func() []column[logRow] {
	cols := append([]column[logRow](nil), logColumns...)
	cols[0].min, cols[0].max = 8, 8
	cols[0].cell = func(r *logRow, _ time.Time) string {
		if r.first.Time.IsZero() {
			return None
		}
		return r.first.Time.Format("15:04:05")
	}
	return cols
}()

// logCols is the log's shape at a width.
func logCols(width int) []column[logRow] {
	if width < 100 {
		return logColumnsNarrow
	}
	return logColumns
}

// DecisionSentence is the sentence for a decision's detail column. A slave
// learns only the master's answer; Foolscap's refusal is a bare
// "Duplicate connection", so what we sent is used to say which of the
// master's rules most likely refused it.
func DecisionSentence(d *snapshot.Decision) string {
	if d.Role == snapshot.Slave && !d.Accept && d.Rule == "master-rejected" {
		return "master refused: " + orNone(d.Error) + " · " + slaveRefusalWhy(d)
	}
	var extra string
	if d.Role == snapshot.Slave && d.Accept && d.Current != "" && !strings.Contains(d.Detail, d.Current) {
		extra = "current-connection " + shortConn(d.Current)
	}
	switch {
	case d.Detail == "" && extra == "":
		if d.Error != "" {
			return "error: " + d.Error
		}
		return None
	case d.Detail == "":
		return extra
	case extra == "":
		return d.Detail
	default:
		return extra + " · " + d.Detail
	}
}

// slaveRefusalWhy reads a Foolscap master's refusal from the offer we sent:
// each branch is the rule of Foolscap 21.7 that refuses such an offer
// while the master holds a broker for us.
func slaveRefusalWhy(d *snapshot.Decision) string {
	switch {
	case d.OfferIncarnation == "" || d.OfferLast == "":
		return "we sent no incarnation or last-connection, which it cannot compare with the broker it holds (no-incarnation)"
	case strings.HasPrefix(d.OfferLast, "none"):
		return "we sent last-connection none: we never heard its decision, so it takes us for a parallel attempt and keeps the broker it holds (never-decided); after a lost decision that lasts until its broker dies"
	default:
		return "our last-connection " + shortConn(d.OfferLast) + " is not the broker it holds, so it keeps that one (older- or newer-seqnum)"
	}
}

// RenderLog draws the decision log as a width×height pane: a title with
// the filters, counts and what is below the window, the headings, then the
// lines (newest at the bottom), an open line followed by its expansion.
func RenderLog(ds []snapshot.Decision, lines []LogLine, v LogView, total uint64, focused bool, width, height int, now time.Time, th Theme) string {
	if width <= 0 || height <= 0 {
		return ""
	}
	cursor, top := LogWindow(ds, lines, v, width, height)
	rows := LogRows(height)

	var filters []string
	if v.Rule != "" {
		filters = append(filters, "rule "+v.Rule)
	}
	if vd := strings.ToLower(strings.TrimSpace(v.Verdict)); vd == "accept" || vd == "reject" {
		filters = append(filters, vd+"s only")
	}
	if t := strings.TrimSpace(v.Text); t != "" {
		filters = append(filters, fmt.Sprintf("%q", t))
	}
	shown := 0
	for _, l := range lines {
		if !l.Member {
			shown += l.Count
		}
	}
	info := plural(len(ds), "decision")
	if total > uint64(len(ds)) {
		info += fmt.Sprintf(" (of %d)", total)
	}
	if len(filters) > 0 {
		info = fmt.Sprintf("%d of %s · %s", shown, info, strings.Join(filters, " · "))
	}
	if s := strings.TrimSpace(v.Search); s != "" {
		info += fmt.Sprintf(" · search %q (n/N)", s)
	}
	body := make([]string, 0, rows)
	end := top
	if cursor >= 0 {
		widths := logWidths(ds, lines, top, rows, width)
		for i := top; i < len(lines) && len(body) < rows; i++ {
			body = append(body, logLine(ds, lines[i], v, widths, i == cursor && focused, i == cursor, width, th))
			for _, x := range expansion(ds, lines[i], v, width, now) {
				if len(body) < rows {
					body = append(body, th.Dim.Render(x))
				}
			}
			end = i + 1
		}
	}
	below := 0
	for _, l := range lines[min(end, len(lines)):] {
		if !l.Member {
			below += l.Count
		}
	}
	title := th.Title.Render("Decision log") + "  " + th.Dim.Render(clean(info))
	if below > 0 {
		more := fmt.Sprintf("↓ %d new below", below)
		if lw := textWidth("Decision log  " + info); lw+2+textWidth(more) <= width {
			title += strings.Repeat(" ", width-lw-textWidth(more)) + th.Warn.Render(more)
		} else {
			title = th.Title.Render("Decision log") + "  " + th.Warn.Render(more)
		}
	}
	out := []string{title}
	if len(lines) > 0 {
		out = append(out, th.Heading.Render(heading(logCols(width), logWidths(ds, lines, top, rows, width), -1, false, 0, logGap(width), width)))
	} else {
		msg := "no decisions yet: an offer is decided when a peer connects while a broker to it exists"
		if len(ds) > 0 {
			msg = "no decisions match the filters"
		}
		out = append(out, th.Dim.Render(msg))
	}
	out = append(out, body...)
	return pane(out, width, height)
}

func logGap(width int) int {
	if width < 100 {
		return 1
	}
	return 2
}

// logWidths sizes the columns from the lines in the window, so a rule name
// or a connection gets its width and the sentence the rest.
func logWidths(ds []snapshot.Decision, lines []LogLine, top, rows, width int) []int {
	cols := logCols(width)
	want := make([]int, len(cols))
	for c, col := range cols {
		want[c] = textWidth(col.title)
	}
	for i := top; i < len(lines) && i < top+rows; i++ {
		r := rowOf(ds, lines[i], false)
		for _, c := range []int{4, 7, lcDetail} { // LAST-CONN, RULE and the sentence vary
			want[c] = max(want[c], textWidth(cols[c].cell(&r, time.Time{})))
		}
	}
	return layoutColumns(cols, want, width, 0, logGap(width))
}

func rowOf(ds []snapshot.Decision, l LogLine, open bool) logRow {
	return logRow{d: &ds[l.Last], first: &ds[l.First], line: l, open: open}
}

func logLine(ds []snapshot.Decision, l LogLine, v LogView, widths []int, selected, cursor bool, width int, th Theme) string {
	r := rowOf(ds, l, v.Open[OpenKey(l)])
	sep := strings.Repeat(" ", logGap(width))
	search := strings.ToLower(strings.TrimSpace(v.Search))
	var b strings.Builder
	first := true
	for c, col := range logCols(width) {
		w := widths[c]
		if w == 0 {
			continue
		}
		if !first {
			b.WriteString(sep)
		}
		first = false
		text := padRight(col.cell(&r, time.Time{}), w)
		if selected || cursor {
			b.WriteString(text) // styled as a whole below
			continue
		}
		switch {
		case c == lcVerdict && r.d.Accept:
			text = th.Accept.Render(text)
		case c == lcVerdict:
			text = th.Reject.Render(text)
		case c == 0 || c == 5 || (c == lcDetail && !l.Group):
			text = th.Dim.Render(text)
		case c == 1 && search != "" && LineMatches(ds, l, search):
			text = th.Match.Render(text)
		}
		b.WriteString(text)
	}
	if selected {
		return th.Selected.Render(padRight(b.String(), width))
	}
	if cursor {
		// Without focus the cursor line is still marked, more quietly.
		return th.Match.Render(padRight(b.String(), width))
	}
	return b.String()
}

// expansion is what an open decision line shows under it: the whole
// sentence, the offer, the record it was weighed against and how other
// policies would have decided. Groups open into member lines instead.
func expansion(ds []snapshot.Decision, l LogLine, v LogView, width int, now time.Time) []string {
	if l.Group || !v.Open[OpenKey(l)] {
		return nil
	}
	return DecisionDetail(&ds[l.First], width, now)
}

// DecisionDetail is a decision in full, one fact per line, indented to
// sit under its log line.
func DecisionDetail(d *snapshot.Decision, width int, now time.Time) []string {
	const indent = "      "
	w := width - len(indent)
	var out []string
	add := func(label, text string) {
		for i, l := range wrap(label+text, w) {
			if i > 0 {
				l = strings.Repeat(" ", len(label)) + l
			}
			out = append(out, indent+l)
		}
	}
	add("why:    ", orNone(d.Rule)+": "+decisionWhy(d))
	offer := fmt.Sprintf("my-incarnation %s · last-connection %s · this-connection %s · broker #%d · we were %s",
		orNone(d.OfferIncarnation), orNone(d.OfferLast), orNone(d.OfferAttemptID), d.BrokerID, orNone(string(d.Role)))
	add("offer:  ", offer)
	switch {
	case d.Existing != nil:
		h := d.Existing
		add("held:   ", fmt.Sprintf("broker #%d · slave-incarnation %s · seqnum %d · attempt %s · opened %s · last heard %s",
			h.BrokerID, orNone(h.SlaveIncarnation), h.SeqNum, orNone(h.AttemptID), ago(now, h.Created), ago(now, h.LastReceived)))
	case d.Role == snapshot.Master:
		add("held:   ", "no established broker for this peer")
	}
	if d.Current != "" {
		add("answer: ", "current-connection "+d.Current)
	}
	if d.Error != "" {
		add("answer: ", "error "+strconv.Quote(d.Error))
	}
	for _, a := range d.WhatIf {
		verdict := "✗ reject"
		if a.Accept {
			verdict = "✓ accept"
		}
		add("if:     ", fmt.Sprintf("%s would %s (%s): %s", a.Policy, verdict, a.Rule, a.Detail))
	}
	return out
}

// decisionWhy is a decision's sentence, with what the slave heard.
func decisionWhy(d *snapshot.Decision) string {
	return clean(DecisionSentence(d))
}

// decisionRecord is the export form of a decision: stable lowercase keys,
// one JSON object per line.
type decisionRecord struct {
	Seq              uint64    `json:"seq"`
	Time             time.Time `json:"time"`
	Peer             string    `json:"peer"`
	Broker           uint64    `json:"broker"`
	Role             string    `json:"role"`
	OfferIncarnation string    `json:"offer_incarnation"`
	OfferLast        string    `json:"offer_last_connection"`
	OfferAttemptID   string    `json:"offer_attempt_id"`
	Verdict          string    `json:"verdict"`
	Accept           bool      `json:"accept"`
	Rule             string    `json:"rule"`
	Detail           string    `json:"detail"`
	Current          string    `json:"current_connection,omitempty"`
	Error            string    `json:"error,omitempty"`
}

// DecisionJSON is d as one line of JSON (no trailing newline) for export.
func DecisionJSON(d snapshot.Decision) ([]byte, error) {
	verdict := "reject"
	if d.Accept {
		verdict = "accept"
	}
	return json.Marshal(decisionRecord{
		Seq:              d.Seq,
		Time:             d.Time,
		Peer:             d.PeerTubID,
		Broker:           d.BrokerID,
		Role:             string(d.Role),
		OfferIncarnation: d.OfferIncarnation,
		OfferLast:        d.OfferLast,
		OfferAttemptID:   d.OfferAttemptID,
		Verdict:          verdict,
		Accept:           d.Accept,
		Rule:             d.Rule,
		Detail:           d.Detail,
		Current:          d.Current,
		Error:            d.Error,
	})
}
