package views

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// Column is one column of the broker table.
type Column int

const (
	ColPeer        Column = iota // short tubid and nickname
	ColRole                      // M or S: our role on the connection
	ColSide                      // out (we dialed) or in (they did)
	ColState                     // glyph and word
	ColRemote                    // remote address
	ColIncarnation               // the peer's incarnation, short
	ColSeqNum                    // the master's counter for the connection
	ColAttempt                   // attempt id of the offer that created it, short
	ColAge                       // since the broker was created
	ColLastRx                    // since anything was last received
	ColPings                     // pings without a pong
)

// Columns lists every broker-table column in display order; the ui cycles
// its sort key through it.
var Columns = []Column{ColPeer, ColRole, ColSide, ColState, ColRemote, ColIncarnation, ColSeqNum, ColAttempt, ColAge, ColLastRx, ColPings}

var columnTitles = [...]string{"PEER", "ROLE", "SIDE", "STATE", "REMOTE", "PEER-INC", "SEQ", "ATTEMPT", "AGE", "LAST-RX", "PINGS"}

// String is the column's heading.
func (c Column) String() string {
	if c < 0 || int(c) >= len(columnTitles) {
		return "?"
	}
	return columnTitles[c]
}

// brokerColumns is the table's shape. Minimums leave room for the heading
// plus a sort arrow, except ROLE and SIDE whose arrow borrows the gap; a
// remote address is only useful with its port, so it is never cut short. Priorities keep peer, state, role and last-rx
// to the end, then age and remote; the ids that only matter when chasing a
// duplicate-connection decision go first.
var brokerColumns = [...]colSpec{
	ColPeer:        {min: 14, max: 26, prio: 0},
	ColRole:        {min: 4, max: 4, prio: 2},
	ColSide:        {min: 4, max: 4, prio: 7},
	ColState:       {min: 13, max: 13, prio: 1},
	ColRemote:      {min: 19, max: 34, prio: 5},
	ColIncarnation: {min: 9, max: 9, prio: 9},
	ColSeqNum:      {min: 6, max: 6, prio: 8, right: true},
	ColAttempt:     {min: 8, max: 8, prio: 10},
	ColAge:         {min: 6, max: 6, prio: 4, right: true},
	ColLastRx:      {min: 8, max: 8, prio: 3, right: true},
	ColPings:       {min: 6, max: 6, prio: 6, right: true},
}

// BrokerTable is the broker pane's state; the ui owns and updates it.
type BrokerTable struct {
	SortBy Column
	Desc   bool
	Filter string // case-insensitive substring; "" shows all
	Cursor int    // index into the sorted, filtered rows
	Offset int    // first visible row
}

// BrokerRows is how many broker rows a pane of the given height shows
// (below the heading, above the status line).
func BrokerRows(height int) int {
	switch {
	case height >= 3:
		return height - 2
	case height == 2:
		return 1
	default:
		return max(height, 0)
	}
}

// Clamp keeps Cursor within n rows and Offset such that the cursor is
// visible in a pane of the given height.
func (t BrokerTable) Clamp(n, height int) BrokerTable {
	t.Cursor, t.Offset = clampWindow(t.Cursor, t.Offset, n, BrokerRows(height))
	return t
}

func clampWindow(cursor, offset, n, visible int) (int, int) {
	if n <= 0 {
		return 0, 0
	}
	cursor = min(max(cursor, 0), n-1)
	if visible <= 0 {
		return cursor, cursor
	}
	if cursor < offset {
		offset = cursor
	}
	if cursor >= offset+visible {
		offset = cursor - visible + 1
	}
	offset = min(max(offset, 0), max(n-visible, 0))
	return cursor, offset
}

// SortFilter returns indexes into rows, filtered by t.Filter and sorted by
// t.SortBy. Indexes rather than copies: a 10,000-row frame then moves 80 KB
// instead of copying every Broker. Ties fall back to peer tubid and broker
// id, so the order is stable from frame to frame.
func SortFilter(rows []snapshot.Broker, t BrokerTable, now time.Time) []int {
	filter := strings.ToLower(strings.TrimSpace(t.Filter))
	numeric := brokerKey(t.SortBy, now)
	items := make([]sortItem, 0, len(rows))
	for i := range rows {
		if filter != "" && !brokerMatches(&rows[i], filter) {
			continue
		}
		it := sortItem{idx: i}
		if numeric != nil {
			it.key = numeric(&rows[i])
		}
		items = append(items, it)
	}
	byText := brokerText(t.SortBy)
	slices.SortFunc(items, func(a, b sortItem) int {
		ra, rb := &rows[a.idx], &rows[b.idx]
		var c int
		if numeric != nil {
			c = cmp.Compare(a.key, b.key)
		} else {
			c = strings.Compare(byText(ra), byText(rb))
		}
		if t.Desc {
			c = -c
		}
		if c != 0 {
			return c
		}
		if c = strings.Compare(ra.PeerTubID, rb.PeerTubID); c != 0 {
			return c
		}
		return cmp.Compare(ra.ID, rb.ID)
	})
	idx := make([]int, len(items))
	for i, it := range items {
		idx[i] = it.idx
	}
	return idx
}

