package ui

import (
	"time"

	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// eventsMsg is one drained batch from the feed. A burst of network events
// arrives as a few of these, never one message per event.
type eventsMsg struct {
	events  []snapshot.Event
	dropped uint64 // the feed's overflow count after this drain
	more    bool   // the drain hit its limit: drain again without waiting
}

// feedClosedMsg says the feed will deliver nothing more.
type feedClosedMsg struct{}

// tickMsg refreshes ages and the snapshot.
type tickMsg time.Time

// actionDoneMsg reports what Engine.Do said about one action.
type actionDoneMsg struct {
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
