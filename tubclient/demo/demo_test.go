package demo

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/internal/memnet"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// memNetwork runs the demo over memnet, so a test drives it on the fake
// clock of a synctest bubble.
type memNetwork struct{ net memnet.Network }

func (m *memNetwork) Listen(i int) (net.Listener, tubclient.Hint, error) {
	h := tubclient.Hint{Host: fmt.Sprintf("queen-%d", i+1), Port: 4000}
	return m.net.Listen(h.Addr()), h, nil
}

func (m *memNetwork) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	return m.net.Dialer("client")(ctx, network, addr)
}

// inBubble runs body against a demo on an in-memory network inside a
// synctest bubble; every duration in it is fake time.
func inBubble(t *testing.T, o Options, body func(t *testing.T, d *Demo)) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		if o.Autoplay == 0 {
			o.Autoplay = -1 // tests inject their own faults unless they test the script
		}
		o.Network = &memNetwork{}
		d, err := Start(t.Context(), o)
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := d.Close(); err != nil {
				t.Error(err)
			}
		}()
		body(t, d)
	})
}

// step is how far the fake clock moves between looks at the demo.
const step = 50 * time.Millisecond

// await moves the fake clock on until ok holds for queen q's snapshot,
// and fails after bound.
func await(t *testing.T, d *Demo, q int, bound time.Duration, what string, ok func(snapshot.Snapshot) bool) snapshot.Snapshot {
	t.Helper()
	deadline := time.Now().Add(bound)
	for {
		synctest.Wait()
		s := d.Queens()[q].Snapshot()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			for _, dec := range s.Decisions {
				t.Logf("decision %d %s %s accept=%v rule=%s %s", dec.Seq, dec.Role, d.nameOf(dec.PeerTubID), dec.Accept, dec.Rule, dec.Detail)
			}
			t.Fatalf("waiting %s for %s", bound, what)
		}
		time.Sleep(step)
	}
}

// liveWith reports whether the queen has a live broker to the client whose
// incarnation is the client's current one, and the client has heard the
// decision (its own broker to the queen is live too).
func liveWith(s snapshot.Snapshot, client *tubclient.Tub) bool {
	queenSide := false
	for _, b := range s.Brokers {
		if b.PeerTubID == client.TubID() && b.State == snapshot.Live && b.PeerIncarnation == client.Incarnation() {
			queenSide = true
		}
	}
	if !queenSide {
		return false
	}
	for _, b := range client.Snapshot().Brokers {
		if b.PeerTubID == s.TubID && b.State == snapshot.Live && b.PeerIncarnation == s.Incarnation {
			return true
		}
	}
	return false
}

func allLive(t *testing.T, d *Demo) func(snapshot.Snapshot) bool {
	return func(s snapshot.Snapshot) bool {
		for i := range d.Clients() {
			c, err := d.Client(i)
			if err != nil {
				t.Fatal(err)
			}
			if !liveWith(s, c) {
				return false
			}
		}
		return true
	}
}

// decidedSince finds a master decision for peer after seq that matches.
func decidedSince(s snapshot.Snapshot, seq uint64, peer string, accept bool, rule string) (snapshot.Decision, bool) {
	for _, dec := range s.Decisions {
		if dec.Seq > seq && dec.Role == snapshot.Master && dec.PeerTubID == peer && dec.Accept == accept && dec.Rule == rule {
			return dec, true
		}
	}
	return snapshot.Decision{}, false
}

func lastSeq(s snapshot.Snapshot) uint64 {
	if len(s.Decisions) == 0 {
		return 0
	}
	return s.Decisions[len(s.Decisions)-1].Seq
}

func brokerTo(s snapshot.Snapshot, peer string) (snapshot.Broker, bool) {
	for _, b := range s.Brokers {
		if b.PeerTubID == peer && b.State != snapshot.Negotiating {
			return b, true
		}
	}
	return snapshot.Broker{}, false
}

func peerIn(s snapshot.Snapshot, tubid string) (snapshot.Peer, bool) {
	for _, p := range s.Peers {
		if p.TubID == tubid {
			return p, true
		}
	}
	return snapshot.Peer{}, false
}

