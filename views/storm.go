package views

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// sparkLevels are the bar heights of a sparkline, lowest first; an empty
// bucket is a blank, so a quiet minute reads as quiet.
var sparkLevels = []rune("▁▂▃▄▅▆▇█")

// Sparkline draws the newest width values of vs scaled to top (at least
// the largest shown), one cell each, oldest on the left.
func Sparkline(vs []int, width, top int) string {
	if width <= 0 {
		return ""
	}
	if len(vs) > width {
		vs = vs[len(vs)-width:]
	}
	for _, v := range vs {
		top = max(top, v)
	}
	var b strings.Builder
	for range width - len(vs) {
		b.WriteByte(' ')
	}
	for _, v := range vs {
		switch {
		case v <= 0 || top <= 0:
			b.WriteByte(' ')
		default:
			// Any activity shows: 1 of 1000 is the lowest bar, not a blank.
			lvl := (v*len(sparkLevels) - 1) / top
			b.WriteRune(sparkLevels[min(max(lvl, 0), len(sparkLevels)-1)])
		}
	}
	return b.String()
}

// perSecond is a bucket count as a rate.
func perSecond(n int, bucket time.Duration) string {
	if bucket <= 0 {
		bucket = time.Second
	}
	r := float64(n) / bucket.Seconds()
	if r >= 10 || r == float64(int(r)) {
		return strconv.Itoa(int(r + 0.5))
	}
	return strconv.FormatFloat(r, 'f', 1, 64)
}

// LastMinute sums the buckets of the last minute of a series.
func LastMinute(vs []int, bucket time.Duration) int {
	if bucket <= 0 {
		bucket = time.Second
	}
	n := max(int(time.Minute/bucket), 1)
	sum := 0
	for _, v := range vs[max(len(vs)-n, 0):] {
		sum += v
	}
	return sum
}

// StormStrip is the storm at a glance, htop-style: offers and rejects per
// second as sparklines over the last minutes, the rules that fired in the
// window, who is locked out and for how long, the top offenders, and how
// long peers took to come back. Rows go from the bottom when height is
// short; the sparklines stay.
func StormStrip(s *snapshot.Snapshot, sum Summary, width, height int, now time.Time, th Theme) string {
	if width <= 0 || height <= 0 {
		return ""
	}
	a := &s.Activity
	const label = 11
	if len(a.Offers) == 0 {
		lines := []string{th.Title.Render(padRight("offers/s", label)) + th.Dim.Render("no activity recorded by this source yet")}
		return pane(lines, width, height)
	}
	peak, total := 0, 0
	for _, v := range a.Offers {
		peak = max(peak, v)
		total += v
	}
	rejTotal := 0
	for _, v := range a.Rejects {
		rejTotal += v
	}
	span := time.Duration(len(a.Offers)) * a.Bucket
	// The in-progress bucket is partial; "now" reads the last whole one.
	last := func(vs []int) int {
		if len(vs) >= 2 {
			return vs[len(vs)-2]
		}
		if len(vs) == 1 {
			return vs[0]
		}
		return 0
	}
	stat := func(now, peak, total int) string {
		return fmt.Sprintf(" %s/s now · peak %s/s · %d in %s", perSecond(now, a.Bucket), perSecond(peak, a.Bucket), total, Duration(span))
	}
	offStat := stat(last(a.Offers), peak, total)
	rejPeak := 0
	for _, v := range a.Rejects {
		rejPeak = max(rejPeak, v)
	}
	rejStat := stat(last(a.Rejects), rejPeak, rejTotal)
	sparkW := max(width-label-max(textWidth(offStat), textWidth(rejStat)), 8)
	lines := []string{
		th.Title.Render(padRight("offers/s", label)) + th.Live.Render(Sparkline(a.Offers, sparkW, peak)) + th.Dim.Render(offStat),
		th.Title.Render(padRight("rejects/s", label)) + th.Reject.Render(Sparkline(a.Rejects, sparkW, peak)) + th.Dim.Render(rejStat),
	}

	names := peerNames(s)
	lock := "locked out: none"
	if sum.LockedOut > 0 {
		lock = fmt.Sprintf("locked out: %d · longest %s (%s) and counting", sum.LockedOut, Clock(now.Sub(sum.LongestLockout)), sum.LongestPeer)
	}
	var top []string
	for _, o := range a.Offenders {
		t := fmt.Sprintf("%s %d", names(o.PeerTubID), o.Offers)
		if o.Rejects > 0 {
			t += fmt.Sprintf(" (✗%d)", o.Rejects)
		}
		top = append(top, t)
	}
	who := lock
	if len(top) > 0 {
		who += " · top offers: " + strings.Join(top, ", ")
	}
	lockStyle := th.Dim
	if sum.LockedOut > 0 {
		lockStyle = th.Reject
	}

	var rules []string
	for _, r := range a.Rules {
		mark := "✗"
		if r.Accept {
			mark = "✓"
		}
		rules = append(rules, fmt.Sprintf("%s %s %d", mark, r.Rule, r.Count))
	}
	ruleLine := "rules (" + Duration(a.Window) + "): "
	if len(rules) == 0 {
		ruleLine += "none decided"
	} else {
		ruleLine += strings.Join(rules, " · ")
	}

	lines = append(lines, lockStyle.Render(truncate(who, width)), th.Dim.Render(truncate(ruleLine, width)),
		th.Dim.Render(truncate(ReconnectHistogram(a.Reconnect), width)))
	return pane(lines[:min(len(lines), height)], width, height)
}

// ReconnectHistogram is the time-to-reconnect histogram in one line: a
// bar and a count per bucket, then the percentiles.
func ReconnectHistogram(h snapshot.Histogram) string {
	if h.Total == 0 {
		return "back in: no reconnection measured yet"
	}
	top := 0
	for _, c := range h.Counts {
		top = max(top, c)
	}
	var parts []string
	for i, c := range h.Counts {
		label := "more"
		if i < len(h.Bounds) {
			label = "≤" + shortDur(h.Bounds[i])
		}
		bar := " "
		if c > 0 {
			bar = string(sparkLevels[min((c*len(sparkLevels)-1)/top, len(sparkLevels)-1)])
		}
		parts = append(parts, fmt.Sprintf("%s %s%d", label, bar, c))
	}
	return fmt.Sprintf("back in: %s · p50 %s · p99 %s · max %s (%d)", strings.Join(parts, " "),
		Millis(h.P50), Millis(h.P99), Millis(h.Max), h.Total)
}

func shortDur(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d/time.Millisecond)
	case d < time.Minute:
		return fmt.Sprintf("%ds", d/time.Second)
	default:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
}

// peerNames names peers by nickname where the snapshot knows one.
// The lookup is built on first use: most frames name no one.
func peerNames(s *snapshot.Snapshot) func(tubid string) string {
	var find func(string) (int, bool)
	return func(tubid string) string {
		if find == nil {
			find = peerFinder(s.Peers)
		}
		if i, ok := find(tubid); ok {
			return PeerName(tubid, s.Peers[i].Nickname)
		}
		return Short(tubid, 8)
	}
}

// PeerNames is peerNames for the ui (events, status line).
func PeerNames(s *snapshot.Snapshot) func(tubid string) string { return peerNames(s) }
