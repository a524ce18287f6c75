package flogapp

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/banana"
	"github.com/tubscope/tubscope/tubclient/logport"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// negotiationNoise is event num of a logger: a Foolscap negotiation line
// the reconstruction recognises and files, so every one of them changes
// the reconstructed state, as a busy tub's log does.
func negotiationNoise(num int64, at time.Time) banana.Dict {
	return banana.Dict{
		{Key: "num", Value: num},
		{Key: "time", Value: float64(at.UnixNano()) / 1e9},
		{Key: "level", Value: int64(10)},
		{Key: "incarnation", Value: banana.Tuple{"0123456789abcdef", nil}},
		{Key: "facility", Value: "foolscap.negotiation"},
		{Key: "message", Value: "dataReceived(isClient=False,phase=1,options={})"},
	}
}

// A flood of 100,000 events a (fake) second is reconstructed in full, and
// snapshots come at most every 100 ms however fast the events come; when
// nothing changes, none come at all.
func TestWatchedPublishesAtACappedRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWatched(WatchOptions{Name: "flood"})
		w.start(t.Context())
		defer w.Close()
		const seconds, perTick, tick = 2, 1000, 10 * time.Millisecond
		start := time.Now()
		var num int64
		for time.Since(start) < seconds*time.Second {
			for range perTick {
				num++
				w.receive(negotiationNoise(num, time.Now()))
			}
			time.Sleep(tick)
		}
		synctest.Wait()
		st := w.Stats()
		if st.Applied != uint64(num) || st.Dropped != 0 {
			t.Fatalf("applied %d and dropped %d of %d", st.Applied, st.Dropped, num)
		}
		// The first snapshot came at start; then one per 100 ms at most.
		limit := uint64(1 + seconds*time.Second/(100*time.Millisecond) + 1)
		if st.Published > limit || st.Published < limit-2 {
			t.Errorf("%d snapshots in %d s of a flood, want about %d and never more", st.Published, seconds, limit)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		last := w.Snapshot()
		if got := w.Stats().Published; got > st.Published+1 {
			t.Errorf("%d snapshots after the flood, want at most the one with its last events", got-st.Published)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if w.Snapshot() != last {
			t.Error("a snapshot was published with nothing changed")
		}
		if s := last.Source; s.Kind != snapshot.SourceWatched || s.ReadOnly != WatchedReadOnly || s.Name != "flood" {
			t.Errorf("source %+v", s)
		}
	})
}

// A full queue drops the newest events and counts them; the count is in
// the next snapshot, for the header to show.
func TestWatchedDropsWhenTheQueueIsFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWatched(WatchOptions{Queue: 100})
		release := make(chan struct{})
		held := false
		w.beforeBatch = func() {
			if !held {
				held = true
				<-release // the reconstruction stalls while the events come
			}
		}
		w.start(t.Context())
		defer w.Close()
		synctest.Wait()
		for i := range 1000 {
			w.receive(negotiationNoise(int64(i), time.Now()))
		}
		if st := w.Stats(); st.Received != 100 || st.Dropped != 900 || st.MaxQueued != 100 {
			t.Fatalf("stats %+v, want 100 received and queued, 900 dropped", st)
		}
		close(release)
		time.Sleep(time.Second)
		synctest.Wait()
		s := w.Snapshot()
		if st := w.Stats(); st.Applied != 100 || s.EventsDropped != 900 {
			t.Errorf("applied %d, the snapshot says %d dropped; want 100 and 900", st.Applied, s.EventsDropped)
		}
	})
}

// While the logport is lost, the status counts down to the next attempt
// (and is republished as it does, twice a second at most); once back it
// is empty, and each change is an event on the feed.
func TestWatchedStatus(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWatched(WatchOptions{Name: "storage1"})
		w.start(t.Context())
		defer w.Close()
		feed := w.Subscribe(16)
		defer feed.Close()
		if got := w.Snapshot().Source.Status; got != "connecting to the logport" {
			t.Errorf("status before the first attempt: %q", got)
		}
		w.setStatus(logport.Status{Attempt: 1, Retry: time.Now().Add(4 * time.Second), Err: errors.New("connection refused")})
		time.Sleep(200 * time.Millisecond)
		synctest.Wait()
		if got := w.Snapshot().Source.Status; got != "logport lost (connection refused): retrying in 4s" {
			t.Errorf("status %q", got)
		}
		before := w.Stats().Published
		time.Sleep(time.Second)
		synctest.Wait()
		if got := w.Snapshot().Source.Status; got != "logport lost (connection refused): retrying in 3s" {
			t.Errorf("status a second later %q", got)
		}
		if n := w.Stats().Published - before; n < 1 || n > 2 {
			t.Errorf("%d snapshots in a second of countdown", n)
		}
		w.setStatus(logport.Status{Connected: true, PID: 4242})
		time.Sleep(200 * time.Millisecond)
		synctest.Wait()
		if got := w.Snapshot().Source.Status; got != "" {
			t.Errorf("status once connected %q", got)
		}
		var msgs []string
		for _, ev := range feed.Drain(0) {
			if ev.Kind == snapshot.KindSource {
				msgs = append(msgs, ev.Message)
			}
		}
		if len(msgs) != 2 || !strings.Contains(msgs[0], "storage1: logport lost") || msgs[1] != "storage1: logport connected (pid 4242)" {
			t.Errorf("source events %q", msgs)
		}
	})
}

