package storm

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func at(d time.Duration) int64 { return t0.Add(d).UnixNano() }

func newTestTally(n int) *tally {
	o, err := Options{N: n, Window: 10 * time.Second, Hold: 2 * time.Second, Start: SelfExec("x")}.filled()
	if err != nil {
		panic(err)
	}
	return newTally(o)
}

func mustApply(t *testing.T, tl *tally, rs ...report) []ClientEvent {
	t.Helper()
	var evs []ClientEvent
	for _, r := range rs {
		ev, err := tl.apply(r)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// A client back within its window counts back with its recovery; one
// refused until its window closed counts locked out from its first
// refusal to the window's end.
func TestTallyBackAndLockedOut(t *testing.T) {
	tl := newTestTally(2)
	mustApply(t, tl, report{K: repUp, C: 0, TubID: "a"}, report{K: repUp, C: 1, TubID: "b"})
	tl.startRound(1, t0)
	evs := mustApply(t, tl,
		report{K: repFault, C: 0, R: 1, T: at(0), TubID: "a"},
		report{K: repFault, C: 1, R: 1, T: at(0), TubID: "b"},
		report{K: repFail, C: 0, R: 1, T: at(time.Second), Reason: "negotiation timed out"},
		report{K: repBack, C: 0, R: 1, T: at(3 * time.Second)},
		report{K: repFail, C: 1, R: 1, T: at(2 * time.Second), Refused: true, Reason: duplicateText, Offer: "offer remembered no decision", Rule: "never-decided"},
		report{K: repFail, C: 1, R: 1, T: at(5 * time.Second), Refused: true, Reason: duplicateText, Offer: "offer remembered no decision", Rule: "never-decided"},
	)
	if evs[3].Kind != EventBack || evs[3].Recovery != 3*time.Second {
		t.Errorf("back event %+v, want a 3s recovery", evs[3])
	}
	if tl.roundOver(t0.Add(9 * time.Second)) {
		t.Fatal("round over before client 1's window closed")
	}
	p := tl.progress(t0.Add(9*time.Second), false)
	if p.Back != 1 || p.LockedOut != 1 || p.Retrying != 0 || p.LongestLockout != 7*time.Second || p.Rejects != 2 {
		t.Errorf("progress %+v", p)
	}
	if !tl.roundOver(t0.Add(10 * time.Second)) {
		t.Fatal("round not over once every window closed")
	}
	out := tl.finishRound(t0.Add(10 * time.Second))
	if out[0].Outcome != OutcomeBack || out[0].Recovery != 3*time.Second || out[0].Attempts != 2 {
		t.Errorf("client 0: %+v", out[0])
	}
	if out[1].Outcome != OutcomeLockedOut || out[1].LockedOutFor != 8*time.Second || out[1].Rejects != 2 ||
		out[1].Reasons["Duplicate connection (offer remembered no decision)"] != 2 {
		t.Errorf("client 1: %+v", out[1])
	}
	var res Result
	tl.result(&res)
	if res.Back != 1 || res.LockedOut != 1 || res.Rejects != 2 || res.Recovery.N != 1 || res.LockedOutFor.Max != 8*time.Second {
		t.Errorf("result %+v", res)
	}
	if len(res.RejectsByReason) != 1 || res.RejectsByReason[0].N != 2 || res.RejectsByReason[0].Reason.Rule != "never-decided" {
		t.Errorf("reasons %+v", res.RejectsByReason)
	}
	if len(res.Failures) != 1 || res.Failures[0] != (Count{"negotiation timed out", 1}) {
		t.Errorf("failures %+v", res.Failures)
	}
}

// Once every client is back the round ends after the hold; a connection
// lost after coming back, within the round, is a flap; the twin's events
// count refusals but not outcomes.
func TestTallyHoldAndFlaps(t *testing.T) {
	tl := newTestTally(2)
	tl.startRound(1, t0)
	evs := mustApply(t, tl,
		report{K: repFault, C: 0, R: 1, T: at(0)},
		report{K: repFault, C: 1, R: 1, T: at(0)},
		report{K: repBack, C: 0, R: 1, T: at(time.Second)},
		report{K: repFail, C: 1, R: 1, T: at(time.Second), Twin: true, Refused: true, Reason: duplicateText},
		report{K: repBack, C: 1, R: 1, T: at(2 * time.Second)},
		report{K: repLost, C: 0, R: 1, T: at(3 * time.Second)},
		report{K: repLost, C: 1, R: 1, T: at(3 * time.Second), Twin: true},
	)
	if !evs[5].Flap || evs[6].Flap {
		t.Errorf("flap marks: client %v, twin %v", evs[5].Flap, evs[6].Flap)
	}
	if tl.roundOver(t0.Add(3 * time.Second)) {
		t.Error("round over before the hold passed")
	}
	if !tl.roundOver(t0.Add(4 * time.Second)) {
		t.Error("round not over a hold after the last came back")
	}
	out := tl.finishRound(t0.Add(4 * time.Second))
	if out[0].Flaps != 1 || out[0].Connected || out[1].Flaps != 0 || !out[1].Connected || out[1].Rejects != 0 {
		t.Errorf("outcomes %+v", out)
	}
	var res Result
	tl.result(&res)
	if res.Back != 2 || res.Flaps != 1 || res.FlapEvents != 1 || res.Rejects != 1 || res.StrikeSpread != 0 {
		t.Errorf("result %+v", res)
	}
}

// Reports from another round, and losses before the storm, change no
// outcome; a client whose fault report never came is taken to have been
// struck on time.
func TestTallyStrays(t *testing.T) {
	tl := newTestTally(3)
	mustApply(t, tl, report{K: repLost, C: 0, R: 0, T: at(0)})
	tl.startRound(2, t0)
	mustApply(t, tl,
		report{K: repBack, C: 0, R: 1, T: at(time.Second)},
		report{K: repFault, C: 1, R: 2, T: at(0)},
		report{K: repBack, C: 1, R: 2, T: at(time.Second)},
		report{K: repFault, C: 2, R: 2, T: at(0)},
		report{K: repBack, C: 2, R: 2, T: at(time.Second)},
	)
	if tl.roundOver(t0.Add(strikeGrace)) {
		t.Error("round over while client 0's fault report may still come")
	}
	now := t0.Add(strikeGrace + time.Millisecond)
	if tl.roundOver(now) {
		t.Error("round over before client 0's window")
	}
	out := tl.finishRound(t0.Add(11 * time.Second))
	if out[0].Outcome != OutcomeLockedOut || out[0].LockedOutFor != 10*time.Second {
		t.Errorf("client 0: %+v", out[0])
	}
	if tl.lostBeforeStorm != 1 {
		t.Errorf("losses before the storm: %d", tl.lostBeforeStorm)
	}
	if _, err := tl.apply(report{K: repBack, C: 3}); err == nil {
		t.Error("a client out of range was accepted")
	}
	if _, err := tl.apply(report{K: "bogus", C: 0}); err == nil {
		t.Error("an unknown report was accepted")
	}
}

// With a rate, faults strike in index order and later clients wait.
func TestTallyRate(t *testing.T) {
	o, err := Options{N: 3, Rate: 1, Window: 10 * time.Second, Start: SelfExec("x")}.filled()
	if err != nil {
		t.Fatal(err)
	}
	tl := newTally(o)
	tl.startRound(1, t0)
	mustApply(t, tl, report{K: repFault, C: 0, R: 1, T: at(0)}, report{K: repFault, C: 1, R: 1, T: at(time.Second)})
	p := tl.progress(t0.Add(500*time.Millisecond), false)
	if p.Retrying != 2 || p.Waiting != 1 {
		t.Errorf("progress %+v, want 2 retrying and 1 not struck", p)
	}
	if got := tl.faultTime(2, t0.Add(2*time.Second+strikeGrace+1)); !got.Equal(t0.Add(2 * time.Second)) {
		t.Errorf("client 2's overdue fault taken at %v", got.Sub(t0))
	}
	if got := (faultOrder{At: t0.UnixNano(), Rate: 4}).strikeAt(2); !got.Equal(t0.Add(500 * time.Millisecond)) {
		t.Errorf("strikeAt = %v", got.Sub(t0))
	}
	tl.finishRound(t0.Add(time.Minute))
	var res Result
	tl.result(&res)
	if res.StrikeSpread != time.Second {
		t.Errorf("strike spread %s, want the 1s between the two faults reported", res.StrikeSpread)
	}
}

func TestPercentiles(t *testing.T) {
	if p := percentiles(nil); p != (Percentiles{}) {
		t.Errorf("none: %+v", p)
	}
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	p := percentiles(ds)
	if p.N != 100 || p.P50 != 50*time.Millisecond || p.P99 != 99*time.Millisecond || p.Max != 100*time.Millisecond {
		t.Errorf("1..100ms: %+v", p)
	}
	if ds[0] != 100*time.Millisecond {
		t.Error("percentiles sorted its input")
	}
	if p := percentiles([]time.Duration{7}); p.P50 != 7 || p.P99 != 7 || p.Max != 7 {
		t.Errorf("one: %+v", p)
	}
}
