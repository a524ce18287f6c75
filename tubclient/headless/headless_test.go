package headless

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/internal/pypeer"
	"github.com/tubscope/tubscope/tubclient/snapshot"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// serveInBackground runs Serve until the test ends and returns its output.
func serveInBackground(t *testing.T, o ServeOptions) (furl string, lines *bufio.Scanner) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, o, pw); pw.Close() }()
	t.Cleanup(func() {
		cancel()
		go io.Copy(io.Discard, pr)
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	sc := bufio.NewScanner(pr)
	if !sc.Scan() {
		t.Fatal("serve printed nothing")
	}
	return sc.Text(), sc
}

func TestServePrintsFURLThenJSONEvents(t *testing.T) {
	furl, lines := serveInBackground(t, ServeOptions{Listen: "tcp:127.0.0.1:0", JSON: true, Policy: "probe"})
	if !strings.HasPrefix(furl, "pb://") || strings.Contains(furl, ":0/") {
		t.Fatalf("first line %q is not a FURL with the real port", furl)
	}
	var out strings.Builder
	if err := Call(context.Background(), furl, "echo", []string{`[1, "two"]`}, CallOptions{Timeout: 10 * time.Second}, &out); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(out.String()); got != `[1,"two"]` {
		t.Fatalf("call printed %q", got)
	}
	kinds := map[snapshot.Kind]bool{}
	for lines.Scan() {
		if strings.Contains(lines.Text(), "0001-01-01") {
			t.Errorf("an event with a zero time: %s", lines.Text())
		}
		var ev snapshot.Event
		if err := json.Unmarshal(lines.Bytes(), &ev); err != nil {
			t.Fatalf("not a JSON event: %q: %v", lines.Text(), err)
		}
		kinds[ev.Kind] = true
		if ev.Kind == snapshot.KindCall {
			break
		}
	}
	for _, k := range []snapshot.Kind{snapshot.KindOfferReceived, snapshot.KindBrokerAttached, snapshot.KindCall} {
		if !kinds[k] {
			t.Errorf("no %s event in the JSON stream (saw %v)", k, kinds)
		}
	}
}

func TestCallFailuresExitWithAMessage(t *testing.T) {
	furl, _ := serveInBackground(t, ServeOptions{Listen: "tcp:127.0.0.1:0"})
	cases := []struct{ furl, method, want string }{
		{furl, "nosuch", "AttributeError"},
		{"pb://nonsense", "echo", "bad FURL"},
		{strings.Replace(furl, "/tubscope", "/wrongname", 1), "echo", "KeyError"},
	}
	for _, tc := range cases {
		err := Call(context.Background(), tc.furl, tc.method, nil, CallOptions{Timeout: 10 * time.Second}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("call %s %s: err = %v, want %q", tc.furl, tc.method, err, tc.want)
		}
	}
}

// `tubscope call` against a Foolscap 21.7 server, and a Foolscap client
// against `tubscope serve`.
func TestInteropCallAndServe(t *testing.T) {
	pypeer.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv, err := pypeer.StartServer(ctx, pypeer.ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	var out strings.Builder
	if err := Call(ctx, srv.FURL(), "echo", []string{"hello foolscap"}, CallOptions{}, &out); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(out.String()); got != `"hello foolscap"` {
		t.Fatalf("tubscope call printed %q", got)
	}
	err = Call(ctx, srv.FURL(), "fail", nil, CallOptions{}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "ValueError: boom") {
		t.Fatalf("fail(): %v", err)
	}

	furl, _ := serveInBackground(t, ServeOptions{Listen: "tcp:127.0.0.1:0"})
	cl, err := pypeer.StartClient(ctx, furl, pypeer.ClientOptions{Call: "echo", Args: []any{"from python"}})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Stop()
	line, err := cl.Expect(ctx, "result", "error")
	if err != nil {
		t.Fatal(err)
	}
	if line.Event() != "result" || line.String("value") != "from python" {
		t.Fatalf("python client got %v", line)
	}
}

// `serve --fault-lose-decision`: the first client's decision is lost, so
// its call times out; the tub says why in its event stream. A client that
// comes back as a new process (same key, new incarnation) gets through.
func TestServeLosesTheFirstDecision(t *testing.T) {
	furl, lines := serveInBackground(t, ServeOptions{Listen: "tcp:127.0.0.1:0", JSON: true,
		Faults: Faults{LoseDecision: true}})
	// Only the master sends decisions: the client's tubid must be lower.
	f, err := tubclient.ParseFURL(furl)
	if err != nil {
		t.Fatal(err)
	}
	id, err := tubclient.IdentityWhere(func(tubid string) bool { return tubid < f.TubID })
	if err != nil {
		t.Fatal(err)
	}
	pem, err := id.PEM()
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(t.TempDir(), "client.pem")
	if err := os.WriteFile(key, pem, 0o600); err != nil {
		t.Fatal(err)
	}
	err = Call(context.Background(), furl, "ping", nil, CallOptions{KeyFile: key, Timeout: 500 * time.Millisecond}, io.Discard)
	if err == nil {
		t.Fatal("the call whose decision was lost succeeded")
	}
	var out strings.Builder
	if err := Call(context.Background(), furl, "ping", nil, CallOptions{KeyFile: key, Timeout: 10 * time.Second}, &out); err != nil {
		t.Fatalf("the restarted client: %v", err)
	}
	var lost bool
	for lines.Scan() {
		var ev snapshot.Event
		if err := json.Unmarshal(lines.Bytes(), &ev); err != nil {
			t.Fatal(err)
		}
		lost = lost || (ev.Kind == snapshot.KindFault && ev.BrokerID != 0 && strings.Contains(ev.Message, "decision lost"))
		if ev.Kind == snapshot.KindVerdict && ev.Rule == "new-incarnation" {
			break
		}
	}
	if !lost {
		t.Fatal("no decision-lost fault event before the second client's verdict")
	}
}

// `serve --fault-delay`: every write on an accepted connection is held back,
// so a call's negotiation and answer, several round trips, take at least
// that long several times over.
func TestServeDelaysAcceptedConnections(t *testing.T) {
	const delay = 40 * time.Millisecond
	furl, _ := serveInBackground(t, ServeOptions{Listen: "tcp:127.0.0.1:0", Faults: Faults{Delay: delay}})
	start := time.Now()
	var out strings.Builder
	if err := Call(context.Background(), furl, "echo", []string{"slow"}, CallOptions{Timeout: 10 * time.Second}, &out); err != nil {
		t.Fatal(err)
	}
	// The server sends at least its 101, its TLS flight, its hello, its
	// decision and two answers: six delayed writes.
	if took := time.Since(start); took < 6*delay {
		t.Fatalf("call over a %v-delayed path took only %v", delay, took)
	}
}

// Answers print as one line of JSON, or with --python as Python prints
// them.
func TestCallPrintsJSONOrPython(t *testing.T) {
	furl, _ := serveInBackground(t, ServeOptions{Listen: "tcp:127.0.0.1:0"})
	for _, tc := range []struct{ arg, json, python string }{
		{`{"a": [1, 2.5, null, true, false]}`, `{"a":[1,2.5,null,true,false]}`, `{"a": [1, 2.5, None, True, False]}`},
		{`plain <text> & more`, `"plain <text> & more"`, `"plain <text> & more"`},
		{`null`, `null`, `None`},
	} {
		for _, python := range []bool{false, true} {
			var out strings.Builder
			if err := Call(context.Background(), furl, "echo", []string{tc.arg}, CallOptions{Timeout: 10 * time.Second, Python: python}, &out); err != nil {
				t.Fatal(err)
			}
			want := tc.json
			if python {
				want = tc.python
			}
			if out.String() != want+"\n" {
				t.Errorf("echo %s (python %v) printed %q, want %q", tc.arg, python, out.String(), want+"\n")
			}
		}
	}
}

// serve --json leaves out the times an event does not have, and what it
// writes decodes back into the event.
func TestEventJSONOmitsZeroTimes(t *testing.T) {
	zero, err := json.Marshal(EventJSON(snapshot.Event{Kind: snapshot.KindPolicy, Message: "policy probe"}))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(zero), "0001-01-01") || strings.Contains(string(zero), `"time"`) || strings.Contains(string(zero), `"at"`) {
		t.Errorf("zero times written: %s", zero)
	}
	at := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	accept := true
	ev := snapshot.Event{Seq: 4, Time: at, Kind: snapshot.KindReconnectScheduled, PeerTubID: "abc", At: at.Add(2 * time.Second),
		Delay: 2 * time.Second, Accept: &accept}
	b, err := json.Marshal(EventJSON(ev))
	if err != nil {
		t.Fatal(err)
	}
	var back snapshot.Event
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !back.Time.Equal(ev.Time) || !back.At.Equal(ev.At) || back.Kind != ev.Kind || back.Delay != ev.Delay || back.Seq != 4 || back.Accept == nil {
		t.Errorf("round trip: %s decoded to %+v", b, back)
	}
}
