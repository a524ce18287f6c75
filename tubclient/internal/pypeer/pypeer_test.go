package pypeer

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testCtx bounds every wait in a test; real processes need real time.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func startServer(t *testing.T, ctx context.Context, opts ServerOptions) *Peer {
	t.Helper()
	s, err := StartServer(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Kill)
	return s
}

func startClient(t *testing.T, ctx context.Context, furl string, opts ClientOptions) *Peer {
	t.Helper()
	c, err := StartClient(ctx, furl, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Kill)
	return c
}

// expectAll collects the next line of each event, in whatever order the
// peer reports them.
func expectAll(t *testing.T, ctx context.Context, p *Peer, events ...string) map[string]Line {
	t.Helper()
	got := make(map[string]Line)
	for len(got) < len(events) {
		var want []string
		for _, e := range events {
			if _, ok := got[e]; !ok {
				want = append(want, e)
			}
		}
		l := expect(t, ctx, p, want...)
		got[l.Event()] = l
	}
	return got
}

func expect(t *testing.T, ctx context.Context, p *Peer, events ...string) Line {
	t.Helper()
	l, err := p.Expect(ctx, events...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// orderedPEMs returns certificate files for a master (larger tubid) and a
// slave (smaller tubid).
func orderedPEMs(t *testing.T) (master, slave string) {
	t.Helper()
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.pem"), filepath.Join(dir, "b.pem")
	ida, err := NewPEM(a)
	if err != nil {
		t.Fatal(err)
	}
	idb, err := NewPEM(b)
	if err != nil {
		t.Fatal(err)
	}
	if ida > idb {
		return a, b
	}
	return b, a
}

func TestEchoCall(t *testing.T) {
	Require(t)
	ctx := testCtx(t)
	s := startServer(t, ctx, ServerOptions{})
	if !strings.HasPrefix(s.FURL(), "pb://"+s.TubID()+"@127.0.0.1:") || !strings.HasSuffix(s.FURL(), "/echo") {
		t.Fatalf("furl %q does not name tub %s at 127.0.0.1 with swissnum echo", s.FURL(), s.TubID())
	}
	c := startClient(t, ctx, s.FURL(), ClientOptions{Call: "echo", Args: []any{"hi"}})
	conn := expect(t, ctx, c, "connected")
	if conn.String("peer") != s.TubID() || conn.String("tubid") != c.TubID() {
		t.Errorf("connected line %v: want peer %s, tubid %s", conn, s.TubID(), c.TubID())
	}
	res := expect(t, ctx, c, "result", "error")
	if res.Event() != "result" || res["value"] != "hi" {
		t.Fatalf("echo(\"hi\") gave %v", res)
	}
	call := expect(t, ctx, s, "call")
	if call.String("method") != "echo" || len(call["args"].([]any)) != 1 || call["args"].([]any)[0] != "hi" {
		t.Errorf("server logged %v, want echo with [\"hi\"]", call)
	}
	// Without Hold the client exits by itself once answered.
	select {
	case <-c.Exited():
	case <-ctx.Done():
		t.Fatal("client without Hold did not exit after its call")
	}
	if err := c.Stop(); err != nil {
		t.Errorf("client exit: %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("server stop: %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	// Lines already queued are still readable; then the exit shows.
	for {
		if _, err := s.Next(ctx); err != nil {
			if !errors.Is(err, errExited) {
				t.Errorf("Next after Stop: %v, want errExited", err)
			}
			break
		}
	}
}

func TestRemoteMethods(t *testing.T) {
	Require(t)
	ctx := testCtx(t)
	s := startServer(t, ctx, ServerOptions{Swissnum: "svc"})
	c := startClient(t, ctx, s.FURL(), ClientOptions{Hold: true})
	expect(t, ctx, c, "connected")

	if v, err := c.Call(ctx, "ping"); err != nil || v != "pong" {
		t.Errorf("ping: %v, %v", v, err)
	}
	v, err := c.Call(ctx, "echo", map[string]any{"k": []any{1.5, true, nil}})
	if err != nil {
		t.Fatal(err)
	}
	m, ok := v.(map[string]any)
	if !ok || len(m["k"].([]any)) != 3 || m["k"].([]any)[1] != true {
		t.Errorf("echo of a dict came back as %#v", v)
	}
	_, err = c.Call(ctx, "fail")
	var ce *CallError
	if !errors.As(err, &ce) || ce.Message != "boom" || !strings.Contains(ce.Type, "ValueError") {
		t.Errorf("fail: %v, want CallError ValueError boom", err)
	}
	v, err = c.Call(ctx, "ref")
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := v.(map[string]any)
	if furl, _ := ref["ref"].(string); !strings.HasPrefix(furl, "pb://"+s.TubID()+"@") {
		t.Errorf("ref() gave %v, want a reference into %s", v, s.TubID())
	}
	_, err = c.Call(ctx, "nosuch")
	if !errors.As(err, &ce) || !strings.Contains(ce.Type, "AttributeError") {
		t.Errorf("missing method: %v, want AttributeError", err)
	}
}

// Python server is master: it judges each fresh offer by the duplicate rules.
func TestDuplicateOffersServerMaster(t *testing.T) {
	Require(t)
	ctx := testCtx(t)
	masterPEM, slavePEM := orderedPEMs(t)
	s := startServer(t, ctx, ServerOptions{PEM: masterPEM})
	c := startClient(t, ctx, s.FURL(), ClientOptions{PEM: slavePEM, Hold: true})
	first := expect(t, ctx, c, "connected")
	ir := s.Hello().String("incarnation")
	if first.Bool("master") || first.String("current_connection") != ir+" 1" || first.String("last_connection") != "none 0" {
		t.Fatalf("first connection %v: want slave, none 0 → %s 1", first, ir)
	}
	if d := expect(t, ctx, s, "decision"); !d.Bool("accept") || d.Bool("duplicate") {
		t.Fatalf("first decision %v", d)
	}

	// Same incarnation, current seqnum: the master accepts and drops the old one.
	mustSend(t, c, "reconnect")
	r := expect(t, ctx, c, "reconnected", "rejected")
	if r.Event() != "reconnected" || r.String("last_connection") != ir+" 1" || r.String("current_connection") != ir+" 2" {
		t.Fatalf("reconnect: %v", r)
	}
	seen := expectAll(t, ctx, s, "decision", "disconnection")
	d := seen["decision"]
	if !d.Bool("accept") || d.String("rule") != "peer knows about existing seqnum" {
		t.Fatalf("server decision on reconnect: %v", d)
	}
	if n, _ := d.Int("existing_seqnum"); n != 1 {
		t.Errorf("existing seqnum %d, want 1", n)
	}
	if l := seen["disconnection"]; !strings.Contains(l.String("reason"), "replaced by a new connection") {
		t.Errorf("old connection dropped with %v", l)
	}

	// "none 0" while a connection exists: a parallel attempt, rejected.
	mustSend(t, c, "forget")
	r = expect(t, ctx, c, "reconnected", "rejected")
	if r.Event() != "rejected" || r.String("error") != "Duplicate connection" {
		t.Fatalf("forget: %v, want rejected with Duplicate connection", r)
	}
	d = expect(t, ctx, s, "decision")
	if d.Bool("accept") || d.String("rule") != "peer doesn't remember talking to us" || d.String("error") != "Duplicate connection" {
		t.Fatalf("server decision on forget: %v", d)
	}
	// The rejected attempt left the established connection in service.
	if v, err := c.Call(ctx, "echo", "still"); err != nil || v != "still" {
		t.Fatalf("call after rejection: %v, %v", v, err)
	}

	// A new incarnation means the peer restarted: accepted.
	mustSend(t, c, "newinc")
	r = expect(t, ctx, c, "reconnected", "rejected")
	if r.Event() != "reconnected" || r.String("incarnation") == r.String("previous_incarnation") {
		t.Fatalf("newinc: %v", r)
	}
	d = expect(t, ctx, s, "decision")
	if !d.Bool("accept") || d.String("rule") != "offer is from different peer incarnation than existing" {
		t.Fatalf("server decision on newinc: %v", d)
	}
	if v, err := c.Call(ctx, "echo", "new"); err != nil || v != "new" {
		t.Fatalf("call on the new connection: %v, %v", v, err)
	}
	mustSend(t, s, "status")
	st := expect(t, ctx, s, "status")
	if b := st["brokers"].([]any); len(b) != 1 {
		t.Errorf("server holds %d connections, want 1: %v", len(b), st)
	}
	if n, _ := Line(st["master_table"].(map[string]any)).Int(c.TubID()); n != 3 {
		t.Errorf("master seqnum %d, want 3 (initial, reconnect, newinc)", n)
	}
}

// Python client is master: the server only obeys, dropping its old
// connection whenever a decision names a new one.
func TestDuplicateOffersClientMaster(t *testing.T) {
	Require(t)
	ctx := testCtx(t)
	masterPEM, slavePEM := orderedPEMs(t)
	s := startServer(t, ctx, ServerOptions{PEM: slavePEM})
	c := startClient(t, ctx, s.FURL(), ClientOptions{PEM: masterPEM, Hold: true})
	first := expect(t, ctx, c, "connected")
	cir := c.Hello().String("incarnation")
	if !first.Bool("master") || first.String("current_connection") != cir+" 1" {
		t.Fatalf("first connection %v: want master deciding %s 1", first, cir)
	}
	if d := expect(t, ctx, s, "decision_received"); d.Bool("dropped_existing") {
		t.Fatalf("first decision at server: %v", d)
	}
	for i, cmd := range []string{"reconnect", "forget", "newinc"} {
		mustSend(t, c, cmd)
		r := expect(t, ctx, c, "reconnected", "rejected")
		if r.Event() != "reconnected" {
			t.Fatalf("%s: %v", cmd, r)
		}
		seen := expectAll(t, ctx, s, "decision_received", "disconnection")
		d := seen["decision_received"]
		if !d.Bool("dropped_existing") || !strings.HasSuffix(d.String("current_connection"), " "+itoa(i+2)) {
			t.Fatalf("%s: server got %v, want old connection dropped and seqnum %d", cmd, d, i+2)
		}
		if l := seen["disconnection"]; l.String("peer") != c.TubID() {
			t.Fatalf("%s: %v", cmd, l)
		}
		if v, err := c.Call(ctx, "echo", cmd); err != nil || v != cmd {
			t.Fatalf("%s: call on the new connection: %v, %v", cmd, v, err)
		}
	}
}

func itoa(i int) string { return string(rune('0' + i)) }

func mustSend(t *testing.T, p *Peer, cmd string) {
	t.Helper()
	if err := p.Send(cmd); err != nil {
		t.Fatal(err)
	}
}

func TestIdentityFiles(t *testing.T) {
	Require(t)
	ctx := testCtx(t)
	dir := t.TempDir()

	goPEM := filepath.Join(dir, "go.pem")
	goID, err := NewPEM(goPEM)
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, ctx, ServerOptions{PEM: goPEM})
	if s.TubID() != goID {
		t.Errorf("Python loaded Go identity as %s, Go computed %s", s.TubID(), goID)
	}
	c := startClient(t, ctx, s.FURL(), ClientOptions{Call: "ping"})
	if r := expect(t, ctx, c, "result", "error", "connect_failed"); r["value"] != "pong" {
		t.Fatalf("call to a server with a Go-made identity: %v", r)
	}

	pyPEM := filepath.Join(dir, "py.pem")
	pyID, err := PythonPEM(ctx, pyPEM)
	if err != nil {
		t.Fatal(err)
	}
	again, err := PythonPEM(ctx, pyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if again != pyID {
		t.Errorf("identity did not persist: %s then %s", pyID, again)
	}
	s2 := startServer(t, ctx, ServerOptions{PEM: pyPEM})
	if s2.TubID() != pyID {
		t.Errorf("server on %s is %s, want %s", pyPEM, s2.TubID(), pyID)
	}
}

func TestReconnectorFollowsDrops(t *testing.T) {
	Require(t)
	ctx := testCtx(t)
	s := startServer(t, ctx, ServerOptions{})
	c := startClient(t, ctx, s.FURL(), ClientOptions{Reconnector: true, Call: "echo", Args: []any{1}})
	first := expect(t, ctx, c, "connected")
	if !first.Bool("reconnector") {
		t.Fatalf("connected line %v lacks reconnector", first)
	}
	if r := expect(t, ctx, c, "result"); r["value"] == nil {
		t.Fatalf("initial call: %v", r)
	}
	mustSend(t, s, "drop")
	if d := expect(t, ctx, s, "dropped"); d["count"] == nil {
		t.Fatalf("drop: %v", d)
	}
	expect(t, ctx, c, "disconnected")
	second := expect(t, ctx, c, "connected")
	if second.String("local") == first.String("local") {
		t.Errorf("reconnected over the same socket %s", second.String("local"))
	}
}

// A client that hears nothing for longer than its disconnect timeout hangs up.
func TestDisconnectTimeout(t *testing.T) {
	Require(t)
	ctx := testCtx(t)
	s := startServer(t, ctx, ServerOptions{})
	c := startClient(t, ctx, s.FURL(), ClientOptions{
		Hold: true, Keepalive: time.Hour, Disconnect: 500 * time.Millisecond,
	})
	expect(t, ctx, c, "connected")
	if l := expect(t, ctx, c, "disconnection"); !strings.Contains(l.String("reason"), "timeout") {
		t.Errorf("disconnection %v, want an idle timeout", l)
	}
}

func TestStdinEOFExitsCleanly(t *testing.T) {
	Require(t)
	ctx := testCtx(t)
	s := startServer(t, ctx, ServerOptions{})
	s.closeStdin()
	select {
	case <-s.Exited():
	case <-ctx.Done():
		t.Fatal("server ignored stdin EOF")
	}
	if err := s.exitStatus(); err != nil {
		t.Errorf("exit after EOF: %v", err)
	}
	if err := s.Send("status"); err == nil {
		t.Error("Send after stdin closed succeeded")
	}
}
