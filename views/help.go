package views

import "strings"

// KeyHelp is one key binding's name and what it does; legend rows reuse
// it for a symbol or a heading and its meaning.
type KeyHelp struct {
	Key, Desc string
}

// HelpSection is a titled block of the help screen below the keys: the
// glyph legend, the column legend, the policies.
type HelpSection struct {
	Title string
	Rows  []KeyHelp
}

// ColumnLegend says what each main-table column shows.
func ColumnLegend() []KeyHelp {
	desc := [numColumns]string{
		ColPeer:        "short tubid and nickname; └ #id is another broker of that peer",
		ColState:       "where we stand with the peer (glyphs above); ×2 marks a clone",
		ColRole:        "M: we are master and decide offers; S: slave, the master decides",
		ColSide:        "out: we dialled; in: they did",
		ColRemote:      "the connection's remote address, else the peer's first hint",
		ColIncarnation: "the peer's incarnation on this connection",
		ColSeqNum:      "the master's number for this connection",
		ColAttempt:     "attempt id (this-connection) of the offer that made it",
		ColAge:         "since the connection opened",
		ColLastRx:      "since anything was last received on it",
		ColPings:       "PINGs not yet answered",
		ColTries:       "failed attempts since the last attach; ✗n offers refused",
		ColLocked:      "how long the master has refused every offer",
		ColNext:        "countdown to the reconnector's next try",
		ColDetail:      "the last error, duplicates, clone, faults",
	}
	out := make([]KeyHelp, 0, numColumns)
	for _, c := range Columns {
		out = append(out, KeyHelp{Key: c.String(), Desc: desc[c]})
	}
	return out
}

// GlyphLegend is Legend as help rows.
func GlyphLegend() []KeyHelp {
	var out []KeyHelp
	for _, g := range Legend() {
		out = append(out, KeyHelp{Key: g.Glyph, Desc: g.Meaning})
	}
	return out
}

// Help is the full reference as a width×height pane: key groups side by
// side as far as the width allows, then the legend sections, each a
// column of "key  meaning" rows, scrolled offset lines down.
func Help(groups [][]KeyHelp, sections []HelpSection, offset, width, height int, th Theme) string {
	if width <= 0 || height <= 0 {
		return ""
	}
	lines := helpLines(groups, sections, width, th)
	offset = min(max(offset, 0), max(len(lines)-height, 0))
	return pane(lines[offset:], width, height)
}

// HelpLines is how many lines the help has, for the ui to bound scrolling.
func HelpLines(groups [][]KeyHelp, sections []HelpSection, width int) int {
	return len(helpLines(groups, sections, width, Theme{}))
}

func helpLines(groups [][]KeyHelp, sections []HelpSection, width int, th Theme) []string {
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

	lines := []string{" " + th.Title.Render("Keys")}
	inner := width - 2 // one cell of margin each side
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
	}
	if len(blocks) == 0 {
		lines = append(lines, th.Dim.Render(" no key bindings"))
	}
	for _, sec := range sections {
		lines = append(lines, "", " "+th.Title.Render(sec.Title))
		kw := 0
		for _, r := range sec.Rows {
			kw = max(kw, textWidth(r.Key))
		}
		kw = min(kw, 14)
		for _, r := range sec.Rows {
			desc := wrap(r.Desc, inner-kw-2)
			if len(desc) == 0 {
				desc = []string{truncate(r.Desc, max(inner-kw-2, 1))}
			}
			for i, d := range desc {
				key := strings.Repeat(" ", kw)
				if i == 0 {
					key = th.Key.Render(padRight(r.Key, kw))
				}
				lines = append(lines, " "+key+"  "+d)
			}
		}
	}
	return lines
}
