package views

import (
	"strings"
	"time"

	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// NarrationRows is how tall the narration strip is drawn.
const NarrationRows = 3

// NarrationStrip tells the demo's story: the scenario step and what the
// script does next with a countdown, then what just happened and why.
// The sentence stays as long as the data holds it, whatever its age.
func NarrationStrip(n *snapshot.Narration, width, height int, now time.Time, th Theme) string {
	if n == nil || width <= 0 || height <= 0 {
		return ""
	}
	first := "▶ " + orNone(clean(n.Step))
	if n.Next != "" {
		first += " · next: " + clean(n.Next)
		if !n.NextAt.IsZero() {
			first += " " + Until(now, n.NextAt)
		}
	}
	lines := []string{th.Narration.Render(truncate(first, width))}
	if n.Last != "" {
		text := "just now: " + clean(n.Last)
		if !n.LastAt.IsZero() {
			text = Age(now, n.LastAt) + " ago: " + clean(n.Last)
		}
		for _, l := range wrap(text, width-2) {
			lines = append(lines, "  "+l)
		}
	}
	if len(lines) > height {
		lines = lines[:height]
		if height > 1 {
			lines[height-1] = strings.TrimRight(lines[height-1], " ") + "…"
		}
	}
	return pane(lines, width, height)
}
