package views

import "strings"

// KeyHelp is one key binding's name and what it does.
type KeyHelp struct {
	Key, Desc string
}

// Help is the full key reference as a width×height pane: groups side by
// side as far as the width allows, then wrapped below one another.
func Help(groups [][]KeyHelp, width, height int, th Theme) string {
	if width <= 0 || height <= 0 {
		return ""
	}
	const gap = 4
	type block struct {
		keyW, w int
		keys    []KeyHelp
	}
	var blocks []block
	for _, g := range groups {
		if len(g) == 0 {
			continue
		}
		b := block{keys: g}
		for _, k := range g {
			b.keyW = max(b.keyW, textWidth(clean(k.Key)))
		}
		b.keyW = min(b.keyW, 16)
		for _, k := range g {
			b.w = max(b.w, b.keyW+2+textWidth(clean(k.Desc)))
		}
		blocks = append(blocks, b)
	}

	lines := []string{" " + th.Title.Render("Keys"), ""}
	inner := width - 2 // one cell of margin each side
	// The most columns whose widest blocks fit side by side; blocks fill
	// the grid row by row so every column lines up.
	cols := 1
	var keyW, colW []int
	for k := len(blocks); k >= 1; k-- {
		keyW, colW = make([]int, k), make([]int, k)
		for j, b := range blocks {
			keyW[j%k] = max(keyW[j%k], b.keyW)
		}
		for j, b := range blocks {
			colW[j%k] = max(colW[j%k], keyW[j%k]+b.w-b.keyW)
		}
		total := gap * (k - 1)
		for _, w := range colW {
			total += w
		}
		if total <= inner || k == 1 {
			cols = k
			break
		}
	}
	for start := 0; start < len(blocks); start += cols {
		band := blocks[start:min(start+cols, len(blocks))]
		rows := 0
		for _, b := range band {
			rows = max(rows, len(b.keys))
		}
		for r := range rows {
			var line strings.Builder
			line.WriteString(" ")
			for i, b := range band {
				if i > 0 {
					line.WriteString(strings.Repeat(" ", gap))
				}
				w := min(colW[i], inner)
				if r >= len(b.keys) {
					line.WriteString(strings.Repeat(" ", w))
					continue
				}
				k := b.keys[r]
				kw := min(keyW[i], w)
				line.WriteString(th.Key.Render(padRight(k.Key, kw)) + "  " + padRight(k.Desc, max(w-kw-2, 0)))
			}
			lines = append(lines, strings.TrimRight(line.String(), " "))
		}
		lines = append(lines, "")
	}
	if len(blocks) == 0 {
		lines = append(lines, th.Dim.Render(" no key bindings"))
	}
	return pane(lines, width, height)
}
