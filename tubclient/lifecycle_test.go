package tubclient

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient/internal/memnet"
	"github.com/tubscope/tubscope/tubclient/internal/pypeer"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// concurrentGetReference has n goroutines fetch furl at once and checks
// they all succeed over one broker.
func concurrentGetReference(t *testing.T, ctx context.Context, client *Tub, furl string, n int) {
	t.Helper()
	refs := make([]*RemoteReference, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			refs[i], errs[i] = client.GetReference(ctx, furl)
		}()
	}
	wg.Wait()
	brokers := map[uint64]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("caller %d of %d: %v", i, n, errs[i])
		}
		brokers[refs[i].Broker().ID()] = true
	}
	if len(brokers) != 1 {
		t.Fatalf("%d callers used %d brokers, want one shared connection", n, len(brokers))
	}
	for _, ref := range refs[:3] {
		if got, err := ref.Call(ctx, "echo", "hi"); err != nil || got != "hi" {
			t.Fatalf("echo over the shared broker = %v, %v", got, err)
		}
	}
}

// Forty callers of one FURL share one connection attempt and one broker,
// whichever side is master.
func TestConcurrentGetReferenceTubscope(t *testing.T) {
	for _, master := range []bool{true, false} {
		t.Run(roleName(master), func(t *testing.T) {
			server := newTestTub(t, Config{})
			furl, _ := server.Register("svc", echoService())
			client := newTestTub(t, Config{Identity: goIdentity(t, server.TubID(), master)})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			concurrentGetReference(t, ctx, client, furl, 40)
			if n := len(server.Snapshot().Decisions); master && n != 1 {
				t.Errorf("the server logged %d decisions, want the one slave decision", n)
			}
		})
	}
}

func TestConcurrentGetReferenceFoolscap(t *testing.T) {
	pypeer.Require(t)
	for _, master := range []bool{true, false} {
		t.Run(roleName(master), func(t *testing.T) {
			ctx := interopCtx(t)
			srv, pyID := startFoolscapServer(t, ctx)
			client := newTestTub(t, Config{Identity: goIdentity(t, pyID, master)})
			concurrentGetReference(t, ctx, client, srv.FURL(), 40)
			for _, d := range client.Snapshot().Decisions {
				if !d.Accept {
					t.Errorf("a decision refused: %+v", d)
				}
			}
		})
	}
}

// A joined attempt that fails gives every caller the same error, and a
// caller that gives up does not cancel the attempt for the others.
func TestJoinedDialSharesFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var pn memnet.Network // nothing listens
		client, err := New(Config{Dial: pn.Dialer("client")})
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		target, _ := NewIdentity()
		furl := FURL{TubID: target.TubID, Hints: []Hint{{Host: "nowhere", Port: 1}}, Swissnum: "x"}.String()
		gaveUp, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := client.GetReference(gaveUp, furl); !errors.Is(err, context.Canceled) {
			t.Fatalf("a cancelled caller got %v", err)
		}
		errs := make(chan error, 5)
		for range 5 {
			go func() {
				_, err := client.GetReference(context.Background(), furl)
				errs <- err
			}()
		}
		var first error
		for range 5 {
			err := <-errs
			if err == nil {
				t.Fatal("a dial to nowhere succeeded")
			}
			if first == nil {
				first = err
			} else if err.Error() != first.Error() {
				t.Errorf("joined callers got different errors: %v / %v", first, err)
			}
		}
		synctest.Wait()
		p := peerOf(t, client.Snapshot(), target.TubID)
		if p.State != snapshot.PeerRefused || p.Attempts < 1 || p.LastError == "" {
			t.Errorf("peer after refused dials: %+v", p)
		}
	})
}

func peerOf(t *testing.T, s snapshot.Snapshot, tubid string) snapshot.Peer {
	t.Helper()
	for _, p := range s.Peers {
		if p.TubID == tubid {
			return p
		}
	}
	t.Fatalf("no peer %s in the snapshot", tubid)
	return snapshot.Peer{}
}

// notifier answers notify(x) with ["notified", x].
func notifier() Object {
	return NewObject(map[string]Func{
		"notify": func(_ context.Context, args []any, _ map[string]any) (any, error) {
			return []any{"notified", args[0]}, nil
		},
	})
}

