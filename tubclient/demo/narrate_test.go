package demo

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

func names(tubid string) string { return map[string]string{"c5": "client-5", "c4": "client-4"}[tubid] }

func yes() *bool { b := true; return &b }
func no() *bool  { b := false; return &b }

// A sentence keeps the strip for LastHold; of what comes meanwhile the
// weightiest (newest among equals) follows it.
func TestNarratorHoldsThenShowsTheWeightiestWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newNarrator(names)
		if s, gen := n.last(time.Now()); s.text != "" || gen != 0 {
			t.Fatalf("a new narrator says %q (gen %d)", s.text, gen)
		}
		t0 := time.Now()
		n.announce("A", t0)
		time.Sleep(time.Second)
		n.event(snapshot.Event{Kind: snapshot.KindBrokerSuspect, Time: time.Now(), PeerTubID: "c5", BrokerID: 0, Reason: "quiet"})
		n.event(snapshot.Event{Kind: snapshot.KindBrokerDetached, Time: time.Now(), PeerTubID: "c5", Close: snapshot.CloseDisconnectTimeout, Reason: "nothing received for 10s"})
		time.Sleep(time.Second)
		n.announce("C", time.Now())
		time.Sleep(time.Second)
		n.event(snapshot.Event{Kind: snapshot.KindBrokerDetached, Time: time.Now(), PeerTubID: "c4", Close: snapshot.ClosePeerClosed, Reason: "EOF"})

		s, gen := n.last(t0.Add(LastHold - time.Nanosecond))
		if s.text != "A" || !s.at.Equal(t0) {
			t.Fatalf("inside the hold: %q at %v", s.text, s.at)
		}
		s, gen2 := n.last(t0.Add(LastHold))
		if s.text != "C" || gen2 != gen+1 {
			t.Fatalf("after the hold: %q (gen %d → %d), want C, the weightiest waiting", s.text, gen, gen2)
		}
		if s, gen3 := n.last(t0.Add(LastHold + 7*time.Second)); s.text != "C" || gen3 != gen2 {
			t.Fatalf("nothing waits, yet the strip changed to %q", s.text)
		}
	})
}

func TestNarratorTellsDecisionsWithTheirHistory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newNarrator(names)
		ev := func(e snapshot.Event) {
			e.Time = time.Now()
			n.event(e)
		}
		lastText := func() string {
			time.Sleep(LastHold) // each sentence gets the strip to itself
			s, _ := n.last(time.Now())
			return s.text
		}
		ev(snapshot.Event{Kind: snapshot.KindBrokerAttached, PeerTubID: "c5", BrokerID: 7})
		ev(snapshot.Event{Kind: snapshot.KindVerdict, PeerTubID: "c5", Role: snapshot.Master, Accept: yes(), Rule: string(negotiation.RuleNoExisting)})
		if got := lastText(); got != "" {
			t.Errorf("a first connection is narrated: %q", got)
		}
		ev(snapshot.Event{Kind: snapshot.KindCall, PeerTubID: "c5", BrokerID: 7})
		time.Sleep(4 * time.Second)
		ev(snapshot.Event{Kind: snapshot.KindBrokerSuspect, PeerTubID: "c5", BrokerID: 7, Reason: "nothing received for 4s, keepalive PING unanswered"})
		if got := lastText(); !strings.Contains(got, "client-5's connection turned suspect: nothing received for 4s") {
			t.Errorf("suspect: %q", got)
		}
		n.poweredOn("c5", time.Now())
		time.Sleep(3 * time.Millisecond)
		ev(snapshot.Event{Kind: snapshot.KindVerdict, PeerTubID: "c5", Role: snapshot.Slave, Accept: yes(), Rule: string(negotiation.RuleMasterAccepted)})
		ev(snapshot.Event{Kind: snapshot.KindVerdict, PeerTubID: "c5", Role: snapshot.Master, Accept: yes(), Rule: string(negotiation.RuleNewIncarnation)})
		want := "the queen took client-5 back 3 ms after it powered on: its incarnation changed (new-incarnation), so the connection it held was dead; " +
			"it had heard nothing on that connection for 12.0 s and called it suspect 8.0 s before"
		if got := lastText(); got != want {
			t.Errorf("takeover:\n got %q\nwant %q", got, want)
		}

		ev(snapshot.Event{Kind: snapshot.KindVerdict, PeerTubID: "c4", Role: snapshot.Master, Accept: no(), Rule: string(negotiation.RuleProbePending)})
		ev(snapshot.Event{Kind: snapshot.KindVerdict, PeerTubID: "c4", Role: snapshot.Master, Accept: no(), Rule: string(negotiation.RuleNeverDecided)})
		if got := lastText(); !strings.HasPrefix(got, "the queen refused client-4: its offer remembers no decision") || strings.Contains(got, "locked out") {
			t.Errorf("first refusal: %q", got)
		}
		ev(snapshot.Event{Kind: snapshot.KindVerdict, PeerTubID: "c4", Role: snapshot.Master, Accept: no(), Rule: "some-new-rule", Detail: "a reason the narrator has no words for."})
		if got := lastText(); !strings.Contains(got, "a reason the narrator has no words for (some-new-rule); locked out 8.0 s, 2 refusals so far") {
			t.Errorf("second refusal: %q", got)
		}
		ev(snapshot.Event{Kind: snapshot.KindBrokerDetached, PeerTubID: "c4", Close: snapshot.CloseDisconnectTimeout, Reason: "disconnect timeout"})
		ev(snapshot.Event{Kind: snapshot.KindVerdict, PeerTubID: "c4", Role: snapshot.Master, Accept: yes(), Rule: string(negotiation.RuleNoExisting)})
		if got := lastText(); got != "client-4 is back after 16.0 s locked out and 2 refusals: the connection the queen held ended (disconnect-timeout), so nothing stood in its way (no-existing)" {
			t.Errorf("back after a lockout: %q", got)
		}
	})
}

func TestSpell(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second:            "<1 ms",
		500 * time.Microsecond:  "<1 ms",
		3 * time.Millisecond:    "3 ms",
		4200 * time.Millisecond: "4.2 s",
		65 * time.Second:        "1:05",
		42 * time.Minute:        "42:00",
	} {
		if got := spell(d); got != want {
			t.Errorf("spell(%s) = %q, want %q", d, got, want)
		}
	}
}
