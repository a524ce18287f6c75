package demo

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// start runs a demo for the test and subscribes to the queen.
func start(t *testing.T, o Options) (*Demo, *tubclient.Subscription, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	if o.Autoplay == 0 {
		o.Autoplay = -1 // tests inject their own faults
	}
	d, err := Start(ctx, o)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	sub := d.Queen().Subscribe(4096)
	t.Cleanup(func() {
		sub.Close()
		if err := d.Close(); err != nil {
			t.Error(err)
		}
		cancel()
	})
	return d, sub, ctx
}

// waitFor re-checks ok against the queen's snapshot after every batch of
// queen events (the clients' pings keep them coming) until it holds.
func waitFor(t *testing.T, ctx context.Context, d *Demo, sub *tubclient.Subscription, what string, ok func(snapshot.Snapshot) bool) snapshot.Snapshot {
	t.Helper()
	for {
		sub.Drain(0)
		if s := d.Queen().Snapshot(); ok(s) {
			return s
		}
		select {
		case <-sub.Changed():
		case <-ctx.Done():
			s := d.Queen().Snapshot()
			for _, dec := range s.Decisions {
				t.Logf("decision %d %s %s accept=%v rule=%s %s", dec.Seq, dec.Role, short(dec.PeerTubID), dec.Accept, dec.Rule, dec.Detail)
			}
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		}
	}
}

func short(id string) string { return id[:min(8, len(id))] }

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

func TestStartRejectsBadOptions(t *testing.T) {
	ctx := context.Background()
	if _, err := Start(ctx, Options{Clients: MaxClients + 1}); err == nil {
		t.Error("too many clients accepted")
	}
	if _, err := Start(ctx, Options{Clients: 1, Policy: "bogus"}); err == nil {
		t.Error("unknown policy accepted")
	}
}

func TestQueenIsMasterAndNamesClients(t *testing.T) {
	t.Parallel()
	d, sub, ctx := start(t, Options{Clients: 3})
	s := waitFor(t, ctx, d, sub, "three live clients", allLive(t, d))
	if got := d.Clients(); len(got) != 3 || got[0] != "client-1" || got[2] != "client-3" {
		t.Fatalf("Clients() = %v", got)
	}
	for _, b := range s.Brokers {
		if b.Role != snapshot.Master || b.Side != snapshot.Server {
			t.Errorf("queen's broker to %s is %s/%s, want master/server", b.Nickname, b.Role, b.Side)
		}
		i, ok := d.ClientIndex(b.PeerTubID)
		if !ok || b.Nickname != d.Clients()[i] {
			t.Errorf("broker to %s nicknamed %q", short(b.PeerTubID), b.Nickname)
		}
	}
	if _, err := d.Client(3); err == nil {
		t.Error("Client(3) of three")
	}
	if err := d.PowerCut(-1); err == nil {
		t.Error("PowerCut(-1) accepted")
	}
}

// The ticket's story: a client loses power behind a NAT and comes back with
// a new incarnation while the queen still holds its silent connection.
func TestPowerCutIsAcceptedAsNewIncarnation(t *testing.T) {
	t.Parallel()
	d, sub, ctx := start(t, Options{Clients: 3})
	s := waitFor(t, ctx, d, sub, "three live clients", allLive(t, d))

	c0, _ := d.Client(0)
	oldInc := c0.Incarnation()
	before := lastSeq(s)
	if err := d.PowerCut(0); err != nil {
		t.Fatal(err)
	}
	if c0.Incarnation() == oldInc {
		t.Fatal("power cut kept the client's incarnation")
	}
	s = waitFor(t, ctx, d, sub, "new-incarnation accept for client-1", func(s snapshot.Snapshot) bool {
		_, ok := decidedSince(s, before, c0.TubID(), true, string(negotiation.RuleNewIncarnation))
		return ok && liveWith(s, c0)
	})
	dec, _ := decidedSince(s, before, c0.TubID(), true, string(negotiation.RuleNewIncarnation))
	if dec.OfferIncarnation != c0.Incarnation() {
		t.Errorf("accepted incarnation %s, client is %s", dec.OfferIncarnation, c0.Incarnation())
	}

	before = lastSeq(s)
	if err := d.Storm(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, d, sub, "every client back after the storm", func(s snapshot.Snapshot) bool {
		for i := range d.Clients() {
			c, _ := d.Client(i)
			if _, ok := decidedSince(s, before, c.TubID(), true, string(negotiation.RuleNewIncarnation)); !ok || !liveWith(s, c) {
				return false
			}
		}
		return true
	})
}

