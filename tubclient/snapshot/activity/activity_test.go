package activity

import (
	"fmt"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func TestBucketsRollAndCount(t *testing.T) {
	r := New(time.Second, 5, 3*time.Second)
	r.Offer(at(0), "a", true, "new-incarnation")
	r.Offer(at(100*time.Millisecond), "b", false, "never-decided")
	r.Offer(at(2*time.Second), "b", false, "never-decided")
	r.Offer(at(2500*time.Millisecond), "c", true, "same-seqnum")
	a := r.Snapshot(at(2900 * time.Millisecond))
	if got, want := fmt.Sprint(a.Offers), "[0 0 2 0 2]"; got != want {
		t.Errorf("offers %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(a.Rejects), "[0 0 1 0 1]"; got != want {
		t.Errorf("rejects %s, want %s", got, want)
	}
	if !a.End.Equal(at(3 * time.Second)) {
		t.Errorf("end %v", a.End)
	}
	// Two buckets on the ring has moved with empty buckets in between, and
	// the first offers have left the three-second window.
	a = r.Snapshot(at(4 * time.Second))
	if got, want := fmt.Sprint(a.Offers), "[2 0 2 0 0]"; got != want {
		t.Errorf("offers after rolling %s, want %s", got, want)
	}
	if len(a.Rules) != 2 || a.Rules[0].Rule != "never-decided" || a.Rules[0].Count != 1 {
		t.Errorf("rules in window %+v", a.Rules)
	}
	// Far in the future everything has aged out.
	a = r.Snapshot(at(time.Hour))
	for _, n := range a.Offers {
		if n != 0 {
			t.Fatalf("stale counts survived: %v", a.Offers)
		}
	}
}

func TestRulesSortedByCount(t *testing.T) {
	r := New(0, 0, 0)
	for i := range 64 {
		r.Offer(at(time.Duration(i)*10*time.Millisecond), fmt.Sprint("p", i), true, "new-incarnation")
	}
	r.Offer(at(time.Second), "x", false, "never-decided")
	a := r.Snapshot(at(2 * time.Second))
	if len(a.Rules) != 2 || a.Rules[0].Count != 64 || a.Rules[0].Rule != "new-incarnation" || !a.Rules[0].Accept {
		t.Fatalf("rules %+v", a.Rules)
	}
	if a.Rules[1].Accept || a.Rules[1].Count != 1 {
		t.Fatalf("reject rule %+v", a.Rules[1])
	}
}

func TestOffendersInWindow(t *testing.T) {
	r := New(time.Second, 10, 10*time.Second)
	r.Offer(at(0), "old", false, "never-decided")
	for i := range 3 {
		r.Offer(at(20*time.Second+time.Duration(i)), "busy", false, "never-decided")
	}
	r.Offer(at(21*time.Second), "calm", true, "new-incarnation")
	a := r.Snapshot(at(25 * time.Second))
	if len(a.Offenders) != 2 {
		t.Fatalf("offenders %+v", a.Offenders)
	}
	if o := a.Offenders[0]; o.PeerTubID != "busy" || o.Offers != 3 || o.Rejects != 3 {
		t.Errorf("top offender %+v", o)
	}
	if o := a.Offenders[1]; o.PeerTubID != "calm" || o.Rejects != 0 {
		t.Errorf("second offender %+v", o)
	}
}

func TestReconnectHistogram(t *testing.T) {
	r := New(0, 0, 0)
	r.Attached(at(0), "never-lost") // no loss recorded: no sample
	r.Lost(at(0), "a")
	r.Lost(at(time.Second), "a") // the first loss starts the clock
	r.Attached(at(3*time.Second), "a")
	r.Lost(at(0), "b")
	r.Attached(at(5*time.Millisecond), "b")
	h := r.Snapshot(at(4 * time.Second)).Reconnect
	if h.Total != 2 || h.Max != 3*time.Second {
		t.Fatalf("histogram %+v", h)
	}
	if len(h.Counts) != len(h.Bounds)+1 {
		t.Fatalf("%d counts for %d bounds", len(h.Counts), len(h.Bounds))
	}
	if h.Counts[1] != 1 || h.Counts[4] != 1 {
		t.Errorf("counts %v: want one in ≤10ms and one in ≤10s", h.Counts)
	}
	if h.P50 != 5*time.Millisecond || h.P99 != 5*time.Millisecond {
		t.Errorf("p50 %v p99 %v", h.P50, h.P99)
	}
}

func TestLateOfferLandsInRange(t *testing.T) {
	r := New(time.Second, 3, 0)
	r.Offer(at(10*time.Second), "a", true, "x")
	r.Offer(at(9*time.Second), "b", true, "x") // one bucket back
	r.Offer(at(-time.Hour), "c", false, "x")   // far back: the oldest bucket
	a := r.Snapshot(at(10 * time.Second))
	if got, want := fmt.Sprint(a.Offers), "[1 1 1]"; got != want {
		t.Errorf("offers %s, want %s", got, want)
	}
}

func BenchmarkStormSnapshot(b *testing.B) {
	r := New(0, 0, 0)
	for i := range 10000 {
		r.Offer(at(time.Duration(i)*time.Millisecond), fmt.Sprintf("peer-%05d", i), i%7 != 0, "new-incarnation")
	}
	b.ReportAllocs()
	for b.Loop() {
		r.Snapshot(at(10 * time.Second))
	}
}

// A recorder that has seen nothing reports no buckets at all.
func TestEmptyRecorder(t *testing.T) {
	a := New(time.Second, 4, 0).Snapshot(t0)
	if len(a.Offers) != 0 || len(a.Rules) != 0 || a.Reconnect.Total != 0 {
		t.Fatalf("empty activity %+v", a)
	}
}