func TestStartRejectsBadOptions(t *testing.T) {
	ctx := context.Background()
	for _, o := range []Options{
		{Clients: MaxClients + 1},
		{Clients: 1, Policy: "bogus"},
		{Clients: 1, Policies: []string{"foolscap", "bogus"}},
		{Clients: 1, Policies: make([]string, MaxQueens+1)},
	} {
		if d, err := Start(ctx, o); err == nil {
			d.Close()
			t.Errorf("%+v accepted", o)
		}
	}
}

func TestQueenIsMasterAndNamesClients(t *testing.T) {
	inBubble(t, Options{Clients: 3}, func(t *testing.T, d *Demo) {
		s := await(t, d, 0, 10*time.Second, "three live clients", allLive(t, d))
		if got := d.Clients(); len(got) != 3 || got[0] != "client-1" || got[2] != "client-3" {
			t.Fatalf("Clients() = %v", got)
		}
		for _, b := range s.Brokers {
			if b.Role != snapshot.Master || b.Side != snapshot.Server {
				t.Errorf("queen's broker to %s is %s/%s, want master/server", b.Nickname, b.Role, b.Side)
			}
			i, ok := d.ClientIndex(b.PeerTubID)
			if !ok || b.Nickname != d.Clients()[i] {
				t.Errorf("broker to %s nicknamed %q", d.nameOf(b.PeerTubID), b.Nickname)
			}
		}
		if _, err := d.Client(3); err == nil {
			t.Error("Client(3) of three")
		}
		if err := d.PowerCut(-1); err == nil {
			t.Error("PowerCut(-1) accepted")
		}
		if err := d.ForceReconnect(0, 1); err == nil {
			t.Error("ForceReconnect to a second queen of one accepted")
		}
	})
}

// The ticket's story as the queen sees it: the client loses power, the
// queen's connection to it stays "live" though silent, then turns suspect,
// and only when the client powers back on with a new incarnation is it
// replaced, both connections staying in the peer's history.
func TestPowerCutShowsTheDeadConnectionUntilTheClientReturns(t *testing.T) {
	const keepalive, down = 3 * time.Second, 8 * time.Second
	inBubble(t, Options{Clients: 2, Keepalive: keepalive, PowerDown: down}, func(t *testing.T, d *Demo) {
		s := await(t, d, 0, 10*time.Second, "live clients", allLive(t, d))
		c0, _ := d.Client(0)
		peer := c0.TubID()
		old, _ := brokerTo(s, peer)
		oldInc := c0.Incarnation()
		before := lastSeq(s)
		cut := time.Now()
		if err := d.PowerCut(0); err != nil {
			t.Fatal(err)
		}
		if c0.Incarnation() == oldInc {
			t.Fatal("power cut kept the client's incarnation")
		}
		if err := d.PowerCut(0); err == nil {
			t.Error("a second power cut of a client already off accepted")
		}
		if err := d.LoseDecision(0); err == nil {
			t.Error("a lost decision staged on a client that is off")
		}

		// Watch the queen's table through the outage.
		var suspectAt time.Time
		for time.Since(cut) < down-step {
			synctest.Wait()
			s = d.Queen().Snapshot()
			b, ok := brokerTo(s, peer)
			if !ok || b.ID != old.ID {
				t.Fatalf("%s into the outage the queen no longer holds connection %d: %+v", time.Since(cut), old.ID, b)
			}
			switch {
			case b.State == snapshot.Suspect && suspectAt.IsZero():
				suspectAt = time.Now()
			case b.State == snapshot.Live && !suspectAt.IsZero():
				t.Fatalf("connection %d went back to live %s after the cut", old.ID, time.Since(cut))
			}
			if _, ok := decidedSince(s, before, peer, true, string(negotiation.RuleNewIncarnation)); ok {
				t.Fatalf("the client was back %s after the cut, before its power came back", time.Since(cut))
			}
			time.Sleep(step)
		}
		if suspectAt.IsZero() {
			t.Fatalf("the dead connection never turned suspect in %s", down)
		}
		if silent := suspectAt.Sub(cut); silent < keepalive {
			t.Errorf("suspect %s after the cut, before the %s keepalive", silent, keepalive)
		}

		s = await(t, d, 0, 2*time.Second, "new-incarnation accept", func(s snapshot.Snapshot) bool {
			_, ok := decidedSince(s, before, peer, true, string(negotiation.RuleNewIncarnation))
			return ok && liveWith(s, c0)
		})
		dec, _ := decidedSince(s, before, peer, true, string(negotiation.RuleNewIncarnation))
		if dec.OfferIncarnation != c0.Incarnation() {
			t.Errorf("accepted incarnation %s, client is %s", dec.OfferIncarnation, c0.Incarnation())
		}
		if dec.Existing == nil || dec.Existing.BrokerID != old.ID {
			t.Errorf("the accept was weighed against %+v, want the dead connection %d", dec.Existing, old.ID)
		}
		p, _ := peerIn(s, peer)
		var oldRec, newRec *snapshot.ConnectionRecord
		for i := range p.History {
			switch p.History[i].BrokerID {
			case old.ID:
				oldRec = &p.History[i]
			case dec.BrokerID:
				newRec = &p.History[i]
			}
		}
		if oldRec == nil || newRec == nil {
			t.Fatalf("history %+v lacks the old connection %d or its replacement %d", p.History, old.ID, dec.BrokerID)
		}
		if oldRec.End != snapshot.CloseReplaced || oldRec.ReplacedBy != dec.BrokerID {
			t.Errorf("old connection ended %q, replaced by %d; want replaced by %d", oldRec.End, oldRec.ReplacedBy, dec.BrokerID)
		}
		if newRec.Rule != string(negotiation.RuleNewIncarnation) || newRec.PeerIncarnation != c0.Incarnation() {
			t.Errorf("new connection record %+v", newRec)
		}
	})
}

