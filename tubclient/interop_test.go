package tubclient

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient/banana"
	"github.com/tubscope/tubscope/tubclient/internal/pypeer"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// Interop tests run real Foolscap 21.7 peers (Debian python3-foolscap).

func interopCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// pythonIdentity has Foolscap make a tub.pem and returns its path and tubid.
func pythonIdentity(t *testing.T, ctx context.Context) (string, string) {
	path := filepath.Join(t.TempDir(), "tub.pem")
	tubid, err := pypeer.PythonPEM(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	return path, tubid
}

// startFoolscapServer runs a Foolscap server under a Foolscap-made
// identity and returns it with its tubid; it stops with the test.
func startFoolscapServer(t *testing.T, ctx context.Context) (*pypeer.Peer, string) {
	t.Helper()
	pem, pyID := pythonIdentity(t, ctx)
	srv, err := pypeer.StartServer(ctx, pypeer.ServerOptions{PEM: pem})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	return srv, pyID
}

// connectFoolscapClient runs a Foolscap client under the identity in pem
// that holds a reference to furl; it returns once connected and stops with
// the test.
func connectFoolscapClient(t *testing.T, ctx context.Context, furl, pem string) *pypeer.Peer {
	t.Helper()
	cl, err := pypeer.StartClient(ctx, furl, pypeer.ClientOptions{PEM: pem, Hold: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Stop() })
	if _, err := cl.Expect(ctx, "connected"); err != nil {
		t.Fatal(err)
	}
	return cl
}

// goIdentity makes an identity that is master (higher tubid) or slave
// relative to peer.
func goIdentity(t *testing.T, peer string, master bool) *Identity {
	id, err := IdentityWhere(func(tubid string) bool { return (tubid > peer) == master })
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func roleName(master bool) string {
	if master {
		return "go-master"
	}
	return "go-slave"
}

// waitEvent reads sub until an event satisfies ok.
func waitEvent(t *testing.T, ctx context.Context, sub *Subscription, ok func(snapshot.Event) bool) snapshot.Event {
	t.Helper()
	for {
		for _, ev := range sub.Drain(0) {
			if ok(ev) {
				return ev
			}
		}
		select {
		case <-sub.Changed():
		case <-ctx.Done():
			t.Fatalf("no matching event: %v", ctx.Err())
		}
	}
}

func TestInteropFoolscapIdentityLoads(t *testing.T) {
	pypeer.Require(t)
	ctx := interopCtx(t)
	path, tubid := pythonIdentity(t, ctx)
	id, err := LoadOrCreateIdentity(path)
	if err != nil {
		t.Fatal(err)
	}
	if id.TubID != tubid {
		t.Fatalf("Go reads tubid %s from Foolscap's tub.pem, Foolscap says %s", id.TubID, tubid)
	}
}

// Go dials a Foolscap server, as master and as slave.
func TestInteropGoClientFoolscapServer(t *testing.T) {
	pypeer.Require(t)
	for _, master := range []bool{true, false} {
		t.Run(roleName(master), func(t *testing.T) {
			ctx := interopCtx(t)
			srv, pyID := startFoolscapServer(t, ctx)
			tub := newTestTub(t, Config{Identity: goIdentity(t, pyID, master)})
			ref, err := tub.GetReference(ctx, srv.FURL())
			if err != nil {
				t.Fatal(err)
			}
			if got, err := ref.Call(ctx, "echo", "hi"); err != nil || got != "hi" {
				t.Fatalf("echo = %v, %v", got, err)
			}
			big := map[string]any{"n": int64(1) << 40, "neg": int64(-2), "f": 1.5, "l": []any{true, nil, []byte("b")}}
			got, err := ref.Call(ctx, "echo", big)
			if err != nil {
				t.Fatal(err)
			}
			want := banana.Dict{{Key: "f", Value: 1.5}, {Key: "l", Value: []any{true, nil, []byte("b")}},
				{Key: "n", Value: int64(1) << 40}, {Key: "neg", Value: int64(-2)}}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("echo dict = %#v, want %#v", got, want)
			}
			_, err = ref.Call(ctx, "fail")
			var rerr *RemoteError
			if !errors.As(err, &rerr) || rerr.Type != "builtins.ValueError" || rerr.Value != "boom" {
				t.Fatalf("fail() = %v", err)
			}
			if _, err := ref.Call(ctx, "nosuchmethod"); !errors.As(err, &rerr) {
				t.Fatalf("unknown method gave %v, want a remote error", err)
			}
			v, err := ref.Call(ctx, "ref")
			if err != nil {
				t.Fatal(err)
			}
			sub, ok := v.(*RemoteReference)
			if !ok {
				t.Fatalf("ref() = %T", v)
			}
			if got, err := sub.Call(ctx, "echo", "via ref"); err != nil || got != "via ref" {
				t.Fatalf("echo via ref = %v, %v", got, err)
			}
			if err := sub.Release(ctx); err != nil {
				t.Fatalf("decref: %v", err)
			}
			s := tub.Snapshot()
			if len(s.Brokers) != 1 || s.Brokers[0].Role != map[bool]snapshot.Role{true: snapshot.Master, false: snapshot.Slave}[master] {
				t.Fatalf("brokers = %+v", s.Brokers)
			}
		})
	}
}

// A Foolscap client dials `tubscope serve`'s service, as master and slave.
func TestInteropFoolscapClientGoServer(t *testing.T) {
	pypeer.Require(t)
	for _, master := range []bool{true, false} {
		t.Run(roleName(master), func(t *testing.T) {
			ctx := interopCtx(t)
			pem, pyID := pythonIdentity(t, ctx)
			tub := newTestTub(t, Config{Identity: goIdentity(t, pyID, master)})
			furl, err := tub.Register("svc", echoService())
			if err != nil {
				t.Fatal(err)
			}
			cl := connectFoolscapClient(t, ctx, furl, pem)
			if got, err := cl.Call(ctx, "echo", "hi"); err != nil || got != "hi" {
				t.Fatalf("python echo = %v, %v", got, err)
			}
			if got, err := cl.Call(ctx, "ping"); err != nil || got != "pong" {
				t.Fatalf("python ping = %v, %v", got, err)
			}
			_, err = cl.Call(ctx, "nosuchmethod")
			var cerr *pypeer.CallError
			if !errors.As(err, &cerr) || !strings.Contains(cerr.Type, "AttributeError") {
				t.Fatalf("unknown method = %v, want AttributeError", err)
			}
			// The connection survives the error.
			if got, err := cl.Call(ctx, "echo", []any{int64(1), "two"}); err != nil {
				t.Fatalf("echo after error: %v, %v", got, err)
			}
		})
	}
}

func lastDecision(t *testing.T, tub *Tub) snapshot.Decision {
	t.Helper()
	ds := tub.Snapshot().Decisions
	if len(ds) == 0 {
		t.Fatal("no decisions logged")
	}
	return ds[len(ds)-1]
}

// Duplicate offers from a tubscope slave, decided by a Foolscap master.
func TestInteropDuplicatesFoolscapMaster(t *testing.T) {
	pypeer.Require(t)
	ctx := interopCtx(t)
	srv, pyID := startFoolscapServer(t, ctx)
	tub := newTestTub(t, Config{Identity: goIdentity(t, pyID, false)})
	f, _ := ParseFURL(srv.FURL())
	first, err := tub.connect(ctx, f, false)
	if err != nil {
		t.Fatal(err)
	}
	d := lastDecision(t, tub)
	if !d.Accept || !strings.HasSuffix(d.Current, " 1") {
		t.Fatalf("first decision %+v", d)
	}
	masterIR := strings.Fields(d.Current)[0]

	// (a) Same incarnation, knows the current seqnum: accepted, old dropped.
	second, err := tub.connect(ctx, f, true)
	if err != nil {
		t.Fatalf("same incarnation with current seqnum refused: %v", err)
	}
	d = lastDecision(t, tub)
	if !d.Accept || d.OfferLast != masterIR+" 1" || d.Current != masterIR+" 2" {
		t.Fatalf("decision (a) %+v", d)
	}
	<-first.Done()

	// (c) last-connection none 0 with the same incarnation: Duplicate connection.
	if err := tub.Forget(pyID); err != nil {
		t.Fatal(err)
	}
	_, err = tub.connect(ctx, f, true)
	var ne *NegotiationError
	if !errors.As(err, &ne) || ne.Remote != "Duplicate connection" {
		t.Fatalf("none 0 offer: err = %v, want the master's Duplicate connection", err)
	}
	d = lastDecision(t, tub)
	if d.Accept || d.OfferLast != "none 0" || d.Error != "Duplicate connection" {
		t.Fatalf("decision (c) %+v", d)
	}
	select {
	case <-second.Done():
		t.Fatal("the rejected offer took the established broker down")
	default:
	}

	// (b) A new incarnation (the old socket left silently dead): accepted.
	if err := tub.Restart(true); err != nil {
		t.Fatal(err)
	}
	if _, err := tub.connect(ctx, f, false); err != nil {
		t.Fatalf("new incarnation refused: %v", err)
	}
	d = lastDecision(t, tub)
	if !d.Accept || d.OfferLast != "none 0" || d.Current != masterIR+" 3" {
		t.Fatalf("decision (b) %+v", d)
	}
}

// Duplicate offers from a Foolscap slave, decided by a tubscope master.
func TestInteropDuplicatesTubscopeMaster(t *testing.T) {
	pypeer.Require(t)
	ctx := interopCtx(t)
	pem, pyID := pythonIdentity(t, ctx)
	tub := newTestTub(t, Config{Identity: goIdentity(t, pyID, true)})
	furl, err := tub.Register("svc", echoService())
	if err != nil {
		t.Fatal(err)
	}
	sub := tub.Subscribe(1024)
	defer sub.Close()
	cl := connectFoolscapClient(t, ctx, furl, pem)
	verdict := func() snapshot.Event {
		return waitEvent(t, ctx, sub, func(ev snapshot.Event) bool { return ev.Kind == snapshot.KindVerdict })
	}
	if v := verdict(); !*v.Accept || v.Rule != "no-existing" {
		t.Fatalf("first verdict %+v", v)
	}
	myIR := tub.Incarnation()

	// (a) Same incarnation, current seqnum: accepted.
	if err := cl.Send("reconnect"); err != nil {
		t.Fatal(err)
	}
	if v := verdict(); !*v.Accept || v.Rule != "same-seqnum" || v.LastConnection != myIR+" 1" {
		t.Fatalf("reconnect verdict %+v", v)
	}
	if _, err := cl.Expect(ctx, "reconnected"); err != nil {
		t.Fatal(err)
	}
	// (c) none 0 with the same incarnation: rejected as a duplicate.
	if err := cl.Send("forget"); err != nil {
		t.Fatal(err)
	}
	if v := verdict(); *v.Accept || v.Rule != "never-decided" || v.LastConnection != "none 0" {
		t.Fatalf("forget verdict %+v", v)
	}
	line, err := cl.Expect(ctx, "rejected")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(line.String("error"), "Duplicate connection") {
		t.Fatalf("python saw %v", line)
	}
	// (b) A new incarnation: accepted.
	if err := cl.Send("newinc"); err != nil {
		t.Fatal(err)
	}
	if v := verdict(); !*v.Accept || v.Rule != "new-incarnation" {
		t.Fatalf("newinc verdict %+v", v)
	}
	if _, err := cl.Expect(ctx, "reconnected"); err != nil {
		t.Fatal(err)
	}
	if got, err := cl.Call(ctx, "echo", "still here"); err != nil || got != "still here" {
		t.Fatalf("echo after the duplicates: %v, %v", got, err)
	}
	s := tub.Snapshot()
	live := 0
	for _, b := range s.Brokers {
		if b.PeerTubID == pyID && b.State == snapshot.Live {
			live++
		}
	}
	if live != 1 {
		t.Fatalf("%d live brokers to the Foolscap slave, want 1: %+v", live, s.Brokers)
	}
}

// S3 against an unmodified Foolscap client: the first decision is lost and
// the client retries remembering nothing (last-connection none 0). Foolscap's
// rules refuse it while the dead broker stands; probe finds that broker
// silent and accepts the first retry.
func TestInteropLostDecisionFoolscapClient(t *testing.T) {
	pypeer.Require(t)
	for _, policy := range []string{"foolscap", "probe"} {
		t.Run(policy, func(t *testing.T) {
			ctx := interopCtx(t)
			pem, pyID := pythonIdentity(t, ctx)
			tub := newTestTub(t, Config{Identity: goIdentity(t, pyID, true)})
			if err := tub.SetPolicyByName(policy); err != nil {
				t.Fatal(err)
			}
			furl, _ := tub.Register("svc", echoService())
			if err := tub.LoseNextDecision(pyID); err != nil {
				t.Fatal(err)
			}
			sub := tub.Subscribe(4096)
			defer sub.Close()
			cl, err := pypeer.StartClient(ctx, furl, pypeer.ClientOptions{PEM: pem, Reconnector: true,
				ConnectTimeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Stop()
			first := waitEvent(t, ctx, sub, func(ev snapshot.Event) bool { return ev.Kind == snapshot.KindVerdict })
			if !*first.Accept || first.Rule != "no-existing" {
				t.Fatalf("first verdict %+v", first)
			}
			retry := waitEvent(t, ctx, sub, func(ev snapshot.Event) bool {
				return ev.Kind == snapshot.KindVerdict && ev.Rule != "probe-pending"
			})
			if retry.LastConnection != "none 0" || retry.Incarnation != first.Incarnation {
				t.Fatalf("the retry should be the same incarnation remembering nothing: %+v", retry)
			}
			switch policy {
			case "foolscap":
				if *retry.Accept || retry.Rule != "never-decided" {
					t.Fatalf("foolscap verdict on the retry %+v, want the 21.7 lockout (never-decided)", retry)
				}
			case "probe":
				if !*retry.Accept || retry.Rule != "probe-silent" {
					t.Fatalf("probe verdict on the retry %+v, want probe-silent", retry)
				}
				if _, err := cl.Expect(ctx, "connected"); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// Foolscap (OpenSSL) handshakes with every key exchange tubscope offers, in
// both directions. Dialing, tubscope's offer picks the group; answering,
// Foolscap's does, and it offers X25519.
func TestInteropKeyExchanges(t *testing.T) {
	pypeer.Require(t)
	ctx := interopCtx(t)
	srv, _ := startFoolscapServer(t, ctx)
	pem, _ := pythonIdentity(t, ctx)
	for _, kex := range KeyExchanges() {
		t.Run(kex, func(t *testing.T) {
			tub := newTestTub(t, Config{KeyExchange: KeyExchange(kex)})
			ref, err := tub.GetReference(ctx, srv.FURL())
			if err != nil {
				t.Fatal(err)
			}
			if got, err := ref.Call(ctx, "echo", kex); err != nil || got != kex {
				t.Fatalf("echo = %v, %v", got, err)
			}
			furl, err := tub.Register("svc", echoService())
			if err != nil {
				t.Fatal(err)
			}
			cl := connectFoolscapClient(t, ctx, furl, pem)
			if got, err := cl.Call(ctx, "echo", "back"); err != nil || got != "back" {
				t.Fatalf("python echo = %v, %v", got, err)
			}
			for _, b := range tub.Snapshot().Brokers {
				t.Logf("broker #%d %s: %s", b.ID, b.Side, b.TLS)
				want := "X25519"
				if b.Side == snapshot.Client && kex == string(KexP256) {
					want = "CurveP256"
				}
				if !strings.HasSuffix(b.TLS, " "+want) {
					t.Errorf("broker #%d negotiated %q, want %s", b.ID, b.TLS, want)
				}
			}
		})
	}
}

// The S3 lockout against Foolscap 21.7 as master: the tubscope slave loses
// the first accepting decision on the way in and leaves the dead socket
// open, times out, and comes back remembering nothing; Foolscap refuses
// every retry as a duplicate of the broker it still holds.
func TestInteropLostDecisionFoolscapMaster(t *testing.T) {
	pypeer.Require(t)
	ctx := interopCtx(t)
	srv, pyID := startFoolscapServer(t, ctx)
	tub := newTestTub(t, Config{Identity: goIdentity(t, pyID, false), NegotiationTimeout: 2 * time.Second}) // also bounds each retry: room for a loaded machine
	if err := tub.LoseNextDecision(pyID); err != nil {
		t.Fatal(err)
	}
	sub := tub.Subscribe(4096)
	defer sub.Close()
	if _, err := tub.GetReference(ctx, srv.FURL()); err == nil || !strings.Contains(err.Error(), "negotiation timed out") {
		t.Fatalf("first connection: %v, want the negotiation to time out", err)
	}
	waitEvent(t, ctx, sub, func(ev snapshot.Event) bool {
		return ev.Kind == snapshot.KindFault && strings.Contains(ev.Message, "decision lost")
	})
	first, err := srv.Expect(ctx, "decision")
	if err != nil {
		t.Fatal(err)
	}
	if !first.Bool("accept") {
		t.Fatalf("Foolscap's first decision %v, want an accept (the one lost)", first)
	}
	for i := range 3 {
		_, err := tub.GetReference(ctx, srv.FURL())
		var ne *NegotiationError
		if !errors.As(err, &ne) || ne.Remote != "Duplicate connection" {
			t.Fatalf("retry %d: %v, want Foolscap's Duplicate connection", i+1, err)
		}
		d, err := srv.Expect(ctx, "decision")
		if err != nil {
			t.Fatal(err)
		}
		if d.Bool("accept") {
			t.Fatalf("Foolscap accepted retry %d: %v", i+1, d)
		}
	}
	ev := lastDecision(t, tub)
	if ev.Accept || ev.OfferLast != "none 0" || ev.Rule != string(negotiation.RuleMasterRejected) {
		t.Fatalf("the slave's record of the last retry: %+v, want a rejected none 0 offer", ev)
	}
}
