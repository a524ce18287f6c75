package tubclient

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tubscope/tubscope/tubclient/banana"
	"github.com/tubscope/tubscope/tubclient/internal/memnet"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// stallConn stops reading on demand, like a peer whose process is stuck.
type stallConn struct {
	net.Conn
	mu      sync.Mutex
	stalled chan struct{} // closed when reads stop; nil while they flow
	closed  chan struct{}
	once    sync.Once
}

func (c *stallConn) stall() {
	c.mu.Lock()
	c.stalled = make(chan struct{})
	c.mu.Unlock()
}

func (c *stallConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	stalled := c.stalled
	c.mu.Unlock()
	if stalled != nil {
		<-c.closed
		return 0, net.ErrClosed
	}
	return c.Conn.Read(p)
}

func (c *stallConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// A peer that stops reading loses its connection once a write has waited
// WriteTimeout: the broker ends with a write-error reason and a detach,
// rather than answers vanishing on a connection that stays open.
func TestNonReadingPeerIsClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var pn memnet.Network
		server, err := New(Config{Location: []Hint{{Host: "server", Port: 1}}, WriteTimeout: 30 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer server.Close()
		server.Serve(pn.Listen("server:1"))
		furl, _ := server.Register("svc", echoService())
		var conns []*stallConn
		dial := pn.Dialer("client")
		client, err := New(Config{Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			sc := &stallConn{Conn: c, closed: make(chan struct{})}
			conns = append(conns, sc)
			return sc, nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		ref, err := client.GetReference(context.Background(), furl)
		if err != nil {
			t.Fatal(err)
		}
		sub := server.Subscribe(256)
		defer sub.Close()
		conns[0].stall()
		start := time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// Answers beyond what the path buffers (memnet holds about 1 MiB
		// each way) leave the server's writer waiting on the peer.
		for range 24 {
			go ref.Call(ctx, "echo", strings.Repeat("x", 100_000))
		}
		synctest.Wait()
		if n := len(server.Snapshot().Brokers); n != 1 {
			t.Fatalf("%d brokers before the write timeout", n)
		}
		time.Sleep(31 * time.Second)
		synctest.Wait()
		var detach *snapshot.Event
		for _, ev := range sub.Drain(0) {
			if ev.Kind == snapshot.KindBrokerDetached {
				detach = &ev
			}
		}
		if detach == nil || detach.Close != snapshot.CloseWriteError || !strings.Contains(detach.Reason, "stopped reading") {
			t.Fatalf("detach %+v, want a write-error naming the peer that stopped reading", detach)
		}
		if waited := detach.Time.Sub(start); waited < 30*time.Second || waited > 32*time.Second {
			t.Errorf("closed %s after the peer stopped reading, want the 30 s write timeout", waited)
		}
		if n := len(server.Snapshot().Brokers); n != 0 {
			t.Fatalf("%d brokers left after the write failed", n)
		}
		p := peerOf(t, server.Snapshot(), client.TubID())
		if h := p.History; len(h) != 1 || h[0].End != snapshot.CloseWriteError {
			t.Errorf("history %+v", h)
		}
	})
}

// An answer that cannot be encoded (a reference sent back with a
// negative clid) goes out as an error answer, so the caller is not left
// waiting for ever, and the connection stays up.
func TestUnencodableAnswerBecomesError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, _, ref := pipePair(t, Config{}, Config{})
		p := ref.Broker().pb
		// What a hostile peer can send: my-reference with clid -3, which
		// echo hands back as your-reference -3.
		ch := make(chan callResult, 1)
		p.mu.Lock()
		p.nextReq++
		req := p.nextReq
		p.pending[req] = ch
		p.mu.Unlock()
		ref.Broker().out.enqueue(outMsg{call: &banana.Call{ReqID: req, Target: ref.clid, Method: "echo",
			Args: []any{banana.MyReference{CLID: -3}}}})
		synctest.Wait()
		var r callResult
		select {
		case r = <-ch:
		default:
			t.Fatal("no answer to a call whose answer cannot be encoded")
		}
		var re *RemoteError
		if !errors.As(r.err, &re) || !strings.Contains(re.Value, "could not be serialized") {
			t.Fatalf("answer %+v, want an error saying it could not be serialized", r)
		}
		if got, err := ref.Call(context.Background(), "echo", "still up"); err != nil || got != "still up" {
			t.Fatalf("the connection did not survive: %v, %v", got, err)
		}
	})
}

