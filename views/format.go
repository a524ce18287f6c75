// Package views renders tubscope's inspector screens: pure functions from a
// snapshot, plain table state, a size, the current time and a theme to a
// string. Nothing here reads the clock, starts goroutines or touches the
// network, so every screen is reproducible in a golden test.
package views

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/charmbracelet/lipgloss"
)

// None stands for a missing value (zero time, absent field).
const None = "—"

// Age is how long before now t was, compactly: "45s", "3m12s", "2h05m",
// "3d04h". Zero t gives None; a t after now (clock skew) reads "0s".
func Age(now, t time.Time) string {
	if t.IsZero() {
		return None
	}
	return Duration(now.Sub(t))
}

// Duration formats d in the same compact style as Age, whole seconds and up.
func Duration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm", s/3600, (s%3600)/60)
	default:
		return fmt.Sprintf("%dd%02dh", s/86400, (s%86400)/3600)
	}
}

// Until says when t comes relative to now: "in 2.3s" (tenths under ten
// seconds, where a reconnect countdown is worth watching), "in 3m12s", or
// "now" once t has passed. Zero t gives None.
func Until(now, t time.Time) string {
	if t.IsZero() {
		return None
	}
	d := t.Sub(now)
	switch {
	case d <= 0:
		return "now"
	case d < 10*time.Second:
		return fmt.Sprintf("in %.1fs", d.Seconds())
	default:
		return "in " + Duration(d)
	}
}

// Short is the first n characters of id, the form tubids, incarnations and
// attempt ids take in tables. Empty id gives None.
func Short(id string, n int) string {
	if id == "" {
		return None
	}
	if n <= 0 {
		return ""
	}
	if len(id) <= n {
		return id
	}
	// Ids are ASCII; cut on a rune boundary anyway so odd input stays valid.
	for i := range id {
		if i >= n {
			return id[:i]
		}
	}
	return id
}

// shortConn shortens a "<incarnation> <seqnum>" pair ("none 0" stays as is).
func shortConn(c string) string {
	if c == "" {
		return None
	}
	ir, seq, ok := strings.Cut(c, " ")
	if !ok {
		return Short(c, 8)
	}
	if ir != "none" {
		ir = Short(ir, 8)
	}
	return ir + " " + seq
}

// textWidth is the cell width of plain (unstyled) s.
func textWidth(s string) int {
	if isASCII(s) {
		return len(s)
	}
	return lipgloss.Width(s)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// clean makes peer-supplied text safe to print on one line: control
// characters (newlines, escapes that could drive the terminal) become '?'.
func clean(s string) string {
	ok := true
	for _, r := range s {
		if isControl(r) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isControl(r) {
			return '?'
		}
		return r
	}, s)
}

func isControl(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError || unicode.Is(unicode.Bidi_Control, r)
}

// truncate cuts plain s to at most w cells, marking a cut with "…".
func truncate(s string, w int) string {
	s = clean(s)
	if w <= 0 {
		return ""
	}
	if textWidth(s) <= w {
		return s
	}
	if isASCII(s) {
		return s[:w-1] + "…"
	}
	var b strings.Builder
	used := 0
	for _, r := range s {
		rw := lipgloss.Width(string(r))
		if used+rw > w-1 {
			break
		}
		b.WriteRune(r)
		used += rw
	}
	b.WriteString("…")
	return b.String()
}

// padRight fits plain s to exactly w cells, left-aligned.
func padRight(s string, w int) string {
	s = truncate(s, w)
	if n := w - textWidth(s); n > 0 {
		return s + strings.Repeat(" ", n)
	}
	return s
}

// padLeft fits plain s to exactly w cells, right-aligned.
func padLeft(s string, w int) string {
	s = truncate(s, w)
	if n := w - textWidth(s); n > 0 {
		return strings.Repeat(" ", n) + s
	}
	return s
}

// center fits plain s to exactly w cells, centred.
func center(s string, w int) string {
	s = truncate(s, w)
	n := w - textWidth(s)
	if n <= 0 {
		return s
	}
	return strings.Repeat(" ", n/2) + s + strings.Repeat(" ", n-n/2)
}

// fitLine makes a possibly styled line exactly w cells wide.
func fitLine(line string, w int) string {
	if w <= 0 {
		return ""
	}
	lw := lipgloss.Width(line)
	if lw > w {
		line = lipgloss.NewStyle().MaxWidth(w).Render(line)
		lw = lipgloss.Width(line)
	}
	if lw < w {
		line += strings.Repeat(" ", w-lw)
	}
	return line
}

// pane joins lines into a block of exactly w×h cells: short blocks are
// padded with blank lines, long ones cut.
func pane(lines []string, w, h int) string {
	if h <= 0 || w <= 0 {
		return ""
	}
	out := make([]string, h)
	blank := strings.Repeat(" ", w)
	for i := range out {
		if i < len(lines) {
			out[i] = fitLine(lines[i], w)
		} else {
			out[i] = blank
		}
	}
	return strings.Join(out, "\n")
}

// Clock formats a running duration the way a stopwatch does: "0:42",
// "12:05", "1:02:03". Lockout timers read this way, so a viewer sees them
// count.
func Clock(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s%3600/60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// Millis formats a short duration for people: "3 ms", "250 ms", "1.1 s",
// "42 s", then Duration's form.
func Millis(d time.Duration) string {
	switch {
	case d < 0:
		return "0 ms"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%d ms", d/time.Millisecond)
	case d < 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%d s", d/time.Second)
	default:
		return Duration(d)
	}
}

// plural is "1 peer", "2 peers".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// Truncate cuts plain s to at most w cells, marking a cut with "…", and
// makes it safe to print on one line.
func Truncate(s string, w int) string { return truncate(s, w) }