func TestStormBringsEveryClientBack(t *testing.T) {
	inBubble(t, Options{Clients: 3}, func(t *testing.T, d *Demo) {
		s := await(t, d, 0, 10*time.Second, "live clients", allLive(t, d))
		before := lastSeq(s)
		if err := d.Storm(); err != nil {
			t.Fatal(err)
		}
		await(t, d, 0, 12*time.Second, "every client back after the storm", func(s snapshot.Snapshot) bool {
			for i := range d.Clients() {
				c, _ := d.Client(i)
				if _, ok := decidedSince(s, before, c.TubID(), true, string(negotiation.RuleNewIncarnation)); !ok || !liveWith(s, c) {
					return false
				}
			}
			return true
		})
	})
}

// Under Foolscap's rules a client whose first decision was lost is refused
// as never-decided until the queen's dead broker goes away.
func TestLostDecisionFoolscapLocksOutUntilTheHeldConnectionEnds(t *testing.T) {
	inBubble(t, Options{Clients: 1}, func(t *testing.T, d *Demo) {
		s := await(t, d, 0, 10*time.Second, "live client", allLive(t, d))
		c0, _ := d.Client(0)
		before := lastSeq(s)
		if err := d.LoseDecision(0); err != nil {
			t.Fatal(err)
		}
		s = await(t, d, 0, 10*time.Second, "never-decided reject", func(s snapshot.Snapshot) bool {
			_, ok := decidedSince(s, before, c0.TubID(), false, string(negotiation.RuleNeverDecided))
			return ok
		})
		rejected, _ := decidedSince(s, before, c0.TubID(), false, string(negotiation.RuleNeverDecided))
		await(t, d, 0, 20*time.Second, "client back after the held connection ended", func(s snapshot.Snapshot) bool {
			for _, dec := range s.Decisions {
				if dec.Seq > rejected.Seq && dec.PeerTubID == c0.TubID() && dec.Accept {
					return liveWith(s, c0)
				}
			}
			return false
		})
	})
}

// The attempt-id policy tells the retry from a parallel attempt and lets
// the client straight back.
func TestLostDecisionAttemptIDRecovers(t *testing.T) {
	inBubble(t, Options{Clients: 1, Policy: negotiation.PolicyAttemptID, DisconnectTimeout: -1}, func(t *testing.T, d *Demo) {
		s := await(t, d, 0, 10*time.Second, "live client", allLive(t, d))
		c0, _ := d.Client(0)
		before := lastSeq(s)
		if err := d.LoseDecision(0); err != nil {
			t.Fatal(err)
		}
		s = await(t, d, 0, 10*time.Second, "lost-decision accept", func(s snapshot.Snapshot) bool {
			_, ok := decidedSince(s, before, c0.TubID(), true, string(negotiation.RuleLostDecision))
			return ok && liveWith(s, c0)
		})
		if _, ok := decidedSince(s, before, c0.TubID(), false, string(negotiation.RuleNeverDecided)); ok {
			t.Error("attempt-id refused the retry as never-decided")
		}
	})
}

