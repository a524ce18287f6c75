package views

import (
	"slices"
	"strings"
	"time"
)

// column is one column of a table, defined once: its heading, how wide it
// may be, when it is kept and grown, and how a row reads in it. Tables are
// slices of these (pug's table shape), so heading, layout and cells can
// never disagree.
type column[R any] struct {
	title string
	min   int  // narrowest useful width; the heading and a sort arrow fit
	max   int  // widest it grows for its content; for a flex column, the content worth dropping expendable columns for (0: flexWant)
	prio  int  // admission order: lower is kept longer as the width shrinks
	grow  int  // lower grows to its content first; the last to grow shrinks first
	flex  bool // takes the slack once every other column has its content width
	// expendable columns are dropped, least important first, while a flex
	// column cannot show its content (up to flexWant cells): the
	// explanation is worth more than an id.
	expendable bool
	right      bool // right-aligned (numbers, ages)
	cell       func(r *R, now time.Time) string
}

// flexWant caps how much of a flex column's content is worth dropping
// expendable columns for.
const flexWant = 64

// layoutColumns decides which columns fit in width (after lead cells for a
// marker) and how wide each is; 0 means dropped. Columns are admitted at
// their minimum by priority; then each grows toward want[i] (its content,
// capped at max; a flex column's capped at flexWant) in grow order; then
// the flex columns share what is left. While a flex column still falls
// short of its content, expendable columns are dropped, least important
// first. want may be nil: every column then wants its max.
func layoutColumns[R any](cols []column[R], want []int, width, lead, gap int) []int {
	dropped := make([]bool, len(cols))
	for {
		widths := fitColumns(cols, want, dropped, width, lead, gap)
		short := false
		for i, c := range cols {
			if c.flex && widths[i] > 0 && want != nil && widths[i] < min(want[i], c.flexCap()) {
				short = true
			}
		}
		if !short {
			return widths
		}
		drop := -1
		for i, c := range cols {
			if c.expendable && widths[i] > 0 && (drop < 0 || c.prio > cols[drop].prio) {
				drop = i
			}
		}
		if drop < 0 {
			return widths
		}
		dropped[drop] = true
	}
}

func (c column[R]) flexCap() int {
	if c.max > 0 {
		return c.max
	}
	return flexWant
}

func fitColumns[R any](cols []column[R], want []int, dropped []bool, width, lead, gap int) []int {
	widths := make([]int, len(cols))
	order := make([]int, 0, len(cols))
	for i := range cols {
		if !dropped[i] {
			order = append(order, i)
		}
	}
	slices.SortStableFunc(order, func(a, b int) int { return cols[a].prio - cols[b].prio })
	used, shown := lead, 0
	for _, i := range order {
		need := cols[i].min
		if shown > 0 {
			need += gap
		}
		if used+need > width {
			continue
		}
		used += need
		widths[i] = cols[i].min
		shown++
	}
	slices.SortStableFunc(order, func(a, b int) int { return cols[a].grow - cols[b].grow })
	for _, i := range order {
		c := cols[i]
		if widths[i] == 0 {
			continue
		}
		target := c.max
		switch {
		case want == nil && c.flex:
			continue
		case c.flex:
			target = min(want[i], c.flexCap())
		case want != nil:
			target = min(max(want[i], c.min), c.max)
		}
		grow := min(target-widths[i], width-used)
		if grow > 0 {
			widths[i] += grow
			used += grow
		}
	}
	var flex []int
	for _, i := range order {
		if widths[i] > 0 && cols[i].flex {
			flex = append(flex, i)
		}
	}
	for k, i := range flex {
		share := (width - used) / (len(flex) - k)
		widths[i] += share
		used += share
	}
	return widths
}

// heading renders the column titles at their widths, marking the sort
// column with an arrow.
func heading[R any](cols []column[R], widths []int, sortBy int, desc bool, lead, gap, width int) string {
	var h strings.Builder
	h.WriteString(strings.Repeat(" ", lead))
	first := true
	for i, c := range cols {
		w := widths[i]
		if w == 0 {
			continue
		}
		if !first {
			h.WriteString(strings.Repeat(" ", gap))
		}
		first = false
		title := c.title
		if i == sortBy {
			if desc {
				title += "↓"
			} else {
				title += "↑"
			}
		}
		if c.right {
			h.WriteString(padLeft(title, w))
		} else {
			h.WriteString(padRight(title, w))
		}
	}
	return padRight(h.String(), width)
}
