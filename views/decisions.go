package views

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// LogView is the decision log pane's state; the ui owns it.
type LogView struct {
	Offset        int    // lines scrolled up from the newest
	FilterPeer    string // tubid prefix, case-insensitive; "" for all
	FilterVerdict string // "", "accept" or "reject"
}

// DecisionRows is how many decision lines a log pane of the given height
// shows (below its title and heading).
func DecisionRows(height int) int { return max(height-2, 0) }

// FilterDecisions returns the indexes of the decisions v shows, oldest
// first.
func FilterDecisions(ds []snapshot.Decision, v LogView) []int {
	peer := strings.ToLower(strings.TrimSpace(v.FilterPeer))
	verdict := strings.ToLower(strings.TrimSpace(v.FilterVerdict))
	idx := make([]int, 0, len(ds))
	for i := range ds {
		d := &ds[i]
		if peer != "" && !hasPrefixFold(d.PeerTubID, peer) {
			continue
		}
		if (verdict == "accept" && !d.Accept) || (verdict == "reject" && d.Accept) {
			continue
		}
		idx = append(idx, i)
	}
	return idx
}

func hasPrefixFold(s, lowerPrefix string) bool {
	return len(s) >= len(lowerPrefix) && strings.ToLower(s[:len(lowerPrefix)]) == lowerPrefix
}

type decisionColumn int

const (
	dcTime decisionColumn = iota
	dcPeer
	dcRole
	dcOfferInc
	dcLast
	dcAttempt
	dcVerdict
	dcRule
	dcDetail
	dcCount
)

var decisionTitles = [dcCount]string{"TIME", "PEER", "ROLE", "OFFER-INC", "LAST-CONN", "ATTEMPT", "VERDICT", "RULE", "DETAIL"}

// decisionLayout fixes the log's columns for one frame. The time, verdict,
// peer and rule read a line at a glance and go last; the ids that explain
// the rule come next, and the detail sentence takes what is left.
func decisionLayout(ds []snapshot.Decision, idx []int, width int, showPeer bool) []int {
	ruleW := 4
	for _, i := range idx {
		ruleW = max(ruleW, textWidth(ds[i].Rule))
	}
	ruleW = min(ruleW, 24)
	specs := [dcCount]colSpec{
		dcTime:     {min: 12, max: 12, prio: 0},
		dcPeer:     {min: 8, max: 8, prio: 2},
		dcRole:     {min: 4, max: 4, prio: 4},
		dcOfferInc: {min: 9, max: 9, prio: 7},
		dcLast:     {min: 11, max: 11, prio: 6},
		dcAttempt:  {min: 8, max: 8, prio: 8},
		dcVerdict:  {min: 8, max: 8, prio: 1},
		dcRule:     {min: ruleW, max: ruleW, prio: 3},
		dcDetail:   {min: 12, max: 1 << 20, prio: 5},
	}
	gap := len(decisionGap(width))
	if !showPeer {
		specs[dcPeer] = colSpec{min: width + 1, prio: 99} // never fits
	}
	return layoutColumns(specs[:], width, 0, gap)
}

// decisionGap narrows the column gap below 100 cells: there every cell
// given to the gaps comes out of the detail sentence.
func decisionGap(width int) string {
	if width < 100 {
		return " "
	}
	return "  "
}

// decisionDetail is the sentence for the detail column. A slave learns
// only the master's answer, so its lines carry what came back.
func decisionDetail(d *snapshot.Decision) string {
	var extra string
	if d.Role == snapshot.Slave {
		switch {
		case d.Accept && d.Current != "":
			extra = "current-connection " + shortConn(d.Current)
		case !d.Accept && d.Error != "":
			extra = "error: " + d.Error
		}
	}
	switch {
	case d.Detail == "":
		if extra == "" {
			return None
		}
		return extra
	case extra == "":
		return d.Detail
	default:
		return extra + " — " + d.Detail
	}
}