func TestCloneIsFlaggedAndRateLimited(t *testing.T) {
	inBubble(t, Options{Clients: 2}, func(t *testing.T, d *Demo) {
		s := await(t, d, 0, 10*time.Second, "live clients", allLive(t, d))
		c0, _ := d.Client(0)
		before := lastSeq(s)
		if err := d.Clone(0); err != nil {
			t.Fatal(err)
		}
		if err := d.Clone(0); err == nil {
			t.Error("second clone of one client accepted")
		}
		if !d.Cloned(0) || d.Cloned(1) {
			t.Error("Cloned does not say which client has a clone")
		}
		await(t, d, 0, 30*time.Second, "clone flagged and rate-limited", func(s snapshot.Snapshot) bool {
			p, _ := peerIn(s, c0.TubID())
			_, limited := decidedSince(s, before, c0.TubID(), false, string(negotiation.RuleCloneRateLimited))
			return p.Clone && limited
		})
		if err := d.StopClone(0); err != nil {
			t.Fatal(err)
		}
		if err := d.StopClone(0); err == nil {
			t.Error("stopping a clone twice succeeded")
		}
	})
}

func TestFlapAndForceReconnectComeBack(t *testing.T) {
	inBubble(t, Options{Clients: 2, FlapDown: time.Second}, func(t *testing.T, d *Demo) {
		s := await(t, d, 0, 10*time.Second, "live clients", allLive(t, d))
		c1, _ := d.Client(1)
		inc := c1.Incarnation()
		before := lastSeq(s)
		if err := d.Flap(1); err != nil {
			t.Fatal(err)
		}
		s = await(t, d, 0, 20*time.Second, "client-2 back after the flap", func(s snapshot.Snapshot) bool {
			for _, dec := range s.Decisions {
				if dec.Seq > before && dec.PeerTubID == c1.TubID() && dec.Accept {
					return liveWith(s, c1)
				}
			}
			return false
		})
		if c1.Incarnation() != inc {
			t.Error("a flap changed the client's incarnation")
		}

		before = lastSeq(s)
		if err := d.ForceReconnect(1, 0); err != nil {
			t.Fatal(err)
		}
		await(t, d, 0, 10*time.Second, "forced reconnect decided", func(s snapshot.Snapshot) bool {
			_, ok := decidedSince(s, before, c1.TubID(), true, string(negotiation.RuleSameSeqNum))
			return ok && liveWith(s, c1)
		})
	})
}

// narrationAt reads queen q's narration now.
func narrationAt(d *Demo, q int) snapshot.Narration {
	synctest.Wait()
	n, _ := d.Narration(q)
	return n
}

// sleepUntil moves the fake clock to at in steps, so the demo's
// goroutines run in between.
func sleepUntil(at time.Time) {
	for time.Now().Before(at) {
		synctest.Wait()
		time.Sleep(min(step, time.Until(at)))
	}
	synctest.Wait()
}

