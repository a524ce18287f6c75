package faultnet

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// A transport gives a connected pair; the first end gets wrapped. The TCP
// cases wrap the dialing end and the accepting end in turn.
type transport struct {
	name string
	pair func(t *testing.T) (net.Conn, net.Conn)
	// bubble runs pipe cases under synctest, so their deadlines are fake
	// time; real sockets cannot run there.
	bubble bool
}

var transports = []transport{
	{"pipe", func(*testing.T) (net.Conn, net.Conn) { return net.Pipe() }, true},
	{"tcp-dialer", func(t *testing.T) (net.Conn, net.Conn) { d, a := tcpPair(t); return d, a }, false},
	{"tcp-acceptor", func(t *testing.T) (net.Conn, net.Conn) { d, a := tcpPair(t); return a, d }, false},
}

func tcpPair(t *testing.T) (dialed, accepted net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dialed, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	accepted, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dialed.Close(); accepted.Close() })
	return dialed, accepted
}

// eachTransport runs body with a wrapped end a and its raw peer b.
func eachTransport(t *testing.T, body func(t *testing.T, a *Conn, b net.Conn)) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			run := func(t *testing.T) {
				x, y := tr.pair(t)
				a := New(x, rand.New(rand.NewPCG(1, 2)))
				defer a.Close()
				defer y.Close()
				body(t, a, y)
			}
			if tr.bubble {
				synctest.Test(t, run)
			} else {
				run(t)
			}
		})
	}
}

// quiet is how long a test waits to see that nothing arrives. Under
// synctest it costs no real time; on loopback it only needs to outlast
// delivery of bytes already written.
const quiet = 100 * time.Millisecond

type result struct {
	data []byte
	err  error
}

func readAsync(c net.Conn, n int) <-chan result {
	ch := make(chan result, 1)
	go func() {
		buf := make([]byte, n)
		k, err := c.Read(buf)
		ch <- result{buf[:k], err}
	}()
	return ch
}

func writeAsync(c net.Conn, p []byte) <-chan error {
	ch := make(chan error, 1)
	go func() {
		_, err := c.Write(p)
		ch <- err
	}()
	return ch
}

// expectSilence checks that c's peer stays open but sends nothing: a Read
// with a deadline times out rather than seeing data or EOF.
func expectSilence(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(quiet))
	defer c.SetReadDeadline(time.Time{})
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read = %q, %v; want nothing and a deadline error", buf[:n], err)
	}
}

func readExactly(t *testing.T, c net.Conn, want string) {
	t.Helper()
	buf := make([]byte, len(want))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("reading %q: %v", want, err)
	}
	if string(buf) != want {
		t.Fatalf("read %q, want %q", buf, want)
	}
}

func TestPassthrough(t *testing.T) {
	eachTransport(t, func(t *testing.T, a *Conn, b net.Conn) {
		werr := writeAsync(a, []byte("hello"))
		readExactly(t, b, "hello")
		if err := <-werr; err != nil {
			t.Fatal(err)
		}
		werr = writeAsync(b, []byte("world"))
		readExactly(t, a, "world")
		if err := <-werr; err != nil {
			t.Fatal(err)
		}
		if s := a.Stats(); s != (Stats{In: 5, Out: 5}) {
			t.Fatalf("Stats = %+v", s)
		}
		if f := a.Faults(); f != "" {
			t.Fatalf("Faults = %q, want none", f)
		}
	})
}

func TestBlackHoleOutboundSwallowsWrites(t *testing.T) {
	eachTransport(t, func(t *testing.T, a *Conn, b net.Conn) {
		a.BlackHole()
		if n, err := a.Write([]byte("lost")); n != 4 || err != nil {
			t.Fatalf("Write = %d, %v; want 4, nil", n, err)
		}
		expectSilence(t, b) // no data and no EOF: the socket is still open
		if s := a.Stats(); s.Out != 0 || s.OutSwallowed != 4 {
			t.Fatalf("Stats = %+v", s)
		}
	})
}