func decisionHeading(widths []int, width int, th Theme) string {
	sep := decisionGap(width)
	var b strings.Builder
	first := true
	for c := range dcCount {
		if widths[c] == 0 {
			continue
		}
		if !first {
			b.WriteString(sep)
		}
		first = false
		b.WriteString(padRight(decisionTitles[c], widths[c]))
	}
	return th.Heading.Render(padRight(b.String(), width))
}

func decisionLine(d *snapshot.Decision, widths []int, width int, th Theme) string {
	sep := decisionGap(width)
	var b strings.Builder
	first := true
	for c := range dcCount {
		w := widths[c]
		if w == 0 {
			continue
		}
		if !first {
			b.WriteString(sep)
		}
		first = false
		switch c {
		case dcTime:
			t := None
			if !d.Time.IsZero() {
				t = d.Time.Format("15:04:05.000")
			}
			b.WriteString(th.Dim.Render(padRight(t, w)))
		case dcPeer:
			b.WriteString(padRight(Short(d.PeerTubID, 8), w))
		case dcRole:
			b.WriteString(padRight(roleLetter(d.Role), w))
		case dcOfferInc:
			b.WriteString(padRight(Short(d.OfferIncarnation, 8), w))
		case dcLast:
			b.WriteString(padRight(shortConn(d.OfferLast), w))
		case dcAttempt:
			b.WriteString(th.Dim.Render(padRight(Short(d.OfferAttemptID, 8), w)))
		case dcVerdict:
			if d.Accept {
				b.WriteString(th.Accept.Render(padRight("✓ ACCEPT", w)))
			} else {
				b.WriteString(th.Reject.Render(padRight("✗ REJECT", w)))
			}
		case dcRule:
			rule := d.Rule
			if rule == "" {
				rule = None
			}
			b.WriteString(padRight(rule, w))
		case dcDetail:
			// Last column: no trailing padding beyond the line's width.
			b.WriteString(th.Dim.Render(truncate(decisionDetail(d), w)))
		}
	}
	return b.String()
}

// RenderDecisions draws the decision log as a width×height pane: a title
// with the filter in force, column headings, then one line per decision,
// newest at the bottom, scrolled v.Offset lines up from the newest.
func RenderDecisions(ds []snapshot.Decision, v LogView, width, height int, th Theme) string {
	if width <= 0 || height <= 0 {
		return ""
	}
	idx := FilterDecisions(ds, v)
	rows := DecisionRows(height)
	offset := min(max(v.Offset, 0), max(len(idx)-rows, 0))
	end := len(idx) - offset
	start := max(end-rows, 0)
	window := idx[start:end]

	var filters []string
	if p := strings.TrimSpace(v.FilterPeer); p != "" {
		filters = append(filters, "peer "+p+"*")
	}
	if vd := strings.ToLower(strings.TrimSpace(v.FilterVerdict)); vd == "accept" || vd == "reject" {
		filters = append(filters, vd+"s only")
	}
	info := fmt.Sprintf("%d decisions", len(ds))
	if len(filters) > 0 {
		info = fmt.Sprintf("%d of %d decisions · %s", len(idx), len(ds), strings.Join(filters, " · "))
	}
	title := th.Title.Render("Decision log") + "  " + th.Dim.Render(clean(info))
	if offset > 0 {
		more := fmt.Sprintf("↓ %d newer", offset)
		if lw := textWidth("Decision log  " + info); lw+2+textWidth(more) <= width {
			title += strings.Repeat(" ", width-lw-textWidth(more)) + th.Warn.Render(more)
		}
	}

	lines := []string{title}
	// Sized over the whole filtered log, not the window, so columns do not
	// shift while scrolling.
	widths := decisionLayout(ds, idx, width, true)
	lines = append(lines, decisionHeading(widths, width, th))
	for _, i := range window {
		lines = append(lines, decisionLine(&ds[i], widths, width, th))
	}
	if len(idx) == 0 {
		msg := "no decisions yet"
		if len(ds) > 0 {
			msg = "no decisions match the filter"
		}
		lines = append(lines, th.Dim.Render(msg))
	}
	return pane(lines, width, height)
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
