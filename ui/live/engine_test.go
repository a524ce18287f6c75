package live

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/demo"
	"github.com/tubscope/tubscope/tubclient/service"
	"github.com/tubscope/tubscope/tubclient/snapshot"
	"github.com/tubscope/tubscope/ui"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitSnap re-reads the engine's snapshot after each batch from its own
// feed until ok holds. The tub publishes a change within 100 ms of it,
// perhaps after the event that announced it, so it also looks again at
// that pace.
func waitSnap(t *testing.T, ctx context.Context, e ui.Engine, f ui.Feed, what string, ok func(snapshot.Snapshot) bool) snapshot.Snapshot {
	t.Helper()
	for {
		f.Drain(0)
		if s := *e.Snapshot(); ok(s) {
			return s
		}
		select {
		case <-f.Changed():
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		}
	}
}

// clientsLive holds when every demo client has heard the queen's decision
// on its current connection and the queen holds that connection live.
func clientsLive(d *demo.Demo) func(snapshot.Snapshot) bool {
	return func(s snapshot.Snapshot) bool {
		for i := range d.Clients() {
			c, err := d.Client(i)
			if err != nil {
				return false
			}
			if !liveBetween(s, c) {
				return false
			}
		}
		return true
	}
}

func liveBetween(s snapshot.Snapshot, c *tubclient.Tub) bool {
	live := func(bs []snapshot.Broker, peer, inc string) bool {
		for _, b := range bs {
			if b.PeerTubID == peer && b.PeerIncarnation == inc && b.State == snapshot.Live {
				return true
			}
		}
		return false
	}
	return live(s.Brokers, c.TubID(), c.Incarnation()) && live(c.Snapshot().Brokers, s.TubID, s.Incarnation)
}

func accepted(peer, rule string, after uint64) func(snapshot.Snapshot) bool {
	return func(s snapshot.Snapshot) bool {
		for _, d := range s.Decisions {
			if d.Seq > after && d.PeerTubID == peer && d.Role == snapshot.Master && d.Accept && d.Rule == rule {
				return true
			}
		}
		return false
	}
}

func lastSeq(s snapshot.Snapshot) uint64 {
	if len(s.Decisions) == 0 {
		return 0
	}
	return s.Decisions[len(s.Decisions)-1].Seq
}

// startDemo runs a demo on loopback for the test; a power-cut client
// stays off half a second rather than the demo's eight.
func startDemo(t *testing.T, ctx context.Context, o demo.Options) (*demo.Demo, []*Engine) {
	t.Helper()
	if o.Autoplay == 0 {
		o.Autoplay = -1
	}
	o.PowerDown = 500 * time.Millisecond
	d, err := demo.Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Error(err)
		}
	})
	return d, NewDemoEngines(d)
}

func subscribe(t *testing.T, e ui.Engine) ui.Feed {
	f := e.Subscribe(4096)
	t.Cleanup(f.Close)
	return f
}

func TestDemoEngineActions(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	d, engines := startDemo(t, ctx, demo.Options{Clients: 2})
	e := engines[0]
	f := subscribe(t, e)
	names, ok := e.Demo()
	if !ok || len(names) != 2 || names[0] != "client-1" {
		t.Fatalf("Demo() = %v, %v", names, ok)
	}
	s := waitSnap(t, ctx, e, f, "two live clients", clientsLive(d))
	c0, _ := d.Client(0)

	// The power-cut key reaches the client, and the queen tells the story.
	before := lastSeq(s)
	if err := e.Do(ui.Action{Kind: ui.ActPowerCut, Client: 0}); err != nil {
		t.Fatal(err)
	}
	s = waitSnap(t, ctx, e, f, "new-incarnation accept", func(s snapshot.Snapshot) bool {
		return accepted(c0.TubID(), string(negotiation.RuleNewIncarnation), before)(s) && clientsLive(d)(s)
	})

	// Reconnecting a demo client from the queen's table makes the client dial.
	before = lastSeq(s)
	if err := e.Do(ui.Action{Kind: ui.ActForceReconnect, Peer: c0.TubID()}); err != nil {
		t.Fatal(err)
	}
	waitSnap(t, ctx, e, f, "same-seqnum accept of the forced connection", accepted(c0.TubID(), string(negotiation.RuleSameSeqNum), before))

	// The clone key toggles.
	if err := e.Do(ui.Action{Kind: ui.ActClone, Client: 1}); err != nil || !d.Cloned(1) {
		t.Fatalf("clone: %v, cloned %v", err, d.Cloned(1))
	}
	if err := e.Do(ui.Action{Kind: ui.ActClone, Client: 1}); err != nil || d.Cloned(1) {
		t.Fatalf("second clone key: %v, cloned %v", err, d.Cloned(1))
	}

	if err := e.Do(ui.Action{Kind: ui.ActCyclePolicy}); err != nil {
		t.Fatal(err)
	}
	want := negotiation.Cycle(negotiation.PolicyFoolscap)
	waitSnap(t, ctx, e, f, "policy "+want, func(s snapshot.Snapshot) bool { return s.Policy == want })
	for _, a := range []ui.Action{
		{Kind: ui.ActPowerCut, Client: 7},
		{Kind: ui.ActFlap, Client: -1},
		{Kind: ui.ActForceReconnect},
		{Kind: ui.ActDrop, Broker: 999999},
		{Kind: ui.ActConnect, FURL: "pb://not-a-furl"},
		{Kind: "teleport"},
	} {
		if err := e.Do(a); err == nil {
			t.Errorf("Do(%+v) succeeded", a)
		}
	}
	if err := e.Do(ui.Action{Kind: ui.ActFlap, Client: 1}); err != nil {
		t.Error(err)
	}
}

