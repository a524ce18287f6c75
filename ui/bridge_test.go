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
// with one Snapshot per batch rather than per event.
func TestBurstFoldsIntoFewBatches(t *testing.T) {
	e := newFakeEngine(testSnapshot(0, 0))
	h := newHarness(t, e, Options{})
	before := e.snapshotCount()
	e.feed.publish(burst(10_000)...)

	cmd := listen(e.feed, drainMax, false, h.m.done)
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
		t.Fatalf("%d snapshots for %d batches", got, batches)
	}
	if h.m.eventsSeen != 10_000 || e.feed.pending() != 0 {
		t.Fatalf("absorbed %d events, %d left in the feed", h.m.eventsSeen, e.feed.pending())
	}
	if h.m.lastEvent.Seq != 10_000 || !strings.Contains(h.m.View(), "10000 events, last call") {
		t.Fatalf("last event seq %d; view:\n%s", h.m.lastEvent.Seq, h.m.View())
	}
}

// An empty wake-up (the signal outran the drain) costs no snapshot.
func TestEmptyDrainTakesNoSnapshot(t *testing.T) {
	e := newFakeEngine(testSnapshot(0, 0))
	h := newHarness(t, e, Options{})
	before := e.snapshotCount()
	h.absorb(listen(e.feed, drainMax, true, h.m.done)())
	if e.snapshotCount() != before {
		t.Fatal("an empty batch took a snapshot")
	}
}

func TestFeedOverflowIsShown(t *testing.T) {
	e := newFakeEngine(testSnapshot(0, 0))
	e.feed = newFakeFeed(10)
	h := newHarness(t, e, Options{})
	e.feed.publish(burst(15)...)
	h.absorb(listen(e.feed, drainMax, false, h.m.done)())
	if h.m.dropped != 5 || !strings.Contains(h.m.View(), "feed dropped 5") {
		t.Fatalf("dropped %d; view:\n%s", h.m.dropped, h.m.View())
	}
}

func TestListenStopsWhenDone(t *testing.T) {
	f := newFakeFeed(10)
	done := make(chan struct{})
	close(done)
	if msg := listen(f, drainMax, false, done)(); msg != nil {
		t.Fatalf("listener after done returned %T", msg)
	}
}

func TestListenReportsClosedFeed(t *testing.T) {
	e := newFakeEngine(testSnapshot(0, 0))
	h := newHarness(t, e, Options{})
	close(e.feed.changed)
	h.send(listen(e.feed, drainMax, false, h.m.done)())
	if !h.m.feedClosed || !strings.Contains(h.m.View(), "STALE") {
		t.Fatal("a closed feed is not shown")
	}
}

// The program starts, reads keys, quits on q and leaves no goroutine
// parked on the feed (goleak in TestMain checks).
func TestProgramQuitsAndReleasesFeed(t *testing.T) {
	e := newFakeEngine(testSnapshot(3, 3))
	// One write per key: bubbletea reads runes that arrive together as a
	// single key message.
	in, typist := io.Pipe()
	go func() {
		for _, k := range []string{"j", "q"} {
			if _, err := typist.Write([]byte(k)); err != nil {
				return
			}
		}
	}()
	final, err := run(New(e, Options{}), tea.WithInput(in), tea.WithOutput(io.Discard), tea.WithoutSignalHandler())
	typist.Close() // ends bubbletea's input reader
	if err != nil {
		t.Fatal(err)
	}
	if !final.quitting || final.table.Cursor != 1 {
		t.Fatalf("final model: quitting %v cursor %d", final.quitting, final.table.Cursor)
	}
	if !e.feed.closed {
		t.Fatal("the feed was not closed")
	}
}

// The status line keeps the latest self-explaining event (a fault, a
// restart) in view while routine pings keep arriving.
func TestStatusLineShowsTheLatestNotableEvent(t *testing.T) {
	e := newFakeEngine(testSnapshot(0, 0))
	h := newHarness(t, e, Options{})
	evs := []snapshot.Event{
		{Seq: 1, Kind: snapshot.KindFault, Time: t0, PeerTubID: "qypzvttrmhblwtyga5phtzqiliiahwhd", Message: "demo: client-1 lost power"},
		{Seq: 2, Kind: snapshot.KindCall, Time: t0},
		{Seq: 3, Kind: snapshot.KindCall, Time: t0, Message: "ping"},
	}
	h.absorb(eventsMsg{events: evs})
	if v := h.m.View(); !strings.Contains(v, "fault qypzvttr: demo: client-1 lost power") {
		t.Fatalf("notable event missing from the status line:\n%s", v)
	}
	h.absorb(eventsMsg{events: []snapshot.Event{{Seq: 4, Kind: snapshot.KindBrokerDetached, Time: t0, Reason: "disconnect timeout: nothing received for 10s"}}})
	if v := h.m.View(); !strings.Contains(v, "broker-detached disconnect timeout") {
		t.Fatalf("a newer notable event should replace it:\n%s", v)
	}
}