// A served method that calls back its caller over the same connection and
// answers after that: the observer pattern. Calls run off the reader, so
// the callback's answer can be read while the method waits.
func TestServedMethodCallsBackItsCaller(t *testing.T) {
	server := newTestTub(t, Config{})
	furl, _ := server.Register("svc", NewObject(map[string]Func{
		"callback": func(ctx context.Context, args []any, _ map[string]any) (any, error) {
			obs, ok := args[0].(*RemoteReference)
			if !ok {
				return nil, fmt.Errorf("argument is %T, not a reference", args[0])
			}
			answer, err := obs.Call(ctx, "notify", args[1])
			if err != nil {
				return nil, err
			}
			return []any{"called back", answer}, nil
		},
	}))
	client := newTestTub(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ref, err := client.GetReference(ctx, furl)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ref.Call(ctx, "callback", notifier(), int64(7))
	if err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprint(got); s != "[called back [notified 7]]" {
		t.Fatalf("callback answered %s", s)
	}
}

// A slow method holds up neither PONGs nor other targets' calls.
func TestSlowMethodDoesNotStallTheConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		server, _, ref := pipePair(t, Config{KeepaliveTimeout: -1}, Config{KeepaliveTimeout: 10 * time.Second})
		slowFURL, _ := server.Register("slow", NewObject(map[string]Func{
			"wait": func(ctx context.Context, _ []any, _ map[string]any) (any, error) {
				select {
				case <-release:
					return "done", nil
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			},
		}))
		client := ref.Broker().t
		slow, err := client.GetReference(context.Background(), slowFURL)
		if err != nil {
			t.Fatal(err)
		}
		slowDone := make(chan error, 1)
		go func() {
			_, err := slow.Call(context.Background(), "wait")
			slowDone <- err
		}()
		synctest.Wait()
		if got, err := ref.Call(context.Background(), "echo", "meanwhile"); err != nil || got != "meanwhile" {
			t.Fatalf("a call to another object while one is slow = %v, %v", got, err)
		}
		time.Sleep(15 * time.Second) // past the client's keepalive
		synctest.Wait()
		b := client.Snapshot().Brokers[0]
		if b.State != snapshot.Live || b.PingsSent == 0 || b.PongsReceived != b.PingsSent {
			t.Fatalf("keepalive while a method runs: %+v", b)
		}
		close(release)
		if err := <-slowDone; err != nil {
			t.Fatal(err)
		}
	})
}

// Calls to one object are served in arrival order.
func TestCallsToOneTargetKeepOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var seen []int64
		server, client, _ := pipePair(t, Config{}, Config{})
		furl, _ := server.Register("log", NewObject(map[string]Func{
			"add": func(_ context.Context, args []any, _ map[string]any) (any, error) {
				mu.Lock()
				seen = append(seen, args[0].(int64))
				mu.Unlock()
				return nil, nil
			},
		}))
		ref, err := client.GetReference(context.Background(), furl)
		if err != nil {
			t.Fatal(err)
		}
		for i := range int64(100) {
			if err := ref.CallOnly("add", []any{i}, nil); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		if len(seen) != 100 {
			t.Fatalf("%d of 100 fire-and-forget calls arrived", len(seen))
		}
		for i, v := range seen {
			if v != int64(i) {
				t.Fatalf("call %d arrived as %d: order lost", i, v)
			}
		}
	})
}

// Callbacks with a real Foolscap peer, both ways: Foolscap's method calls
// back our object before answering, and our method calls back Foolscap's.
// Fire-and-forget calls and interface names cross too.
func TestInteropCallbacks(t *testing.T) {
	pypeer.Require(t)
	t.Run("foolscap-serves", func(t *testing.T) {
		ctx := interopCtx(t)
		srv, _ := startFoolscapServer(t, ctx)
		client := newTestTub(t, Config{})
		ref, err := client.GetReference(ctx, srv.FURL())
		if err != nil {
			t.Fatal(err)
		}
		got, err := ref.Call(ctx, "callback", notifier(), "x")
		if err != nil {
			t.Fatal(err)
		}
		if s := fmt.Sprint(got); s != "[called back [notified x]]" {
			t.Fatalf("callback answered %s", s)
		}
		notified := make(chan any, 1)
		obs := NewInterfaceObject("RIObserver.tubscope.test", map[string]Func{
			"notify": func(_ context.Context, args []any, _ map[string]any) (any, error) {
				notified <- args[0]
				return nil, nil
			},
		})
		if got, err := ref.Call(ctx, "notify_only", obs, int64(3)); err != nil || got != "sent" {
			t.Fatalf("notify_only = %v, %v", got, err)
		}
		select {
		case v := <-notified:
			if v != int64(3) {
				t.Fatalf("fire-and-forget notify carried %v", v)
			}
		case <-ctx.Done():
			t.Fatal("Foolscap's callRemoteOnly never arrived")
		}
		if got, err := ref.Call(ctx, "interface_of", obs); err != nil || got != "RIObserver.tubscope.test" {
			t.Fatalf("Foolscap saw interface %v (%v), want RIObserver.tubscope.test", got, err)
		}
		// Our fire-and-forget call reaches Foolscap's method; no answer comes.
		if err := ref.CallOnly("echo", []any{"quiet"}, nil); err != nil {
			t.Fatal(err)
		}
		for {
			l, err := srv.Expect(ctx, "call")
			if err != nil {
				t.Fatal(err)
			}
			if l.String("method") == "echo" {
				break
			}
		}
	})
	t.Run("tubscope-serves", func(t *testing.T) {
		ctx := interopCtx(t)
		pem, _ := pythonIdentity(t, ctx)
		tub := newTestTub(t, Config{})
		furl, _ := tub.Register("svc", NewObject(map[string]Func{
			"callback": func(ctx context.Context, args []any, _ map[string]any) (any, error) {
				obs, ok := args[0].(*RemoteReference)
				if !ok {
					return nil, fmt.Errorf("argument is %T", args[0])
				}
				answer, err := obs.Call(ctx, "notify", args[1])
				if err != nil {
					return nil, err
				}
				return []any{"called back", answer}, nil
			},
		}))
		cl := connectFoolscapClient(t, ctx, furl, pem)
		if err := cl.Send(`callback callback "y"`); err != nil {
			t.Fatal(err)
		}
		if _, err := cl.Expect(ctx, "notified"); err != nil {
			t.Fatal(err)
		}
		l, err := cl.Expect(ctx, "result")
		if err != nil {
			t.Fatal(err)
		}
		if s := fmt.Sprint(l["value"]); s != "[called back [notified y]]" {
			t.Fatalf("Foolscap client got %s", s)
		}
	})
}

