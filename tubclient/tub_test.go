package tubclient

import (
	"context"
	"testing"
	"time"

	"github.com/tubscope/tubscope/tubclient/snapshot"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newTestTub starts a tub listening on loopback and closes it with the test.
func newTestTub(t *testing.T, cfg Config) *Tub {
	t.Helper()
	tub, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tub.Close() })
	if _, err := tub.Listen("tcp:127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	return tub
}

func TestLoopbackCall(t *testing.T) {
	server := newTestTub(t, Config{})
	furl, err := server.Register("svc", BuiltinService())
	if err != nil {
		t.Fatal(err)
	}
	client := newTestTub(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ref, err := client.GetReference(ctx, furl)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ref.Call(ctx, "echo", "hi")
	if err != nil || got != "hi" {
		t.Fatalf("echo = %v, %v", got, err)
	}
	got, err = ref.Call(ctx, "echo", []any{int64(1), true, nil, []byte("b")})
	if err != nil {
		t.Fatal(err)
	}
	if FormatValue(got) != `[1, True, None, b"b"]` {
		t.Fatalf("echo list = %s", FormatValue(got))
	}
	if _, err := ref.Call(ctx, "nope"); err == nil {
		t.Fatal("unknown method succeeded")
	}
	got, err = ref.Call(ctx, "ping")
	if err != nil || got != "pong" {
		t.Fatalf("ping = %v, %v", got, err)
	}
}

// On accepting a replacement, the old broker is detached and its
// disconnect observers have run before the new broker's attach is
// announced.
func TestReplacementDetachesBeforeAttach(t *testing.T) {
	server := newTestTub(t, Config{})
	furl, _ := server.Register("svc", BuiltinService())
	// As slave the client's duplicate carries last-connection, so the
	// master accepts it (same-seqnum).
	id, _ := IdentityWhere(func(s string) bool { return s < server.TubID() })
	client := newTestTub(t, Config{Identity: id})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ref, err := client.GetReference(ctx, furl)
	if err != nil {
		t.Fatal(err)
	}
	sub := client.Subscribe(256)
	defer sub.Close()
	observed := make(chan []snapshot.Event, 1)
	ref.OnDisconnect(func(reason string) { observed <- sub.Drain(0) })
	f, _ := ParseFURL(furl)
	if _, err := client.connectBroker(ctx, f, true); err != nil {
		t.Fatal(err)
	}
	var before []snapshot.Event
	select {
	case before = <-observed:
	case <-ctx.Done():
		t.Fatal("disconnect observer never ran")
	}
	for _, ev := range before {
		if ev.Kind == snapshot.KindBrokerAttached {
			t.Fatalf("the new broker's attach was announced before the old one's observers ran: %+v", before)
		}
	}
	var detached bool
	for _, ev := range before {
		detached = detached || (ev.Kind == snapshot.KindBrokerDetached && ev.BrokerID == ref.Broker().ID())
	}
	if !detached {
		t.Fatalf("the old broker's detach was not announced before its observers ran: %+v", before)
	}
	after := waitEvent(t, ctx, sub, func(ev snapshot.Event) bool { return ev.Kind == snapshot.KindBrokerAttached })
	if after.BrokerID == ref.Broker().ID() {
		t.Fatal("attached the old broker again")
	}
}