// sortItem carries a row's numeric sort key, computed once per frame rather
// than once per comparison (time arithmetic dominated the sort otherwise).
type sortItem struct {
	idx int
	key int64
}

// SelectedBroker is the broker under the cursor, as the ui sees it.
func SelectedBroker(rows []snapshot.Broker, t BrokerTable, now time.Time) (snapshot.Broker, bool) {
	idx := SortFilter(rows, t, now)
	if t.Cursor < 0 || t.Cursor >= len(idx) {
		return snapshot.Broker{}, false
	}
	return rows[idx[t.Cursor]], true
}

func brokerMatches(b *snapshot.Broker, lowerFilter string) bool {
	return containsFold(b.PeerTubID, lowerFilter) ||
		containsFold(b.Nickname, lowerFilter) ||
		containsFold(b.RemoteAddr, lowerFilter) ||
		containsFold(string(b.State), lowerFilter) ||
		containsFold(b.PeerIncarnation, lowerFilter)
}

// containsFold reports whether s contains the lowercase sub, ignoring case,
// without allocating. Tubids, incarnations and states are lowercase already,
// so the optimised exact search settles most rows; only fields with capitals
// (nicknames, hostnames) take the folding loop.
func containsFold(s, sub string) bool {
	if strings.Contains(s, sub) {
		return true
	}
	if !isASCII(s) || !isASCII(sub) {
		return strings.Contains(strings.ToLower(s), sub)
	}
	upper := false
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			upper = true
			break
		}
	}
	if !upper {
		return false
	}
	for i := 0; i+len(sub) <= len(s); i++ {
		j := 0
		for ; j < len(sub); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != sub[j] {
				break
			}
		}
		if j == len(sub) {
			return true
		}
	}
	return false
}

var stateRank = map[snapshot.BrokerState]int64{
	snapshot.Negotiating: 0, snapshot.Live: 1, snapshot.Suspect: 2,
}

// brokerKey is the numeric sort key for numeric columns, nil for text
// ones. Ages sort by what Age displays: ascending means youngest first, a
// zero time counts as the oldest and a future one as just now.
func brokerKey(c Column, now time.Time) func(b *snapshot.Broker) int64 {
	switch c {
	case ColState:
		return func(b *snapshot.Broker) int64 {
			if r, ok := stateRank[b.State]; ok {
				return r
			}
			return int64(len(stateRank))
		}
	case ColSeqNum:
		return func(b *snapshot.Broker) int64 { return int64(min(b.SeqNum, math.MaxInt64)) }
	case ColAge:
		return func(b *snapshot.Broker) int64 { return int64(since(now, b.Created)) }
	case ColLastRx:
		return func(b *snapshot.Broker) int64 { return int64(since(now, b.LastReceived)) }
	case ColPings:
		return func(b *snapshot.Broker) int64 { return int64(b.PingsOutstanding) }
	}
	return nil
}

// brokerText is the text sort key for the other columns.
func brokerText(c Column) func(b *snapshot.Broker) string {
	switch c {
	case ColRole:
		return func(b *snapshot.Broker) string { return string(b.Role) }
	case ColSide:
		return func(b *snapshot.Broker) string { return sideWord(b.Side) }
	case ColRemote:
		return func(b *snapshot.Broker) string { return b.RemoteAddr }
	case ColIncarnation:
		return func(b *snapshot.Broker) string { return b.PeerIncarnation }
	case ColAttempt:
		return func(b *snapshot.Broker) string { return b.AttemptID }
	default:
		// Peer: the tubid decides, and the nickname is tied to it.
		return func(b *snapshot.Broker) string { return b.PeerTubID }
	}
}

// since is the age Age displays, as a number: zero times are the oldest
// and future times count as just now.
func since(now, t time.Time) time.Duration {
	if t.IsZero() {
		return 1<<63 - 1
	}
	return max(now.Sub(t), 0)
}

func brokerCell(b *snapshot.Broker, c Column, now time.Time) string {
	switch c {
	case ColPeer:
		p := Short(b.PeerTubID, 8)
		if b.Nickname != "" {
			p += " " + b.Nickname
		}
		return p
	case ColRole:
		return roleLetter(b.Role)
	case ColSide:
		return sideWord(b.Side)
	case ColState:
		return stateLabel(b.State)
	case ColRemote:
		if b.RemoteAddr == "" {
			return None
		}
		return b.RemoteAddr
	case ColIncarnation:
		return Short(b.PeerIncarnation, 8)
	case ColSeqNum:
		if b.State == snapshot.Negotiating {
			return None // not numbered until the master decides
		}
		return strconv.FormatUint(b.SeqNum, 10)
	case ColAttempt:
		return Short(b.AttemptID, 8)
	case ColAge:
		return Age(now, b.Created)
	case ColLastRx:
		return Age(now, b.LastReceived)
	case ColPings:
		return strconv.Itoa(b.PingsOutstanding)
	}
	return ""
}

