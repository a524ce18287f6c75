package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Row names, in the order the table prints them. TestBenchQuick checks
// that every one appears.
const (
	RowThroughput = "1 negotiation throughput"
	RowS1         = "2 recovery S1 (silent restart)"
	RowS3         = "3 recovery S3 (lost decision)"
	RowStorm      = "4 reconnect storm"
	RowIdle       = "5 idle cost"
)

// Rows lists the row names in order.
var Rows = []string{RowThroughput, RowS1, RowS3, RowStorm, RowIdle}

// line is one printed line of the table; row is set on the first line of
// each row only.
type line struct {
	row, measure, value, target, verdict string
}

// Table collects lines and notes and prints them aligned.
type Table struct {
	Header string
	lines  []line
	notes  []string
}

// add appends a line under row (the row name is printed once).
func (t *Table) add(row, measure, value, target, verdict string) {
	for _, l := range t.lines {
		if l.row == row {
			row = ""
			break
		}
	}
	t.lines = append(t.lines, line{row, measure, value, target, verdict})
}

// note adds a footnote printed under the table.
func (t *Table) note(format string, args ...any) {
	t.notes = append(t.notes, fmt.Sprintf(format, args...))
}

// WriteTo prints the table.
func (t *Table) WriteTo(w io.Writer) (int64, error) {
	var sb strings.Builder
	sb.WriteString(t.Header + "\n\n")
	tw := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ROW\tMEASUREMENT\tVALUE\tTARGET\tVERDICT")
	for _, l := range t.lines {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", l.row, l.measure, l.value, l.target, l.verdict)
	}
	tw.Flush()
	if len(t.notes) > 0 {
		sb.WriteString("\nNotes:\n")
		for i, n := range t.notes {
			fmt.Fprintf(&sb, "  [%d] %s\n", i+1, n)
		}
	}
	n, err := io.WriteString(w, sb.String())
	return int64(n), err
}

const targetMet = "target met"

// verdictAtLeast compares a measured value with a floor.
func verdictAtLeast(got, want float64, unit string) string {
	if got >= want {
		return targetMet
	}
	return fmt.Sprintf("gap: %s short of %s", trimFloat(want-got)+unit, trimFloat(want)+unit)
}

// verdictAtMost compares a measured value with a ceiling.
func verdictAtMost(got, want float64, unit string) string {
	if got <= want {
		return targetMet
	}
	return fmt.Sprintf("gap: %s over %s", trimFloat(got-want)+unit, trimFloat(want)+unit)
}

func trimFloat(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// rate formats an operations-per-second figure.
func rate(v float64, unit string) string { return fmt.Sprintf("%.0f %s", v, unit) }

// ms formats a duration in milliseconds (seconds past 10 s).
func ms(d time.Duration) string {
	if d >= 10*time.Second {
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

// mib formats a byte count.
func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
