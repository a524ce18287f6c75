package views

import (
	"fmt"
	"strings"
)

// MinWidth and MinHeight are the smallest terminal the inspector draws in;
// below that TooSmall is shown instead.
const (
	MinWidth  = 60
	MinHeight = 15
)

// TooSmall is the whole screen when the terminal is below MinWidth ×
// MinHeight: what is needed, centred, wrapped to whatever width there is.
func TooSmall(width, height int) string {
	if width <= 0 || height <= 0 {
		return ""
	}
	words := strings.Fields(fmt.Sprintf("Terminal too small: %d×%d. tubscope needs at least %d×%d.", width, height, MinWidth, MinHeight))
	var msg []string
	cur := ""
	for _, w := range words {
		switch {
		case cur == "":
			cur = w
		case textWidth(cur)+1+textWidth(w) <= width:
			cur += " " + w
		default:
			msg = append(msg, cur)
			cur = w
		}
	}
	msg = append(msg, cur)
	if len(msg) > height {
		msg = msg[:height]
	}
	lines := make([]string, 0, height)
	for range (height - len(msg)) / 2 {
		lines = append(lines, "")
	}
	for _, m := range msg {
		lines = append(lines, center(m, width))
	}
	return pane(lines, width, height)
}

// Screen stacks the header, main pane and bottom bar into exactly
// width×height: header and bottom keep their lines and the main pane is
// padded or cut to what remains. When even header and bottom do not fit,
// the bottom goes first.
func Screen(header, main, bottom string, width, height int) string {
	if width <= 0 || height <= 0 {
		return ""
	}
	hl, ml, bl := splitLines(header), splitLines(main), splitLines(bottom)
	if len(hl) > height {
		hl = hl[:height]
	}
	if len(hl)+len(bl) > height {
		bl = bl[:height-len(hl)]
	}
	mainH := height - len(hl) - len(bl)
	lines := make([]string, 0, height)
	lines = append(lines, hl...)
	for i := range mainH {
		if i < len(ml) {
			lines = append(lines, ml[i])
		} else {
			lines = append(lines, "")
		}
	}
	lines = append(lines, bl...)
	return pane(lines, width, height)
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}