func TestTargetName(t *testing.T) {
	for target, want := range map[string]string{
		"/home/ada/storage1":       "storage1",
		"/home/ada/storage1/":      "storage1",
		"/home/ada/.tahoe/private": ".tahoe",
		"/tmp/introducer.furl":     "introducer",
		"pb://abcdefghijklmnopqrstuvwxyz234567@tcp:127.0.0.1:1/x": "logport abcdefgh",
	} {
		if got := TargetName(target); got != want {
			t.Errorf("TargetName(%q) = %q, want %q", target, got, want)
		}
	}
}

// floodPublisher is an RILogPublisher that sends n events to its first
// subscriber at rate events a second, with up to 512 calls awaiting an
// answer: a logport far busier than any Foolscap tub.
type floodPublisher struct {
	n    int
	rate float64
	done chan struct{} // closed once every event is sent and answered
	stop chan struct{} // closing it ends the flood early
	once sync.Once
	sent atomic.Int64
}

func (p *floodPublisher) RemoteInterfaceName() string { return logport.PublisherInterface }

func (p *floodPublisher) RemoteCall(ctx context.Context, method string, args []any, _ map[string]any) (any, error) {
	switch method {
	case "get_pid":
		return int64(4242), nil
	case "get_versions":
		return banana.Dict{{Key: "foolscap", Value: "flood"}}, nil
	case "subscribe_to_all":
		obs, _ := args[0].(*tubclient.RemoteReference)
		p.once.Do(func() { go p.flood(obs) })
		return tubclient.NewInterfaceObject(logport.SubscriptionInterface, map[string]tubclient.Func{
			"unsubscribe": func(context.Context, []any, map[string]any) (any, error) { return nil, nil },
		}), nil
	}
	return nil, &tubclient.RemoteError{Type: "builtins.AttributeError", Value: method}
}

func (p *floodPublisher) flood(obs *tubclient.RemoteReference) {
	defer close(p.done)
	inFlight := make(chan *tubclient.Call, 512)
	answered := make(chan struct{})
	go func() {
		defer close(answered)
		for c := range inFlight {
			c.Wait(context.Background())
		}
	}()
	start := time.Now()
	for i := range p.n {
		if i%1000 == 0 {
			select {
			case <-p.stop:
				close(inFlight)
				<-answered
				return
			default:
			}
			// Paced in steps of a thousand events.
			if ahead := time.Duration(float64(i)/p.rate*float64(time.Second)) - time.Since(start); ahead > 0 {
				time.Sleep(ahead)
			}
		}
		inFlight <- obs.Start("msg", []any{negotiationNoise(int64(i), time.Now())}, nil)
		p.sent.Add(1)
	}
	close(inFlight)
	<-answered
}

