package hostile

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/internal/pypeer"
	"github.com/tubscope/tubscope/tubclient/internal/tubscopebin"
)

func TestMain(m *testing.M) {
	code := m.Run()
	tubscopebin.Remove()
	os.Exit(code)
}

// server is a `tubscope serve` child process.
type server struct{ *tubscopebin.Server }

// startServe runs `tubscope serve` with at most nofile open files (0: as
// inherited) and waits for its FURL.
func startServe(t *testing.T, nofile int, args ...string) *server {
	return &server{tubscopebin.Serve(t, nofile, args...)}
}

// peakRSS is the process's high-water resident set (VmHWM).
func (s *server) peakRSS(t *testing.T) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.Cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}

// goodClient is a Foolscap 21.7 client calling echo every 0.2 s.
func goodClient(t *testing.T, ctx context.Context, furl string) *pypeer.Peer {
	t.Helper()
	cl, err := pypeer.StartClient(ctx, furl, pypeer.ClientOptions{Hold: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Stop() })
	if _, err := cl.Expect(ctx, "connected"); err != nil {
		t.Fatal(err)
	}
	if err := cl.Send("pulse 0.2"); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Expect(ctx, "pulsing"); err != nil {
		t.Fatal(err)
	}
	return cl
}

// missed stops the good client's pulse and asks how it fared: calls that
// failed or were still unanswered after a grace period, and its worst latency.
func missed(t *testing.T, ctx context.Context, cl *pypeer.Peer) (calls, missed int64, maxMS float64) {
	t.Helper()
	if err := cl.Send("pulse-stats"); err != nil {
		t.Fatal(err)
	}
	l, err := cl.Expect(ctx, "pulse")
	if err != nil {
		t.Fatal(err)
	}
	calls, _ = l.Int("calls")
	failed, _ := l.Int("failed")
	outstanding, _ := l.Int("outstanding")
	maxMS, _ = strconv.ParseFloat(fmt.Sprint(l["max_ms"]), 64)
	return calls, failed + outstanding, maxMS
}

func attacker(t *testing.T) *tubclient.Tub {
	t.Helper()
	a, err := tubclient.New(tubclient.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// bomb is the 1 KB reference bomb: depth levels, each a list of two
// references to the level below.
func bomb(depth int) []any {
	v := []any{int64(1)}
	for range depth {
		v = []any{v, v}
	}
	return v
}

// The 24-level reference bomb, ten at once: the server decodes and echoes
// them shared, and stays small.
func TestReferenceBombAgainstServe(t *testing.T) {
	pypeer.Require(t)
	ctx := testCtx(t, 2*time.Minute)
	srv := startServe(t, 0)
	good := goodClient(t, ctx, srv.FURL)
	a := attacker(t)
	ref, err := a.GetReference(ctx, srv.FURL)
	if err != nil {
		t.Fatal(err)
	}
	// Ten bombs at once, round after round, so the good client's pulse
	// runs through the whole attack.
	start := time.Now()
	for round := 0; round < 10 || time.Since(start) < 2*time.Second; round++ {
		var wg sync.WaitGroup
		errs := make(chan error, 10)
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := ref.Call(ctx, "echo", bomb(24))
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("echo of the bomb in round %d: %v", round, err)
			}
		}
	}
	rss := srv.peakRSS(t)
	calls, lost, maxMS := missed(t, ctx, good)
	t.Logf("hostile: reference bomb ×10: serve peak RSS %.1f MiB; good client %d calls, %d missed, max latency %.1f ms",
		float64(rss)/(1<<20), calls, lost, maxMS)
	if rss > 64<<20 {
		t.Errorf("peak RSS %d MiB, want under 64 MiB", rss>>20)
	}
	if lost != 0 {
		t.Errorf("the good client missed %d of %d calls", lost, calls)
	}
}

// flatList is a 16 MiB Banana list of one-byte ints.
func flatList() []any {
	l := make([]any, 8<<20)
	for i := range l {
		l[i] = int64(i % 100)
	}
	return l
}

// Three 16 MiB lists at once: each call fails with a Violation, the
// server stays within its budget, and the good client is unharmed.
func TestFlatListsAgainstServe(t *testing.T) {
	pypeer.Require(t)
	ctx := testCtx(t, 3*time.Minute)
	srv := startServe(t, 0)
	good := goodClient(t, ctx, srv.FURL)
	list := flatList()
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for range 3 {
		a := attacker(t)
		ref, err := a.GetReference(ctx, srv.FURL)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := ref.Call(ctx, "echo", list)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		var re *tubclient.RemoteError
		if !errors.As(err, &re) || !strings.Contains(re.Type, "Violation") {
			t.Fatalf("a 16 MiB list = %v, want a Violation", err)
		}
	}
	rss := srv.peakRSS(t)
	calls, lost, maxMS := missed(t, ctx, good)
	t.Logf("hostile: three 16 MiB lists: serve peak RSS %.1f MiB; good client %d calls, %d missed, max latency %.1f ms",
		float64(rss)/(1<<20), calls, lost, maxMS)
	if rss > 256<<20 {
		t.Errorf("peak RSS %d MiB, want under 256 MiB", rss>>20)
	}
	if lost != 0 {
		t.Errorf("the good client missed %d of %d calls", lost, calls)
	}
}