// A slowloris (a prelude that never ends) gets the same 500 as any other
// bad prelude when the negotiation timeout ends it.
func TestSlowlorisGets500(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var pn memnet.Network
		server, err := New(Config{NegotiationTimeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer server.Close()
		server.Serve(pn.Listen("server:1"))
		c, err := pn.Dialer("loris")(context.Background(), "tcp", "server:1")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte("GET /id/" + server.TubID() + " HTTP/1.1\r\nHost: x\r\n")); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			t.Fatalf("no reply to a slowloris: %v", err)
		}
		if !strings.HasPrefix(line, "HTTP/1.1 500 ") || !strings.Contains(line, "negotiation timed out") {
			t.Fatalf("slowloris got %q, want a 500 saying the negotiation timed out", line)
		}
	})
}

// When a listener's negotiation slots are full of sockets silent in their
// prelude, a newcomer takes the oldest one's slot, so a flood of silent
// sockets cannot shut real peers out.
func TestSilentSocketsGiveWayToNewPeers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var pn memnet.Network
		server, err := New(Config{Location: []Hint{{Host: "server", Port: 1}}, MaxNegotiations: 8})
		if err != nil {
			t.Fatal(err)
		}
		defer server.Close()
		server.Serve(pn.Listen("server:1"))
		furl, _ := server.Register("svc", echoService())
		var mu sync.Mutex
		var silent []net.Conn
		dial := pn.Dialer("flood")
		for range 20 {
			// memnet's dial waits for accept, which waits for a slot: dial in
			// the background, as a flood's SYNs wait in the backlog.
			go func() {
				c, err := dial(context.Background(), "tcp", "server:1")
				if err == nil {
					mu.Lock()
					silent = append(silent, c)
					mu.Unlock()
				}
			}()
		}
		synctest.Wait()
		time.Sleep(2 * time.Second) // the silent ones are now stale
		client, err := New(Config{Dial: pn.Dialer("client")})
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		ref, err := client.GetReference(context.Background(), furl)
		if err != nil {
			t.Fatalf("a real peer was shut out by silent sockets: %v", err)
		}
		if got, err := ref.Call(context.Background(), "echo", "in"); err != nil || got != "in" {
			t.Fatalf("echo = %v, %v", got, err)
		}
		mu.Lock()
		for _, c := range silent {
			c.Close()
		}
		mu.Unlock()
	})
}

// A host over its own limit gets a 500 that says so, and an event.
func TestPerHostLimitRefuses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var pn memnet.Network
		server, err := New(Config{MaxNegotiations: 100, MaxNegotiationsPerHost: 2})
		if err != nil {
			t.Fatal(err)
		}
		defer server.Close()
		sub := server.Subscribe(64)
		defer sub.Close()
		server.Serve(pn.Listen("server:1"))
		dial := pn.Dialer("10.0.0.9")
		var conns []net.Conn
		for range 3 {
			c, err := dial(context.Background(), "tcp", "server:1")
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		line, err := bufio.NewReader(conns[2]).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "HTTP/1.1 500 ") || !strings.Contains(line, "too many negotiations from 10.0.0.9") {
			t.Fatalf("third socket from one host got %q (%v), want a 500 naming the limit", line, err)
		}
		synctest.Wait()
		if evs := eventsOf(sub, snapshot.KindRefused); len(evs) != 1 || !strings.Contains(evs[0].Reason, "limit 2") {
			t.Fatalf("refused events %+v", evs)
		}
	})
}