// RenderBrokers draws the broker table as a width×height pane: a heading
// line, the visible window of sorted and filtered rows, and a status line.
// Only the visible rows are formatted, so the cost of a frame is the sort
// and filter plus a screenful.
func RenderBrokers(rows []snapshot.Broker, t BrokerTable, width, height int, now time.Time, th Theme) string {
	if width <= 0 || height <= 0 {
		return ""
	}
	idx := SortFilter(rows, t, now)
	visible := BrokerRows(height)
	t = t.Clamp(len(idx), height)

	gap := 2
	specs := brokerColumns
	if width < 60 {
		gap = 1
		specs[ColPeer].min = 8
	}
	widths := layoutColumns(specs[:], width, 2, gap)
	sep := strings.Repeat(" ", gap)

	lines := make([]string, 0, height)
	if height >= 2 {
		lines = append(lines, th.Heading.Render(brokerHeading(t, widths, specs[:], gap, width)))
	}

	end := min(t.Offset+visible, len(idx))
	for i := t.Offset; i < end; i++ {
		lines = append(lines, brokerLine(&rows[idx[i]], i == t.Cursor, widths, specs[:], sep, width, now, th))
	}
	if len(idx) == 0 && visible > 0 {
		msg := "  no brokers"
		if len(rows) > 0 {
			msg = fmt.Sprintf("  no brokers match %q", t.Filter)
		}
		lines = append(lines, th.Dim.Render(padRight(msg, width)))
	}
	for len(lines) < height-1 || (height < 3 && len(lines) < height) {
		lines = append(lines, strings.Repeat(" ", width))
	}
	if height >= 3 {
		lines = append(lines, brokerStatus(len(rows), len(idx), t, width, th))
	}
	return pane(lines, width, height)
}

func brokerHeading(t BrokerTable, widths []int, specs []colSpec, gap, width int) string {
	var h strings.Builder
	h.WriteString("  ")
	first, borrowed := true, 0
	for _, c := range Columns {
		w := widths[c]
		if w == 0 {
			continue
		}
		if !first {
			h.WriteString(strings.Repeat(" ", gap-borrowed))
		}
		first, borrowed = false, 0
		title := c.String()
		if c == t.SortBy {
			if t.Desc {
				title += "↓"
			} else {
				title += "↑"
			}
			if !specs[c].right && textWidth(title) == w+1 && gap > 1 {
				borrowed = 1
				w++
			}
		}
		if specs[c].right {
			h.WriteString(padLeft(title, w))
		} else {
			h.WriteString(padRight(title, w))
		}
	}
	return padRight(h.String(), width)
}

func brokerLine(b *snapshot.Broker, selected bool, widths []int, specs []colSpec, sep string, width int, now time.Time, th Theme) string {
	marker := "  "
	if selected {
		marker = "▶ "
	}
	// Rows styled as a whole: the cursor (one reverse-video bar), suspects
	// (the row must catch the eye) and closed brokers (faded).
	whole, rowStyle := true, th.Selected
	switch {
	case selected:
	case b.State == snapshot.Suspect:
		rowStyle = th.Suspect
	default:
		whole = false
	}

	var line strings.Builder
	line.WriteString(marker)
	first := true
	for _, c := range Columns {
		w := widths[c]
		if w == 0 {
			continue
		}
		if !first {
			line.WriteString(sep)
		}
		first = false
		text := brokerCell(b, c, now)
		if c == ColPeer && textWidth(text) > w && w < 8+1+3 {
			// A nickname cut to a letter or two is noise; keep the tubid.
			text = Short(b.PeerTubID, 8)
		}
		if specs[c].right {
			text = padLeft(text, w)
		} else {
			text = padRight(text, w)
		}
		if !whole {
			switch {
			case c == ColState:
				text = th.stateStyle(b.State).Render(text)
			case c == ColPings && b.PingsOutstanding > 1:
				text = th.Warn.Render(text)
			case c == ColIncarnation || c == ColAttempt || (c == ColRemote && b.RemoteAddr == ""):
				text = th.Dim.Render(text)
			}
		}
		line.WriteString(text)
	}
	if whole {
		return rowStyle.Render(padRight(line.String(), width))
	}
	return line.String()
}

func brokerStatus(total, shown int, t BrokerTable, width int, th Theme) string {
	left := fmt.Sprintf("  %d brokers", total)
	if strings.TrimSpace(t.Filter) != "" {
		left = fmt.Sprintf("  %d of %d brokers match %q", shown, total, strings.TrimSpace(t.Filter))
	}
	dir := "↑"
	if t.Desc {
		dir = "↓"
	}
	right := "sort " + strings.ToLower(t.SortBy.String()) + " " + dir
	if shown > 0 {
		right = fmt.Sprintf("%d/%d  ", t.Cursor+1, shown) + right
	}
	if textWidth(left)+2+textWidth(right) > width {
		return th.Dim.Render(padRight(left, width))
	}
	return th.Dim.Render(padRight(left, width-textWidth(right)) + right)
}