func TestBlackHoleInboundDiscardsAndHonoursDeadline(t *testing.T) {
	eachTransport(t, func(t *testing.T, a *Conn, b net.Conn) {
		a.BlackHole()
		a.SetReadDeadline(time.Now().Add(quiet))
		got := readAsync(a, 64)
		if _, err := b.Write([]byte("lost")); err != nil {
			t.Fatal(err)
		}
		r := <-got
		if len(r.data) != 0 || !errors.Is(r.err, os.ErrDeadlineExceeded) {
			t.Fatalf("Read = %q, %v; want nothing and a deadline error", r.data, r.err)
		}
		var ne net.Error
		if !errors.As(r.err, &ne) || !ne.Timeout() {
			t.Fatalf("Read error %v is not a net.Error timeout", r.err)
		}
		if s := a.Stats(); s.In != 0 || s.InSwallowed != 4 {
			t.Fatalf("Stats = %+v", s)
		}
	})
}

// A read already waiting on the socket when the black-hole starts must not
// deliver what arrives after it, data or the peer's FIN.
func TestBlackHoleCatchesReadInProgress(t *testing.T) {
	eachTransport(t, func(t *testing.T, a *Conn, b net.Conn) {
		got := readAsync(a, 64)
		if tr := a.RemoteAddr(); tr.Network() == "pipe" {
			synctest.Wait()
		} else {
			time.Sleep(quiet) // let the read reach the socket
		}
		a.BlackHole()
		if _, err := b.Write([]byte("late")); err != nil {
			t.Fatal(err)
		}
		b.Close()
		select {
		case r := <-got:
			t.Fatalf("a read begun before the black-hole returned %q, %v", r.data, r.err)
		case <-time.After(quiet):
		}
		a.Close()
		if r := <-got; len(r.data) != 0 || !errors.Is(r.err, net.ErrClosed) {
			t.Fatalf("after Close the read returned %q, %v; want nothing and net.ErrClosed", r.data, r.err)
		}
	})
}

func TestBlackHoleReadReleasedByClose(t *testing.T) {
	eachTransport(t, func(t *testing.T, a *Conn, b net.Conn) {
		a.BlackHole()
		got := readAsync(a, 64)
		expectSilence(t, b)
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		if r := <-got; !errors.Is(r.err, net.ErrClosed) {
			t.Fatalf("blocked Read returned %v, want net.ErrClosed", r.err)
		}
		// Close, unlike a black-hole, reaches the peer.
		if _, err := b.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("peer Read after Close = %v, want EOF", err)
		}
		if err := a.Close(); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("second Close = %v, want net.ErrClosed", err)
		}
		if _, err := a.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Write after Close = %v, want net.ErrClosed", err)
		}
	})
}

func TestBlackHoleRestoreResumesWithGap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		x, b := net.Pipe()
		a := New(x, nil)
		defer a.Close()
		defer b.Close()
		a.BlackHole()
		got := readAsync(a, 64)
		if _, err := b.Write([]byte("lost")); err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // the reader has discarded "lost" and waits again
		a.Restore()
		if _, err := b.Write([]byte("kept")); err != nil {
			t.Fatal(err)
		}
		if r := <-got; string(r.data) != "kept" || r.err != nil {
			t.Fatalf("Read = %q, %v; want \"kept\"", r.data, r.err)
		}
		werr := writeAsync(a, []byte("back"))
		readExactly(t, b, "back")
		if err := <-werr; err != nil {
			t.Fatal(err)
		}
	})
}

func TestDropAfterOutbound(t *testing.T) {
	eachTransport(t, func(t *testing.T, a *Conn, b net.Conn) {
		a.DropAfter(Outbound, 5)
		// The first block fits the budget; the next one (say, a decision)
		// is lost whole, and so is everything after it.
		werr := writeAsync(a, []byte("hello"))
		readExactly(t, b, "hello")
		if err := <-werr; err != nil {
			t.Fatal(err)
		}
		if f := a.Faults(); f != "out dark" {
			t.Fatalf("Faults = %q", f)
		}
		for _, block := range []string{"decision", "more"} {
			if n, err := a.Write([]byte(block)); n != len(block) || err != nil {
				t.Fatalf("Write(%q) = %d, %v", block, n, err)
			}
		}
		expectSilence(t, b)
		// Inbound is untouched.
		werr = writeAsync(b, []byte("reply"))
		readExactly(t, a, "reply")
		if err := <-werr; err != nil {
			t.Fatal(err)
		}
		if s := a.Stats(); s.Out != 5 || s.OutSwallowed != 12 || s.In != 5 {
			t.Fatalf("Stats = %+v", s)
		}
	})
}

