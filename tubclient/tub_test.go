package tubclient

import (
	"context"
	"testing"
	"time"

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