// serveFlood runs a flood publisher on a listening tub and returns the
// FURL of its logport.
func serveFlood(t testing.TB, p *floodPublisher) string {
	t.Helper()
	server, err := tubclient.New(tubclient.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	if _, err := server.Listen("tcp:127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	furl, err := server.Register("flood", p)
	if err != nil {
		t.Fatal(err)
	}
	return furl
}

// A publisher sending 100,000 events a second at a watched source over a
// real connection: every event is either reconstructed or counted as
// dropped, the queue never holds more than its bound, the snapshot says
// how many were dropped, and snapshots keep coming during the flood but
// never more than ten a second.
func TestWatchedUnderAFlood(t *testing.T) {
	ctx := testCtx(t, 60*time.Second)
	p := &floodPublisher{n: 150_000, rate: 100_000, done: make(chan struct{}), stop: make(chan struct{})}
	furl := serveFlood(t, p)
	watcher, err := tubclient.New(tubclient.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close()
	start := time.Now()
	w := Watch(ctx, watcher, furl, WatchOptions{Queue: 4096})
	defer w.Close()

	// The UI's side: it reads snapshots while the flood lasts.
	versions := map[uint64]bool{}
	for flooding := true; flooding; {
		select {
		case <-p.done:
			flooding = false
		case <-ctx.Done():
			t.Fatalf("the flood did not end: %d sent", p.sent.Load())
		case <-time.After(10 * time.Millisecond): // a UI's tick, much faster than the inspector's
		}
		versions[w.Snapshot().Version] = true
	}
	for {
		st := w.Stats()
		if st.Received+st.Dropped == uint64(p.n) && st.Applied+st.Bad == st.Received {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("stats %+v after %d events", st, p.n)
		case <-time.After(10 * time.Millisecond):
		}
	}
	elapsed := time.Since(start)
	st := w.Stats()
	if st.MaxQueued > 4096 || st.Bad != 0 {
		t.Errorf("stats %+v: the queue outgrew its bound of 4096, or events were misread", st)
	}
	// Connecting and connected are two status changes of their own.
	if limit := uint64(elapsed/(100*time.Millisecond)) + 4; st.Published > limit {
		t.Errorf("%d snapshots in %s, more than ten a second", st.Published, elapsed)
	}
	if len(versions) < 2 {
		t.Errorf("the snapshot never changed during the flood")
	}
	for w.Snapshot().EventsDropped != st.Dropped {
		select {
		case <-ctx.Done():
			t.Fatalf("the snapshot says %d dropped, the source %d", w.Snapshot().EventsDropped, st.Dropped)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Logf("%d events in %s: %d reconstructed, %d dropped, %d snapshots, deepest queue %d",
		p.n, elapsed.Round(time.Millisecond), st.Applied, st.Dropped, st.Published, st.MaxQueued)
}

// A watched node that goes away is retried, and the status says so; the
// FURL file is read again on each attempt, so a node that comes back on
// another port is found.
func TestWatchedFollowsARestartedNode(t *testing.T) {
	ctx := testCtx(t, 60*time.Second)
	dir := t.TempDir()
	furlfile := filepath.Join(dir, "private", "logport.furl")
	os.MkdirAll(filepath.Dir(furlfile), 0o700)
	key := filepath.Join(dir, "tub.pem")
	startNode := func() (stop func()) {
		node, err := tubclient.New(tubclient.Config{KeyFile: key})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := node.Listen("tcp:127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		p, err := logport.NewPublisher(node, logport.PublisherOptions{FURLFile: furlfile})
		if err != nil {
			t.Fatal(err)
		}
		return func() {
			p.Close()
			node.Close()
		}
	}
	stop := startNode()
	watcher, err := tubclient.New(tubclient.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close()
	w := Watch(ctx, watcher, dir, WatchOptions{})
	defer w.Close()
	if w.Snapshot().Source.Name != filepath.Base(dir) {
		t.Errorf("named %q", w.Snapshot().Source.Name)
	}
	awaitStatus := func(what string, ok func(string) bool) {
		t.Helper()
		for !ok(w.Snapshot().Source.Status) {
			select {
			case <-ctx.Done():
				t.Fatalf("waiting for %s; status %q", what, w.Snapshot().Source.Status)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	connected := func(s string) bool { return s == "" }
	awaitStatus("connected", connected)
	stop()
	awaitStatus("retrying", func(s string) bool { return strings.HasPrefix(s, "logport lost") && strings.Contains(s, "retrying in") })
	stop = startNode()
	defer stop()
	awaitStatus("connected again", connected)
}

// BenchmarkWatchedUnderFlood watches a publisher that sends 100,000
// events a second over a real connection, from the inspector's side: one
// op is the wait for the next snapshot, so ns/op is the publish interval
// under the flood (100 ms is the cap's ten a second), and max-gap-ms the
// longest the screen could have been left waiting. It also reports what
// the source kept up with: events reconstructed and dropped per second.
func BenchmarkWatchedUnderFlood(b *testing.B) {
	p := &floodPublisher{n: 1 << 40, rate: 100_000, done: make(chan struct{}), stop: make(chan struct{})}
	furl := serveFlood(b, p)
	watcher, err := tubclient.New(tubclient.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer watcher.Close()
	w := Watch(context.Background(), watcher, furl, WatchOptions{})
	defer w.Close()
	defer func() { close(p.stop); <-p.done }()
	for w.Stats().Applied < 50_000 {
		time.Sleep(10 * time.Millisecond) // until the flood is in full swing
	}
	before, start := w.Stats(), time.Now()
	var maxGap time.Duration
	for b.Loop() {
		v, since := w.Snapshot().Version, time.Now()
		for w.Snapshot().Version == v {
			time.Sleep(time.Millisecond) // a reader polling far faster than the inspector's 250 ms tick
		}
		maxGap = max(maxGap, time.Since(since))
	}
	secs := time.Since(start).Seconds()
	after := w.Stats()
	b.ReportMetric(float64(maxGap)/1e6, "max-gap-ms")
	b.ReportMetric(float64(after.Applied-before.Applied)/secs, "events/s")
	b.ReportMetric(float64(after.Dropped-before.Dropped)/secs, "dropped/s")
}
