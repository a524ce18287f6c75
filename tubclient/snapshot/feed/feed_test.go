package feed

import (
	"testing"

	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// A slow subscriber loses its oldest events, counted, and never blocks
// the publisher.
func TestSubscriptionBoundedAndCounted(t *testing.T) {
	var h Hub
	slow := h.Subscribe(4)
	fast := h.Subscribe(100)
	for i := 1; i <= 10; i++ {
		h.Publish(snapshot.Event{Seq: uint64(i)})
	}
	select {
	case <-slow.Changed():
	default:
		t.Fatal("no change signalled")
	}
	got := slow.Drain(0)
	if len(got) != 4 || got[0].Seq != 7 || got[3].Seq != 10 {
		t.Fatalf("slow subscriber kept %+v, want the newest four", got)
	}
	if slow.Dropped() != 6 || fast.Dropped() != 0 {
		t.Fatalf("dropped: slow %d, fast %d", slow.Dropped(), fast.Dropped())
	}
	if got := fast.Drain(3); len(got) != 3 || got[0].Seq != 1 {
		t.Fatalf("partial drain %+v", got)
	}
	if got := fast.Drain(0); len(got) != 7 || got[6].Seq != 10 {
		t.Fatalf("rest %+v", got)
	}
	if h.Dropped() != 6 {
		t.Fatalf("hub dropped %d", h.Dropped())
	}
	slow.Close()
	h.Publish(snapshot.Event{Seq: 11})
	if got := slow.Drain(0); len(got) != 0 {
		t.Fatalf("closed subscription received %+v", got)
	}
}