func TestDropAfterSplitsAWrite(t *testing.T) {
	eachTransport(t, func(t *testing.T, a *Conn, b net.Conn) {
		a.DropAfter(Outbound, 3)
		werr := writeAsync(a, []byte("abcdef"))
		readExactly(t, b, "abc")
		if err := <-werr; err != nil {
			t.Fatal(err)
		}
		expectSilence(t, b)
	})
}

func TestDropAfterInbound(t *testing.T) {
	eachTransport(t, func(t *testing.T, a *Conn, b net.Conn) {
		a.DropAfter(Inbound, 5)
		if f := a.Faults(); f != "in drop-out after 5B" {
			t.Fatalf("Faults = %q", f)
		}
		werr := writeAsync(b, []byte("hello world"))
		readExactly(t, a, "hello")
		expectSilence(t, a) // drains and discards " world"
		if err := <-werr; err != nil {
			t.Fatal(err)
		}
		if s := a.Stats(); s.In != 5 || s.InSwallowed != 6 {
			t.Fatalf("Stats = %+v", s)
		}
		// Outbound is untouched.
		werr = writeAsync(a, []byte("ok"))
		readExactly(t, b, "ok")
		if err := <-werr; err != nil {
			t.Fatal(err)
		}
		a.DropAfter(Inbound, -1)
		werr = writeAsync(b, []byte("again"))
		readExactly(t, a, "again")
		if err := <-werr; err != nil {
			t.Fatal(err)
		}
	})
}

func TestResetSendsRST(t *testing.T) {
	for _, tr := range transports[1:] {
		t.Run(tr.name, func(t *testing.T) {
			x, b := tr.pair(t)
			a := New(x, nil)
			if err := a.Reset(); err != nil {
				t.Fatal(err)
			}
			if _, err := b.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("peer Read after Reset = %v, want ECONNRESET", err)
			}
		})
	}
	t.Run("pipe", func(t *testing.T) {
		x, b := net.Pipe()
		a := New(x, nil)
		if err := a.Reset(); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("peer Read after Reset = %v, want EOF", err)
		}
	})
}

type arrival struct {
	b  byte
	at time.Duration
}

func TestDelayOutboundKeepsOrderAndTiming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		x, b := net.Pipe()
		a := New(x, rand.New(rand.NewPCG(7, 7)))
		const fixed, jitter, count = 50 * time.Millisecond, 30 * time.Millisecond, 40
		a.Delay(Outbound, fixed, jitter)
		if f := a.Faults(); f != "out delay 50ms..80ms" {
			t.Fatalf("Faults = %q", f)
		}
		start := time.Now()
		arrivals := make(chan []arrival, 1)
		go func() {
			var got []arrival
			buf := make([]byte, 1)
			for {
				if _, err := b.Read(buf); err != nil {
					arrivals <- got
					return
				}
				got = append(got, arrival{buf[0], time.Since(start)})
			}
		}()
		for i := range count {
			if _, err := a.Write([]byte{byte(i)}); err != nil {
				t.Fatal(err)
			}
		}
		if d := time.Since(start); d != 0 {
			t.Fatalf("delayed Writes blocked for %v", d)
		}
		if s := a.Stats(); s.OutHeld != count || s.Out != 0 {
			t.Fatalf("Stats before delivery = %+v", s)
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		got := <-arrivals
		if len(got) != count {
			t.Fatalf("got %d bytes, want %d", len(got), count)
		}
		distinct := map[time.Duration]bool{}
		for i, ar := range got {
			if ar.b != byte(i) {
				t.Fatalf("byte %d is %d: order lost", i, ar.b)
			}
			if ar.at < fixed || ar.at > fixed+jitter {
				t.Fatalf("byte %d arrived after %v, want within [%v, %v]", i, ar.at, fixed, fixed+jitter)
			}
			if i > 0 && ar.at < got[i-1].at {
				t.Fatalf("byte %d arrived before byte %d", i, i-1)
			}
			distinct[ar.at] = true
		}
		if len(distinct) < 2 {
			t.Fatalf("jitter drew no spread: %v", distinct)
		}
		if s := a.Stats(); s.Out != count || s.OutHeld != 0 {
			t.Fatalf("Stats after delivery = %+v", s)
		}
	})
}