// Left alone, the demo plays the script: a calm spell with a countdown,
// the last client's power cut (it stays off PowerDown), a lost decision,
// a clone, and round again with the next client.
func TestScriptStepsAndCountdown(t *testing.T) {
	const autoplay, down = 12 * time.Second, 8 * time.Second
	inBubble(t, Options{Clients: 3, Autoplay: autoplay, PowerDown: down}, func(t *testing.T, d *Demo) {
		start := time.Now()
		n := narrationAt(d, 0)
		if n.Step != stepCalm || !strings.HasPrefix(n.Next, "client-3 loses power") || !n.NextAt.Equal(start.Add(autoplay)) {
			t.Fatalf("at start: %+v, want step %q, client-3's power cut at +%s", n, stepCalm, autoplay)
		}
		sleepUntil(start.Add(5 * time.Second))
		if n := narrationAt(d, 0); !n.NextAt.Equal(start.Add(autoplay)) || n.NextAt.Sub(time.Now()) != autoplay-5*time.Second {
			t.Errorf("5 s in, the power cut is due at %s, %s from now; want %s", n.NextAt, n.NextAt.Sub(time.Now()), autoplay-5*time.Second)
		}

		cutAt := start.Add(autoplay)
		sleepUntil(cutAt.Add(step))
		n = narrationAt(d, 0)
		if n.Step != stepPowerCut || !strings.HasPrefix(n.Next, "client-3 powers back on") || !n.NextAt.Equal(cutAt.Add(down)) {
			t.Fatalf("after the cut: %+v", n)
		}
		if !strings.Contains(n.Last, "client-3 lost power") {
			t.Errorf("after the cut the narration says %q", n.Last)
		}

		backAt := cutAt.Add(down)
		sleepUntil(backAt.Add(step))
		n = narrationAt(d, 0)
		if n.Step != stepPowerCut || !strings.HasPrefix(n.Next, "client-2 restarts") || !n.NextAt.Equal(backAt.Add(autoplay)) {
			t.Fatalf("after the power came back: %+v", n)
		}

		lostAt := backAt.Add(autoplay)
		sleepUntil(lostAt.Add(step))
		if n := narrationAt(d, 0); n.Step != stepLost || !strings.Contains(n.Next, "client-1's key") {
			t.Fatalf("after the lost decision: %+v", n)
		}
		cloneAt := lostAt.Add(autoplay)
		sleepUntil(cloneAt.Add(step))
		if n := narrationAt(d, 0); n.Step != stepClone || !d.Cloned(0) {
			t.Fatalf("after the clone: %+v (client-1 cloned: %v)", n, d.Cloned(0))
		}
		stopAt := cloneAt.Add(autoplay)
		sleepUntil(stopAt.Add(step))
		n = narrationAt(d, 0)
		if n.Step != stepCalm || !strings.HasPrefix(n.Next, "client-2 loses power") || d.Cloned(0) {
			t.Fatalf("round two: %+v (client-1 still cloned: %v)", n, d.Cloned(0))
		}
	})
}

// The narrator holds each sentence at least eight seconds: the opening
// one while the clients connect, the power cut's while the dead connection
// turns suspect (foretold, so not told again); the takeover that follows
// the client's return shows at once and says what happened and why.
func TestNarrationHoldsTheSentenceAndTellsTheTakeover(t *testing.T) {
	// The product promises at least eight seconds on screen.
	const hold, down = 8 * time.Second, 9 * time.Second
	inBubble(t, Options{Clients: 2, PowerDown: down}, func(t *testing.T, d *Demo) {
		start := time.Now()
		opening := narrationAt(d, 0)
		if !strings.HasPrefix(opening.Last, "2 clients dialed the queen and ping every second") {
			t.Fatalf("the demo opens with %q", opening.Last)
		}
		await(t, d, 0, 10*time.Second, "live clients", allLive(t, d))
		if n := narrationAt(d, 0); time.Since(start) < hold && n.Last != opening.Last {
			t.Fatalf("%s in, the opening sentence gave way to %q", time.Since(start), n.Last)
		}
		sleepUntil(start.Add(hold))

		if err := d.PowerCut(1); err != nil {
			t.Fatal(err)
		}
		cutSaid := narrationAt(d, 0)
		if !strings.Contains(cutSaid.Last, "client-2 lost power") {
			t.Fatalf("the power cut is narrated as %q", cutSaid.Last)
		}
		shown := time.Now()
		suspect := false
		for time.Since(shown) < down-step {
			s := d.Queen().Snapshot()
			if b, ok := brokerTo(s, mustClient(t, d, 1).TubID()); ok && b.State == snapshot.Suspect {
				suspect = true
			}
			if n := narrationAt(d, 0); n.Last != cutSaid.Last || !n.LastAt.Equal(cutSaid.LastAt) {
				t.Fatalf("%s after it was shown the sentence changed to %q", time.Since(shown), n.Last)
			}
			time.Sleep(step)
		}
		if !suspect {
			t.Fatal("the connection never turned suspect while the sentence was held")
		}
		sleepUntil(shown.Add(down + 2*step))
		n := narrationAt(d, 0)
		for _, want := range []string{"the queen took client-2 back", "after it powered on", "new-incarnation", "heard nothing on that connection", "called it suspect"} {
			if !strings.Contains(n.Last, want) {
				t.Errorf("the takeover is narrated as %q, missing %q", n.Last, want)
			}
		}
		if late := n.LastAt.Sub(shown.Add(down)); late < 0 || late > time.Second {
			t.Errorf("the takeover is told as of %s after the power came back", late)
		}
	})
}

