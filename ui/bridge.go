package ui

import (
	"time"

	tea "github.com/charmbracelet/bubbletea"
)

const (
	// drainMax bounds one batch: large enough that a burst folds into a few
	// repaints, small enough that one Update stays cheap.
	drainMax = 512
	// feedCapacity is the ring the engine keeps for us; overflow is counted
	// by the feed and shown, never waited on.
	feedCapacity = 8192
	tickEvery    = 250 * time.Millisecond
)

// listen waits for source src's changed signal (unless a previous drain
// was cut short) and drains up to max events into one eventsMsg. done
// unblocks it when the program ends so no goroutine is left parked.
func listen(src int, f Feed, max int, immediate bool, done <-chan struct{}) tea.Cmd {
	return func() tea.Msg {
		if !immediate {
			select {
			case _, ok := <-f.Changed():
				if !ok {
					return feedClosedMsg{src: src}
				}
			case <-done:
				return nil
			}
		}
		evs := f.Drain(max)
		return eventsMsg{src: src, events: evs, dropped: f.Dropped(), more: len(evs) >= max}
	}
}

// tick schedules the next refresh.
func tick() tea.Cmd {
	return tea.Tick(tickEvery, func(t time.Time) tea.Msg { return tickMsg(t) })
}