// startServer runs a plain tub with the built-in service on loopback until
// the test ends, and returns it with the service's FURL.
func startServer(t *testing.T) (*tubclient.Tub, string) {
	t.Helper()
	server, err := tubclient.New(tubclient.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	if _, err := server.Listen("tcp:127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	furl, err := server.Register("svc", service.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	return server, furl
}

func TestInspectTubConnectsAndKeepsItsKey(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	key := filepath.Join(t.TempDir(), "tub.pem")

	server, furl := startServer(t)

	o := InspectOptions{Listen: "tcp:127.0.0.1:0", KeyFile: key, Policy: negotiation.PolicyProbe,
		Keepalive: time.Second, FURLs: []string{furl}}
	tub, err := NewInspectTub(o)
	if err != nil {
		t.Fatal(err)
	}
	e := NewEngine(tub)
	if _, ok := e.Demo(); ok {
		t.Error("an inspected tub claims to be the demo")
	}
	if err := e.Do(ui.Action{Kind: ui.ActStorm}); err == nil {
		t.Error("storm outside the demo succeeded")
	}
	f := e.Subscribe(1024)
	s := waitSnap(t, ctx, e, f, "a live broker to the FURL's tub", func(s snapshot.Snapshot) bool {
		for _, b := range s.Brokers {
			if b.PeerTubID == server.TubID() && b.State == snapshot.Live {
				return true
			}
		}
		return false
	})
	if s.Policy != negotiation.PolicyProbe || len(s.Listening) != 1 || !strings.Contains(s.FURL, ServiceName) {
		t.Errorf("inspected tub: policy %s, listening %v, FURL %s", s.Policy, s.Listening, s.FURL)
	}
	// We dialed the server, so we can force a second connection to it.
	if err := e.Do(ui.Action{Kind: ui.ActForceReconnect, Peer: server.TubID()}); err != nil {
		t.Error(err)
	}
	f.Close()
	id := tub.TubID()
	tub.Close()

	if _, err := os.Stat(key); err != nil {
		t.Fatalf("key file not written: %v", err)
	}
	again, err := NewInspectTub(InspectOptions{KeyFile: key})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if again.TubID() != id {
		t.Errorf("tubid %s after reloading the key, was %s", again.TubID(), id)
	}
	if len(again.Listening()) != 0 {
		t.Errorf("empty --listen still listens on %v", again.Listening())
	}
}

// L outside the demo: the next decision with the selected peer is lost on
// a forced reconnect, whichever side is master. As master, the inspected
// tub takes the reconnect by newest-wins: Foolscap's rules would refuse a
// master's own redial, since the slave's answering hello carries no
// last-connection.
func TestInspectLoseNextDecision(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	server, furl := startServer(t)
	tub, err := NewInspectTub(InspectOptions{FURLs: []string{furl}, Policy: negotiation.PolicyNewestWins})
	if err != nil {
		t.Fatal(err)
	}
	defer tub.Close()
	e := NewEngine(tub)
	f := e.Subscribe(1024)
	defer f.Close()
	waitSnap(t, ctx, e, f, "a live broker to the FURL's tub", func(s snapshot.Snapshot) bool {
		return len(s.Brokers) == 1 && s.Brokers[0].State == snapshot.Live
	})
	if err := e.Do(ui.Action{Kind: ui.ActLoseNext, Peer: server.TubID()}); err != nil {
		t.Fatal(err)
	}
	for lost := false; !lost; {
		select {
		case <-f.Changed():
		case <-ctx.Done():
			t.Fatal("no lost decision after L")
		}
		for _, ev := range f.Drain(1024) {
			lost = lost || (ev.Kind == snapshot.KindFault && strings.Contains(ev.Message, "decision lost"))
		}
	}
}

func TestInspectTubRejectsBadOptions(t *testing.T) {
	for _, o := range []InspectOptions{
		{Policy: "bogus"},
		{FURLs: []string{"http://example.com/"}},
		{Listen: "udp:nowhere"},
		{KeyFile: filepath.Join(t.TempDir(), "missing-dir", "tub.pem")},
	} {
		if tub, err := NewInspectTub(o); err == nil {
			tub.Close()
			t.Errorf("NewInspectTub(%+v) succeeded", o)
		}
	}
}
