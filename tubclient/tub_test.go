package tubclient

import (
	"context"
	"reflect"
	"strings"
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
	furl, err := server.Register("svc", echoService())
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
	if want := []any{int64(1), true, nil, []byte("b")}; !reflect.DeepEqual(got, want) {
		t.Fatalf("echo list = %#v, want %#v", got, want)
	}
	if _, err := ref.Call(ctx, "nope"); err == nil {
		t.Fatal("unknown method succeeded")
	}
	got, err = ref.Call(ctx, "ping")
	if err != nil || got != "pong" {
		t.Fatalf("ping = %v, %v", got, err)
	}
}

// On accepting a replacement, the master announces the old broker's
// detach before the new broker's attach, and on the slave the old
// broker's disconnect observers run off the state goroutine: one that
// calls the tub does not deadlock it.
func TestReplacementDetachesBeforeAttach(t *testing.T) {
	server := newTestTub(t, Config{})
	furl, _ := server.Register("svc", echoService())
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
	sub := server.Subscribe(256)
	defer sub.Close()
	observed := make(chan string, 1)
	ref.OnDisconnect(func(reason string) {
		// Calling the tub from an observer must not deadlock it.
		_ = client.Snapshot()
		observed <- reason
	})
	f, _ := ParseFURL(furl)
	if _, err := client.connect(ctx, f, true); err != nil {
		t.Fatal(err)
	}
	select {
	case reason := <-observed:
		if reason == "" {
			t.Error("observer told no reason")
		}
	case <-ctx.Done():
		t.Fatal("disconnect observer never ran")
	}
	var order []snapshot.Kind
	for len(order) < 2 {
		for _, ev := range sub.Drain(0) {
			switch ev.Kind {
			case snapshot.KindBrokerDetached:
				if ev.Close != snapshot.CloseReplaced || !strings.Contains(ev.Reason, "same-seqnum") {
					t.Fatalf("master's detach %+v, want the old broker replaced (same-seqnum)", ev)
				}
			case snapshot.KindBrokerAttached:
			default:
				continue
			}
			order = append(order, ev.Kind)
		}
		if len(order) >= 2 {
			break
		}
		select {
		case <-sub.Changed():
		case <-ctx.Done():
			t.Fatalf("events so far %v: %v", order, ctx.Err())
		}
	}
	if order[0] != snapshot.KindBrokerDetached {
		t.Fatalf("events in order %v: the attach was announced before the old broker's detach", order)
	}
}
