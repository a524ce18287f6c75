package tubclient

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tubscope/tubscope/tubclient/pypeer"
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
			pem, pyID := pythonIdentity(t, ctx)
			srv, err := pypeer.StartServer(ctx, pypeer.ServerOptions{PEM: pem})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Stop()
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
			if s := FormatValue(got); s != `{"f": 1.5, "l": [True, None, b"b"], "n": 1099511627776, "neg": -2}` {
				t.Fatalf("echo dict = %s", s)
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
			furl, err := tub.Register("svc", BuiltinService())
			if err != nil {
				t.Fatal(err)
			}
			cl, err := pypeer.StartClient(ctx, furl, pypeer.ClientOptions{PEM: pem, Hold: true})
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Stop()
			if _, err := cl.Expect(ctx, "connected"); err != nil {
				t.Fatal(err)
			}
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