func TestDelayInbound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		x, b := net.Pipe()
		a := New(x, nil)
		defer a.Close()
		defer b.Close()
		const hold = 40 * time.Millisecond
		a.Delay(Inbound, hold, 0)

		start := time.Now()
		go b.Write([]byte("ping"))
		readExactly(t, a, "ping")
		if d := time.Since(start); d != hold {
			t.Fatalf("held for %v, want %v", d, hold)
		}

		// A deadline inside the hold times out; the bytes wait for the next Read.
		start = time.Now()
		a.SetReadDeadline(start.Add(10 * time.Millisecond))
		go b.Write([]byte("pong"))
		if n, err := a.Read(make([]byte, 8)); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Read = %d, %v; want a deadline error", n, err)
		}
		a.SetReadDeadline(time.Time{})
		a.Delay(Inbound, 0, 0) // already-arrived bytes keep their due time
		readExactly(t, a, "pong")
		if d := time.Since(start); d != hold {
			t.Fatalf("delivered after %v, want %v", d, hold)
		}
		if f := a.Faults(); f != "" {
			t.Fatalf("Faults = %q", f)
		}
	})
}

func TestDelayBothDirectionsFaults(t *testing.T) {
	x, y := net.Pipe()
	defer y.Close()
	a := New(x, nil)
	defer a.Close()
	a.Delay(Inbound, 20*time.Millisecond, 0)
	a.Delay(Outbound, 20*time.Millisecond, 0)
	a.BlackHole()
	a.DropAfter(Outbound, 120)
	if f, want := a.Faults(), "black-hole, out drop-out after 120B, delay 20ms"; f != want {
		t.Fatalf("Faults = %q, want %q", f, want)
	}
	a.ClearFaults()
	if f := a.Faults(); f != "" {
		t.Fatalf("Faults after ClearFaults = %q", f)
	}
}

func TestCloseFlushesHeldWrites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		x, b := net.Pipe()
		a := New(x, nil)
		a.Delay(Outbound, 100*time.Millisecond, 0)
		all := make(chan result, 1)
		go func() {
			data, err := io.ReadAll(b)
			all <- result{data, err}
		}()
		start := time.Now()
		a.Write([]byte("bye"))
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 100*time.Millisecond {
			t.Fatalf("Close returned after %v", d)
		}
		if r := <-all; string(r.data) != "bye" || r.err != nil {
			t.Fatalf("peer read %q, %v", r.data, r.err)
		}
	})
}

func TestCloseGivesUpOnStalledPeer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		x, b := net.Pipe()
		defer b.Close()
		a := New(x, nil)
		a.Delay(Outbound, 100*time.Millisecond, 0)
		a.Write([]byte("unread"))
		start := time.Now()
		a.Close()
		if d := time.Since(start); d != 100*time.Millisecond+flushGrace {
			t.Fatalf("Close returned after %v", d)
		}
	})
}

func TestResetAbandonsHeldWrites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		x, b := net.Pipe()
		a := New(x, nil)
		a.Delay(Outbound, time.Second, 0)
		a.Write([]byte("never"))
		start := time.Now()
		if err := a.Reset(); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 0 {
			t.Fatalf("Reset waited %v", d)
		}
		if data, err := io.ReadAll(b); len(data) != 0 || err != nil {
			t.Fatalf("peer read %q, %v", data, err)
		}
	})
}

func TestDelayLineIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		x, b := net.Pipe()
		a := New(x, nil)
		go io.Copy(io.Discard, b)
		a.Delay(Outbound, time.Second, 0)
		if _, err := a.Write(make([]byte, maxHeldBytes)); err != nil {
			t.Fatal(err)
		}
		a.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
		if _, err := a.Write([]byte{1}); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Write to a full line = %v, want a deadline error", err)
		}
		a.SetWriteDeadline(time.Time{})
		start := time.Now()
		if _, err := a.Write([]byte{1}); err != nil {
			t.Fatal(err)
		}
		// It waited for the first write to leave the line.
		if d := time.Since(start); d != time.Second-10*time.Millisecond {
			t.Fatalf("Write waited %v", d)
		}
		a.Close()
		b.Close()
	})
}

func TestDelayOverTCPKeepsOrder(t *testing.T) {
	for _, tr := range transports[1:] {
		t.Run(tr.name, func(t *testing.T) {
			x, b := tr.pair(t)
			a := New(x, rand.New(rand.NewPCG(3, 4)))
			a.Delay(Outbound, 0, time.Millisecond)
			a.Delay(Inbound, 0, time.Millisecond)
			var want bytes.Buffer
			for i := range 200 {
				p := []byte{byte(i), byte(i >> 8)}
				want.Write(p)
				if _, err := a.Write(p); err != nil {
					t.Fatal(err)
				}
			}
			readExactly(t, b, want.String())
			werr := writeAsync(b, want.Bytes())
			readExactly(t, a, want.String())
			if err := <-werr; err != nil {
				t.Fatal(err)
			}
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Faults switched while traffic flows must not race or wedge, and every
// written byte is either delivered or counted as swallowed.
func TestFaultsSwitchUnderTraffic(t *testing.T) {
	x, b := tcpPair(t)
	a := New(x, nil)
	drained := make(chan int64, 1)
	go func() {
		n, _ := io.Copy(io.Discard, b)
		drained <- n
	}()
	stop := make(chan struct{})
	toggled := make(chan struct{})
	go func() {
		defer close(toggled)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			switch i % 5 {
			case 0:
				a.BlackHole()
			case 1:
				a.Restore()
			case 2:
				a.Delay(Outbound, 0, 50*time.Microsecond)
			case 3:
				a.DropAfter(Outbound, 1000)
			case 4:
				a.ClearFaults()
			}
			_ = a.Faults()
			_ = a.Stats()
		}
	}()
	const writes, size = 2000, 100
	chunk := make([]byte, size)
	for range writes {
		if _, err := a.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	<-toggled
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	got := <-drained
	s := a.Stats()
	if s.Out+s.OutSwallowed != writes*size || s.Out != got {
		t.Fatalf("Stats = %+v, peer got %d; want %d accounted for", s, got, writes*size)
	}
}

// discardConn is a free net.Conn, so the benchmark sees only the wrapper.
type discardConn struct{ net.Conn }

func (discardConn) Read(p []byte) (int, error)  { return len(p), nil }
func (discardConn) Write(p []byte) (int, error) { return len(p), nil }

func BenchmarkConnPassthrough(b *testing.B) {
	buf := make([]byte, 4096)
	for _, bc := range []struct {
		name string
		conn net.Conn
	}{{"raw", discardConn{}}, {"faultnet", New(discardConn{}, nil)}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(2 * len(buf)))
			for b.Loop() {
				bc.conn.Write(buf)
				bc.conn.Read(buf)
			}
		})
	}
}

// A black-holed socket never learns that the peer went away: the peer's
// FIN (or RST) is lost on the dead path like every other byte.
func TestBlackHoleHidesPeerClose(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := New(raw, nil)
	defer c.Close()
	peer := <-accepted
	c.BlackHole()
	peer.Close()
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	_, err = c.Read(make([]byte, 16))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read on a black-holed conn after the peer closed: %v, want a timeout", err)
	}
	// A local Close still ends a blocked read at once.
	c.SetReadDeadline(time.Time{})
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 16))
		done <- err
	}()
	c.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after local Close: %v", err)
	}
}
