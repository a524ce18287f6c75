package ui

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/tubscope/tubscope/tubclient/snapshot"
	"github.com/tubscope/tubscope/views"
)

// exportName is the file a decision-log export goes to; the timestamp keeps
// repeated exports from overwriting each other.
func exportName(now time.Time) string {
	return "tubscope-decisions-" + now.UTC().Format("20060102T150405.000Z") + ".jsonl"
}

// exportDecisions writes the log as JSON lines, one decision per line,
// off the Update path. The slice is the snapshot's own copy, so reading it
// from another goroutine is safe.
func exportDecisions(dir string, now time.Time, ds []snapshot.Decision) tea.Cmd {
	return func() tea.Msg {
		path := filepath.Join(dir, exportName(now))
		n, err := writeDecisions(path, ds)
		return exportDoneMsg{path: path, count: n, err: err}
	}
}

func writeDecisions(path string, ds []snapshot.Decision) (int, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriter(f)
	n := 0
	for _, d := range ds {
		line, err := views.DecisionJSON(d)
		if err != nil {
			f.Close()
			return n, fmt.Errorf("decision %d: %w", d.Seq, err)
		}
		w.Write(line)
		w.WriteByte('\n')
		n++
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return n, err
	}
	return n, f.Close()
}