// Peers that come and go with fresh tubids do not grow the tub for ever:
// idle ones are forgotten after their time, and their return says so.
func TestIdlePeersAreEvicted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var pn memnet.Network
		server, err := New(Config{Location: []Hint{{Host: "server", Port: 1}}})
		if err != nil {
			t.Fatal(err)
		}
		defer server.Close()
		server.Serve(pn.Listen("server:1"))
		furl, _ := server.Register("svc", echoService())
		sub := server.Subscribe(1024)
		defer sub.Close()
		const rotating = 50
		var returning *Identity
		for i := range rotating {
			id, _ := NewIdentity()
			if i == 0 {
				returning = id
			}
			c, err := New(Config{Identity: id, Dial: pn.Dialer(fmt.Sprint("c", i))})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.GetReference(context.Background(), furl); err != nil {
				t.Fatal(err)
			}
			c.Close()
		}
		synctest.Wait()
		if n := len(server.Snapshot().Peers); n != rotating {
			t.Fatalf("%d peers known, want %d", n, rotating)
		}
		time.Sleep(peerIdleTTL + sweepEvery)
		synctest.Wait()
		if n := len(server.Snapshot().Peers); n != 0 {
			t.Fatalf("%d idle peers survived %s", n, peerIdleTTL+sweepEvery)
		}
		if evs := eventsOf(sub, snapshot.KindPeerEvicted); len(evs) != rotating {
			t.Fatalf("%d eviction events, want %d", len(evs), rotating)
		}
		c, err := New(Config{Identity: returning, Dial: pn.Dialer("back")})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.GetReference(context.Background(), furl); err != nil {
			t.Fatal(err)
		}
		if p := peerOf(t, server.Snapshot(), returning.TubID); p.Evictions != 1 || p.LastEvicted.IsZero() {
			t.Fatalf("a returning peer does not show its eviction: %+v", p)
		}
	})
}

// bomb is the 1 KB reference bomb: depth levels, each a list of two
// references to the level below (2^depth leaves if expanded).
func bomb(depth int) []any {
	v := []any{int64(1)}
	for range depth {
		v = []any{v, v}
	}
	return v
}

// The 24-level reference bomb is decoded as shared values, served, and
// echoed back shared: nothing expands it, on either side.
func TestReferenceBombStaysShared(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, _, ref := pipePair(t, Config{}, Config{})
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		got, err := ref.Call(context.Background(), "echo", bomb(24))
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
			t.Errorf("the echo allocated %d bytes: the bomb was expanded", alloc)
		}
		// Walk down one side: every level's two items are one value.
		v := got
		for depth := 0; depth < 24; depth++ {
			l, ok := v.([]any)
			if !ok || len(l) != 2 {
				t.Fatalf("level %d is %T", depth, v)
			}
			a, b := l[0].([]any), l[1].([]any)
			if &a[0] != &b[0] {
				t.Fatalf("level %d: the two references came back as copies", depth)
			}
			v = a
		}
	})
}

// A message over the per-message budget fails its call with a Violation,
// and the connection stays up.
func TestOversizedCallFailsAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, _, ref := pipePair(t, Config{MaxMessageCost: 1 << 20}, Config{})
		big := make([]any, 100_000) // about 6 MiB decoded
		for i := range big {
			big[i] = int64(i)
		}
		_, err := ref.Call(context.Background(), "echo", big)
		var re *RemoteError
		if !errors.As(err, &re) || re.Type != violationType {
			t.Fatalf("oversized call = %v, want a Violation", err)
		}
		if got, err := ref.Call(context.Background(), "echo", strings.Repeat("s", 1<<20+10)); err == nil {
			t.Fatalf("a string over 1 MiB was echoed (%d bytes)", len(got.(string)))
		} else if !errors.As(err, &re) || re.Type != violationType {
			t.Fatalf("oversized string = %v, want a Violation", err)
		}
		if got, err := ref.Call(context.Background(), "echo", "after"); err != nil || got != "after" {
			t.Fatalf("the connection did not survive: %v, %v", got, err)
		}
	})
}