// A failed negotiation's events come out in the order things happened:
// the offer before its failure, both from the state goroutine.
func TestEventOrderUnderFailedNegotiation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var pn memnet.Network
		server, err := New(Config{Location: []Hint{{Host: "server", Port: 1}}})
		if err != nil {
			t.Fatal(err)
		}
		defer server.Close()
		server.Serve(pn.Listen("server:1"))
		furl, _ := server.Register("svc", echoService())
		// The client is slave; a first connection makes the next one a
		// duplicate that the master refuses (last-connection none).
		id, _ := IdentityWhere(func(s string) bool { return negotiation.IsMaster(server.TubID(), s) })
		client, err := New(Config{Identity: id, Dial: pn.Dialer("client")})
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		if _, err := client.GetReference(context.Background(), furl); err != nil {
			t.Fatal(err)
		}
		if err := client.Forget(server.TubID()); err != nil {
			t.Fatal(err)
		}
		sub := client.Subscribe(256)
		defer sub.Close()
		f, _ := ParseFURL(furl)
		_, err = client.connect(context.Background(), f, true)
		if !errors.Is(err, ErrDuplicateConnection) {
			t.Fatalf("forced duplicate = %v, want ErrDuplicateConnection", err)
		}
		synctest.Wait()
		var kinds []string
		var prev uint64
		for _, ev := range sub.Drain(0) {
			if ev.Seq <= prev {
				t.Fatalf("event Seq %d after %d", ev.Seq, prev)
			}
			prev = ev.Seq
			kinds = append(kinds, string(ev.Kind))
			if ev.Kind == snapshot.KindNegotiationFailed && ev.Close != snapshot.CloseRejected {
				t.Errorf("failed negotiation closed as %q, want rejected", ev.Close)
			}
		}
		got := strings.Join(kinds, " ")
		if want := "offer-received decision-received negotiation-failed"; got != want {
			t.Fatalf("events %q, want %q", got, want)
		}
		p := peerOf(t, client.Snapshot(), server.TubID())
		if p.State != snapshot.PeerLockedOut || p.Rejects != 1 || p.BrokerID == 0 {
			t.Errorf("peer after a refused duplicate: %+v", p)
		}
		if h := p.History; len(h) < 2 || h[len(h)-1].End != snapshot.CloseRejected {
			t.Errorf("history %+v, want the rejected connection last", h)
		}
	})
}

// A FURL whose hints include ones tubscope cannot use (Tor, I2P) still
// connects through its TCP hint; one with no usable hint fails clearly.
func TestFURLWithTorAndTCPHints(t *testing.T) {
	server := newTestTub(t, Config{})
	furl, _ := server.Register("svc", echoService())
	f, _ := ParseFURL(furl)
	mixed := strings.Replace(furl, "@", "@tor:u2lm3e4zvqa5bbix.onion:80,", 1)
	client := newTestTub(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ref, err := client.GetReference(ctx, mixed)
	if err != nil {
		t.Fatalf("tor+tcp FURL: %v", err)
	}
	if got, err := ref.Call(ctx, "echo", "via tcp"); err != nil || got != "via tcp" {
		t.Fatalf("echo = %v, %v", got, err)
	}
	// A tub with no connection yet has nothing to dial.
	fresh := newTestTub(t, Config{})
	onionOnly := "pb://" + f.TubID + "@tor:u2lm3e4zvqa5bbix.onion:80/svc"
	if _, err := fresh.GetReference(ctx, onionOnly); err == nil || !strings.Contains(err.Error(), "tor:") {
		t.Fatalf("onion-only FURL = %v, want an error naming the unusable hint", err)
	}
}

// What goes on the wire is a negotiation error's own text; anything else
// is "internal server error, see logs".
func TestWireTextHidesInternalErrors(t *testing.T) {
	if got := wireText(wiref("TubID mismatch")); got != "TubID mismatch" {
		t.Errorf("negotiation error sent as %q", got)
	}
	if got := wireText(fmt.Errorf("read tcp 10.0.0.1:1->10.0.0.2:2: connection reset")); got != internalError {
		t.Errorf("socket error sent as %q", got)
	}
	if got := wireText(fmt.Errorf("decide: %w", ErrDuplicateConnection)); got != duplicateText {
		t.Errorf("duplicate sent as %q", got)
	}
}
