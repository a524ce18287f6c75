package ui

import (
	"time"

	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// eventsMsg is one drained batch from one source's feed. A burst of
// network events arrives as a few of these, never one message per event.
type eventsMsg struct {
	src     int
	events  []snapshot.Event
	dropped uint64 // the feed's overflow count after this drain
	more    bool   // the drain hit its limit: drain again without waiting
}

// feedClosedMsg says a source's feed will deliver nothing more.
type feedClosedMsg struct{ src int }

// tickMsg refreshes ages, countdowns and the snapshot pointers.
type tickMsg time.Time

// actionDoneMsg reports what Engine.Do said about one action.
type actionDoneMsg struct {
	src    int
	action Action
	err    error
}

// exportDoneMsg reports where the decision log was written.
type exportDoneMsg struct {
	path  string
	count int
	err   error
}

// flashMsg shows a one-line notice for a few seconds.
type flashMsg struct {
	text string
	err  bool
}