func mustClient(t *testing.T, d *Demo, i int) *tubclient.Tub {
	t.Helper()
	c, err := d.Client(i)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Two queens, the same clients: after a power cut first-wins keeps the
// dead connection and locks the client out for as long as it holds it,
// while foolscap takes the client back at once by its new incarnation.
func TestCompareFirstWinsLocksOutWhileFoolscapTakesOver(t *testing.T) {
	o := Options{Clients: 2, Policies: []string{negotiation.PolicyFirstWins, negotiation.PolicyFoolscap}, DisconnectTimeout: -1}
	inBubble(t, o, func(t *testing.T, d *Demo) {
		if len(d.Queens()) != 2 {
			t.Fatalf("%d queens", len(d.Queens()))
		}
		for q := range 2 {
			await(t, d, q, 10*time.Second, fmt.Sprintf("queen %d: live clients", q+1), allLive(t, d))
		}
		c := mustClient(t, d, 1)
		firstWins, foolscap := d.Queens()[0], d.Queens()[1]
		if firstWins.Policy() != negotiation.PolicyFirstWins || foolscap.Policy() != negotiation.PolicyFoolscap {
			t.Fatalf("queens run %s and %s", firstWins.Policy(), foolscap.Policy())
		}
		seq0, seq1 := lastSeq(firstWins.Snapshot()), lastSeq(foolscap.Snapshot())
		if err := d.PowerCut(1); err != nil {
			t.Fatal(err)
		}
		back := await(t, d, 1, 12*time.Second, "foolscap takes the client back", func(s snapshot.Snapshot) bool {
			_, ok := decidedSince(s, seq1, c.TubID(), true, string(negotiation.RuleNewIncarnation))
			return ok && liveWith(s, c)
		})
		took, _ := decidedSince(back, seq1, c.TubID(), true, string(negotiation.RuleNewIncarnation))
		// The same offer, at the same moment, under first-wins.
		locked := await(t, d, 0, 2*time.Second, "first-wins refuses it", func(s snapshot.Snapshot) bool {
			_, ok := decidedSince(s, seq0, c.TubID(), false, string(negotiation.RuleFirstWins))
			return ok
		})
		refused, _ := decidedSince(locked, seq0, c.TubID(), false, string(negotiation.RuleFirstWins))
		if gap := refused.Time.Sub(took.Time).Abs(); gap > time.Second {
			t.Errorf("the two queens decided %s apart", gap)
		}
		// A minute on, first-wins still holds the dead connection and the
		// client is still locked out, with its lockout clock running.
		sleepUntil(time.Now().Add(time.Minute))
		s := firstWins.Snapshot()
		p, _ := peerIn(s, c.TubID())
		if p.LockedOutSince.IsZero() || time.Since(p.LockedOutSince) < time.Minute || p.Rejects < 2 {
			t.Errorf("first-wins: %s locked out since %v, %d rejects", c.TubID()[:8], p.LockedOutSince, p.Rejects)
		}
		if b, ok := brokerTo(s, c.TubID()); !ok || b.PeerIncarnation == c.Incarnation() {
			t.Errorf("first-wins holds %+v, want the dead connection of the old incarnation", b)
		}
		if s := foolscap.Snapshot(); !liveWith(s, c) {
			t.Error("foolscap lost the client again")
		}
		fw, _ := d.Narration(0)
		fs, _ := d.Narration(1)
		if !strings.Contains(fw.Last, "the queen refused client-2") || !strings.Contains(fw.Last, "first-wins") || !strings.Contains(fw.Last, "locked out") {
			t.Errorf("first-wins narration: %q", fw.Last)
		}
		if !strings.Contains(fs.Last, "took client-2 back") || !strings.Contains(fs.Last, "new-incarnation") {
			t.Errorf("foolscap narration: %q", fs.Last)
		}
	})
}
