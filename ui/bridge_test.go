package ui

import (
	"io"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/tubscope/tubscope/tubclient/snapshot"
)

func burst(n int) []snapshot.Event {
	evs := make([]snapshot.Event, n)
	for i := range evs {
		evs[i] = snapshot.Event{Seq: uint64(i + 1), Kind: snapshot.KindCall, Time: t0}
	}
	return evs
}

// A burst of 10,000 events reaches the model as ceil(10000/512) batches,
// with one snapshot load per batch rather than per event.
func TestBurstFoldsIntoFewBatches(t *testing.T) {
	e := newFakeEngine(testSnapshot(0, 0))
	h := newHarness(t, e, Options{})
	before := e.snapshotCount()
	e.feed.publish(burst(10_000)...)

	cmd := listen(0, e.feed, drainMax, false, h.m.done)
	batches := 0
	for {
		msg := cmd()
		batches++
		if batches > 100 {
			t.Fatal("the burst never drained")
		}
		last := msg.(eventsMsg)
		cmd = h.absorb(msg)
		if !last.more {
			break
		}
	}
	if want := (10_000 + drainMax - 1) / drainMax; batches != want {
		t.Fatalf("%d batches, want %d", batches, want)
	}
	if got := e.snapshotCount() - before; got != batches {
		t.Fatalf("%d snapshot loads for %d batches", got, batches)
	}
	if h.m.src().eventsSeen != 10_000 || e.feed.pending() != 0 {
		t.Fatalf("absorbed %d events, %d left in the feed", h.m.src().eventsSeen, e.feed.pending())
	}
	if len(h.m.src().events) != 0 {
		t.Fatal("routine calls reached the events pane")
	}
}

// An empty wake-up (the signal outran the drain) costs no snapshot.
func TestEmptyDrainTakesNoSnapshot(t *testing.T) {
	e := newFakeEngine(testSnapshot(0, 0))
	h := newHarness(t, e, Options{})
	before := e.snapshotCount()
	h.absorb(listen(0, e.feed, drainMax, true, h.m.done)())
	if e.snapshotCount() != before {
		t.Fatal("an empty batch took a snapshot")
	}
}

func TestFeedOverflowIsShown(t *testing.T) {
	e := newFakeEngine(testSnapshot(0, 0))
	e.feed = newFakeFeed(10)
	h := newHarness(t, e, Options{})
	e.feed.publish(burst(15)...)
	h.absorb(listen(0, e.feed, drainMax, false, h.m.done)())
	if h.m.src().dropped != 5 || !strings.Contains(h.m.View(), "feed dropped 5") {
		t.Fatalf("dropped %d; view:\n%s", h.m.src().dropped, h.m.View())
	}
}

func TestListenStopsWhenDone(t *testing.T) {
	f := newFakeFeed(10)
	done := make(chan struct{})
	close(done)
	if msg := listen(0, f, drainMax, false, done)(); msg != nil {
		t.Fatalf("listener after done returned %T", msg)
	}
}

func TestListenReportsClosedFeed(t *testing.T) {
	e := newFakeEngine(testSnapshot(0, 0))
	h := newHarness(t, e, Options{})
	close(e.feed.changed)
	h.send(listen(0, e.feed, drainMax, false, h.m.done)())
	if !h.m.src().feedClosed || !strings.Contains(h.m.View(), "STALE") {
		t.Fatal("a closed feed is not shown")
	}
}

// Each source's batches land in that source.
func TestBatchesGoToTheirSource(t *testing.T) {
	a, b := twoSources()
	h := newMulti(t, []*fakeEngine{a, b}, Options{}, utf8Env)
	b.feed.publish(snapshot.Event{Kind: snapshot.KindFault, Time: t0, Message: "tahoe fault"})
	h.absorb(listen(1, b.feed, drainMax, false, h.m.done)())
	if len(h.m.sources[1].events) != 1 || len(h.m.sources[0].events) != 0 {
		t.Fatal("an event reached the wrong source")
	}
}

// The program starts, reads keys, quits on q and leaves no goroutine
// parked on a feed (goleak in TestMain checks). "jj" arrives in one
// write and moves two rows.
func TestProgramQuitsAndReleasesFeeds(t *testing.T) {
	a, b := twoSources()
	in, typist := io.Pipe()
	go func() {
		for _, k := range []string{"jj", "q"} {
			if _, err := typist.Write([]byte(k)); err != nil {
				return
			}
		}
	}()
	m := newModel([]Engine{a, b}, Options{}, utf8Env)
	final, err := run(m, tea.WithInput(in), tea.WithOutput(io.Discard), tea.WithoutSignalHandler())
	typist.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !final.quitting || final.sources[0].table.Cursor != 2 {
		t.Fatalf("final model: quitting %v cursor %d", final.quitting, final.sources[0].table.Cursor)
	}
	if !a.feed.closed || !b.feed.closed {
		t.Fatal("a feed was not closed")
	}
}
