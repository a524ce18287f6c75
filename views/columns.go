package views

import "sort"

// colSpec describes one column for layoutColumns.
type colSpec struct {
	min, max int  // cell widths; max > min makes the column take spare room
	prio     int  // lower keeps the column longer as the width shrinks
	right    bool // right-aligned (numbers, ages)
}

// layoutColumns decides which columns fit in width (after lead cells for a
// marker) and how wide each is; a width of 0 means the column is dropped.
// Columns are admitted by priority, then spare room goes to the flexible
// ones, again by priority.
func layoutColumns(specs []colSpec, width, lead, gap int) []int {
	widths := make([]int, len(specs))
	order := make([]int, len(specs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return specs[order[a]].prio < specs[order[b]].prio })

	used := lead
	shown := 0
	for _, i := range order {
		need := specs[i].min
		if shown > 0 {
			need += gap
		}
		if used+need > width {
			continue
		}
		used += need
		widths[i] = specs[i].min
		shown++
	}
	for _, i := range order {
		if widths[i] == 0 || specs[i].max <= specs[i].min {
			continue
		}
		grow := min(specs[i].max-specs[i].min, width-used)
		if grow <= 0 {
			break
		}
		widths[i] += grow
		used += grow
	}
	return widths
}