// Under Foolscap's rules a client whose first decision was lost is refused
// as never-decided until the queen's dead broker times out.
func TestLostDecisionFoolscapLocksOutUntilTimeout(t *testing.T) {
	t.Parallel()
	d, sub, ctx := start(t, Options{Clients: 1})
	s := waitFor(t, ctx, d, sub, "live client", allLive(t, d))
	c0, _ := d.Client(0)
	before := lastSeq(s)
	if err := d.LoseDecision(0); err != nil {
		t.Fatal(err)
	}
	s = waitFor(t, ctx, d, sub, "never-decided reject", func(s snapshot.Snapshot) bool {
		_, ok := decidedSince(s, before, c0.TubID(), false, string(negotiation.RuleNeverDecided))
		return ok
	})
	rejected, _ := decidedSince(s, before, c0.TubID(), false, string(negotiation.RuleNeverDecided))
	waitFor(t, ctx, d, sub, "client back after the dead broker timed out", func(s snapshot.Snapshot) bool {
		for _, dec := range s.Decisions {
			if dec.Seq > rejected.Seq && dec.PeerTubID == c0.TubID() && dec.Accept {
				return liveWith(s, c0)
			}
		}
		return false
	})
}

// The attempt-id policy tells the retry from a parallel attempt and lets
// the client straight back.
func TestLostDecisionAttemptIDRecovers(t *testing.T) {
	t.Parallel()
	d, sub, ctx := start(t, Options{Clients: 1, Policy: negotiation.PolicyAttemptID, DisconnectTimeout: -1})
	s := waitFor(t, ctx, d, sub, "live client", allLive(t, d))
	c0, _ := d.Client(0)
	before := lastSeq(s)
	if err := d.LoseDecision(0); err != nil {
		t.Fatal(err)
	}
	s = waitFor(t, ctx, d, sub, "lost-decision accept", func(s snapshot.Snapshot) bool {
		_, ok := decidedSince(s, before, c0.TubID(), true, string(negotiation.RuleLostDecision))
		return ok && liveWith(s, c0)
	})
	if _, ok := decidedSince(s, before, c0.TubID(), false, string(negotiation.RuleNeverDecided)); ok {
		t.Error("attempt-id refused the retry as never-decided")
	}
}

func TestCloneIsFlaggedAndRateLimited(t *testing.T) {
	t.Parallel()
	d, sub, ctx := start(t, Options{Clients: 2})
	s := waitFor(t, ctx, d, sub, "live clients", allLive(t, d))
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
	waitFor(t, ctx, d, sub, "clone flagged and rate-limited", func(s snapshot.Snapshot) bool {
		flagged := false
		for _, p := range s.Peers {
			if p.TubID == c0.TubID() && p.Clone {
				flagged = true
			}
		}
		_, limited := decidedSince(s, before, c0.TubID(), false, string(negotiation.RuleCloneRateLimited))
		return flagged && limited
	})
	if err := d.StopClone(0); err != nil {
		t.Fatal(err)
	}
	if err := d.StopClone(0); err == nil {
		t.Error("stopping a clone twice succeeded")
	}
}

func TestFlapAndForceReconnectComeBack(t *testing.T) {
	t.Parallel()
	d, sub, ctx := start(t, Options{Clients: 2, FlapDown: time.Second})
	s := waitFor(t, ctx, d, sub, "live clients", allLive(t, d))
	c1, _ := d.Client(1)
	inc := c1.Incarnation()
	before := lastSeq(s)
	if err := d.Flap(1); err != nil {
		t.Fatal(err)
	}
	s = waitFor(t, ctx, d, sub, "client-2 back after the flap", func(s snapshot.Snapshot) bool {
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
	if err := d.ForceReconnect(1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, d, sub, "forced reconnect decided", func(s snapshot.Snapshot) bool {
		_, ok := decidedSince(s, before, c1.TubID(), true, string(negotiation.RuleSameSeqNum))
		return ok && liveWith(s, c1)
	})
}

// Left alone, the demo plays the story itself: its last client loses power,
// the queen says so, and takes the client back by its new incarnation.
func TestAutoplayPowerCutsTheLastClient(t *testing.T) {
	t.Parallel()
	d, sub, ctx := start(t, Options{Clients: 2, Autoplay: 500 * time.Millisecond})
	last, _ := d.Client(1)
	first, _ := d.Client(0)
	firstInc := first.Incarnation()
	waitFor(t, ctx, d, sub, "the autoplayed power cut accepted", func(s snapshot.Snapshot) bool {
		_, ok := decidedSince(s, 0, last.TubID(), true, string(negotiation.RuleNewIncarnation))
		return ok && liveWith(s, last)
	})
	if first.Incarnation() != firstInc {
		t.Error("autoplay touched a client other than the last")
	}
}