// 1,100 silent sockets against a server limited to 1,024 open files: new
// peers are still served, and the connected client misses nothing.
func TestSilentSocketFloodUnderFDLimit(t *testing.T) {
	pypeer.Require(t)
	ctx := testCtx(t, 3*time.Minute)
	srv := startServe(t, 1024)
	good := goodClient(t, ctx, srv.FURL)
	f, err := tubclient.ParseFURL(srv.FURL)
	if err != nil {
		t.Fatal(err)
	}
	var silent []net.Conn
	defer func() {
		for _, c := range silent {
			c.Close()
		}
	}()
	var d net.Dialer
	for range 1100 {
		c, err := d.DialContext(ctx, "tcp", f.Hints[0].Addr())
		if err != nil {
			t.Fatalf("after %d silent sockets: %v", len(silent), err)
		}
		silent = append(silent, c)
	}
	const newPeers = 20
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	served, slowest := 0, time.Duration(0)
	for range newPeers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := attacker(t)
			t0 := time.Now()
			ref, err := a.GetReference(ctx, srv.FURL)
			if err != nil {
				t.Errorf("a new peer was shut out: %v", err)
				return
			}
			if _, err := ref.Call(ctx, "echo", "in"); err != nil {
				t.Errorf("a new peer's call failed: %v", err)
				return
			}
			mu.Lock()
			served++
			slowest = max(slowest, time.Since(t0))
			mu.Unlock()
		}()
	}
	wg.Wait()
	calls, lost, maxMS := missed(t, ctx, good)
	t.Logf("hostile: 1100 silent sockets at RLIMIT_NOFILE 1024: %d of %d new peers served in %s (slowest %s); good client %d calls, %d missed, max latency %.1f ms",
		served, newPeers, time.Since(start).Round(time.Millisecond), slowest.Round(time.Millisecond), calls, lost, maxMS)
	if lost != 0 {
		t.Errorf("the good client missed %d of %d calls", lost, calls)
	}
}

// A peer that stops reading is closed once a write has waited the write
// timeout, over real TCP, and its pending answers do not pile up.
func TestNonReadingPeerClosedOverTCP(t *testing.T) {
	ctx := testCtx(t, time.Minute)
	server, err := tubclient.New(tubclient.Config{WriteTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	if _, err := server.Listen("tcp:127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	furl, _ := server.Register("svc", tubclient.NewObject(map[string]tubclient.Func{
		"echo": func(_ context.Context, args []any, _ map[string]any) (any, error) { return args[0], nil },
	}))
	sub := server.Subscribe(1024)
	defer sub.Close()
	stalled := make(chan struct{})
	client, err := tubclient.New(tubclient.Config{Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &stallingConn{Conn: c, stalled: stalled, closed: make(chan struct{})}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ref, err := client.GetReference(ctx, furl)
	if err != nil {
		t.Fatal(err)
	}
	close(stalled)
	start := time.Now()
	payload := strings.Repeat("x", 256<<10)
	callCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range 64 { // 16 MiB of answers: more than the sockets buffer
		go ref.Call(callCtx, "echo", payload)
	}
	for {
		var detached bool
		for _, ev := range sub.Drain(0) {
			if ev.Kind == "broker-detached" {
				if ev.Close != "write-error" {
					t.Fatalf("detached as %q (%s), want write-error", ev.Close, ev.Reason)
				}
				detached = true
			}
		}
		if detached {
			break
		}
		select {
		case <-sub.Changed():
		case <-ctx.Done():
			t.Fatal("a peer that stopped reading was never closed")
		}
	}
	t.Logf("hostile: a peer that stopped reading was closed %s after it stopped (write timeout 2 s)",
		time.Since(start).Round(time.Millisecond))
}

// stallingConn stops reading once stalled is closed, like a stuck
// process: its reads wait until the socket is closed.
type stallingConn struct {
	net.Conn
	stalled chan struct{}
	once    sync.Once
	closed  chan struct{}
}

func (c *stallingConn) Read(p []byte) (int, error) {
	select {
	case <-c.stalled:
		<-c.closed
		return 0, net.ErrClosed
	default:
	}
	return c.Conn.Read(p)
}

func (c *stallingConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}
