package tubclient

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient/faultnet"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// benchTub starts a loopback tub for a benchmark and closes it afterwards.
func benchTub(b *testing.B, cfg Config, listen bool) *Tub {
	b.Helper()
	t, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { t.Close() })
	if listen {
		if _, err := t.Listen("tcp:127.0.0.1:0"); err != nil {
			b.Fatal(err)
		}
	}
	return t
}

// benchSlave makes a client tub that is slave to master, so master makes
// every decision.
func benchSlave(b *testing.B, master string, kex KeyExchange) *Tub {
	b.Helper()
	id, err := IdentityWhere(func(id string) bool { return negotiation.IsMaster(master, id) })
	if err != nil {
		b.Fatal(err)
	}
	return benchTub(b, Config{Identity: id, KeyExchange: kex}, false)
}

// BenchmarkNegotiation measures whole negotiations over loopback: each op
// is TCP connect, prelude, TLS 1.3 with P-256 certificates at both ends,
// hellos, the master's decision and getReference on a fresh connection,
// after which the client drops the broker so the next op dials again and
// neither tub's tables grow. 2×GOMAXPROCS client tubs run at once. The
// server has the default configuration; the clients' key exchange picks
// the TLS group (x25519 is what Foolscap negotiates).
func BenchmarkNegotiation(b *testing.B) {
	for _, kex := range KeyExchanges() {
		b.Run(kex, func(b *testing.B) { benchNegotiation(b, KeyExchange(kex)) })
	}
}

func benchNegotiation(b *testing.B, kex KeyExchange) {
	server := benchTub(b, Config{}, true)
	furl, err := server.Register("svc", echoService())
	if err != nil {
		b.Fatal(err)
	}
	conc := 2 * runtime.GOMAXPROCS(0)
	clients := make([]*Tub, conc)
	for i := range clients {
		clients[i] = benchSlave(b, server.TubID(), kex)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				ref, err := c.GetReference(ctx, furl)
				if err != nil {
					failed.CompareAndSwap(nil, err)
					return
				}
				if err := c.DropBroker(ref.Broker().ID()); err != nil {
					failed.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "neg/s")
}

// BenchmarkPingPong measures one keepalive PING and its PONG over a live
// broker pair. Both tubs are in this process, so the allocations counted
// are both ends': our PING, the peer answering it, and our PONG handling
// (no events: routine keepalives only update counters).
func BenchmarkPingPong(b *testing.B) {
	server := benchTub(b, Config{}, true)
	furl, err := server.Register("svc", echoService())
	if err != nil {
		b.Fatal(err)
	}
	client := benchSlave(b, server.TubID(), "")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ref, err := client.GetReference(ctx, furl)
	if err != nil {
		b.Fatal(err)
	}
	br := ref.Broker()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		br.sendPing(time.Now())
		// The reader zeroes the count when the PONG arrives.
		for br.pings.Load() != 0 {
			select {
			case <-br.Done():
				b.Fatal("broker closed during the benchmark")
			default:
			}
			runtime.Gosched()
		}
	}
}

// BenchmarkIdleBroker measures what an idle broker costs: 1,000
// connections between a grid of loopback tubs (40 servers × 25 clients, one
// connection per pair, getReference then idle, no keepalives). Memory is
// live heap plus stacks after GC, counted at both ends and divided by the
// 2,000 brokers (one per end); the tubs' own cost is in the baseline.
func BenchmarkIdleBroker(b *testing.B) {
	const servers, clients = 40, 25
	var perBroker, goroutinesPer float64
	// Each op opens and closes the whole grid, so its time is setup cost.
	for range b.N {
		perBroker, goroutinesPer = idleGrid(b, servers, clients)
	}
	b.ReportMetric(perBroker, "B/broker")
	b.ReportMetric(2*perBroker, "B/conn")
	b.ReportMetric(goroutinesPer, "goroutines/broker")
}

func idleGrid(b *testing.B, servers, clients int) (bytesPerBroker, goroutinesPerBroker float64) {
	var tubs []*Tub
	defer func() {
		for _, t := range tubs {
			t.Close()
		}
	}()
	furls := make([]string, servers)
	for i := range furls {
		t, err := New(Config{})
		if err != nil {
			b.Fatal(err)
		}
		tubs = append(tubs, t)
		if _, err := t.Listen("tcp:127.0.0.1:0"); err != nil {
			b.Fatal(err)
		}
		if furls[i], err = t.Register("svc", echoService()); err != nil {
			b.Fatal(err)
		}
	}
	cs := make([]*Tub, clients)
	for i := range cs {
		t, err := New(Config{})
		if err != nil {
			b.Fatal(err)
		}
		tubs = append(tubs, t)
		cs[i] = t
	}
	before := liveBytes()
	g0 := runtime.NumGoroutine()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	var failed atomic.Value
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, furl := range furls {
				if _, err := c.GetReference(ctx, furl); err != nil {
					failed.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	after := liveBytes()
	g1 := runtime.NumGoroutine()
	brokers := float64(2 * servers * clients)
	return (float64(after) - float64(before)) / brokers, float64(g1-g0) / brokers
}

// liveBytes is live heap plus goroutine stacks after a full collection.
func liveBytes() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc + ms.StackInuse
}

// BenchmarkSnapshot10k is the cost of publishing a snapshot of a tub
// holding 10,000 live brokers (fake ones: publishing reads the same fields
// whatever is behind the socket). The inspector never waits for it: it
// reads the published pointer.
func BenchmarkSnapshot10k(b *testing.B) {
	tub, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tub.Close() }) // after fakeBrokers' cleanup
	fakeBrokers(b, tub, 10000)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if s := tub.Snapshot(); len(s.Brokers) != 10000 {
			b.Fatalf("%d brokers", len(s.Brokers))
		}
	}
}

// fakeBrokers fills tub with n live brokers on sockets that do nothing.
func fakeBrokers(b *testing.B, tub *Tub, n int) {
	now := time.Now()
	_ = tub.do(func(st *state) {
		for i := range n {
			peer := fmt.Sprintf("%032d", i)
			br := &Broker{t: tub, id: uint64(i + 1), raw: faultnet.New(nil, nil), peer: peer,
				state: snapshot.Live, role: snapshot.Master, side: snapshot.Server, opened: now, attached: now,
				remote: "127.0.0.1:40000", peerIncarnation: "0123456789abcdef", seq: 1}
			br.lastRx.Store(now.UnixNano())
			st.brokers[br.id] = br
			st.byPeer[br.peer] = br
			st.peer(br.peer).incarnations = []snapshot.IncarnationSeen{{Incarnation: "0123456789abcdef", FirstSeen: now}}
		}
	})
	b.Cleanup(func() {
		_ = tub.do(func(st *state) { clear(st.brokers); clear(st.byPeer) })
	})
}

// BenchmarkDecisionWait10k is how long an offer waits for the state
// goroutine of a tub holding 10,000 brokers while decisions keep changing
// its state, with and without an inspector reading published snapshots.
// The wait is what every decision pays before its policy runs.
func BenchmarkDecisionWait10k(b *testing.B) {
	for _, watched := range []bool{false, true} {
		name := "no-inspector"
		if watched {
			name = "inspector"
		}
		b.Run(name, func(b *testing.B) {
			tub, err := New(Config{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { tub.Close() }) // after fakeBrokers' cleanup
			fakeBrokers(b, tub, 10000)
			stop := make(chan struct{})
			var wg sync.WaitGroup
			// Churn: a decision's worth of change every 5 ms.
			wg.Add(1)
			go func() {
				defer wg.Done()
				tick := time.NewTicker(5 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
						tub.post(func(st *state) { st.changed = true })
					}
				}
			}()
			if watched {
				// The inspector: a frame every 250 ms and on events, reading
				// the published pointer.
				wg.Add(1)
				go func() {
					defer wg.Done()
					tick := time.NewTicker(50 * time.Millisecond)
					defer tick.Stop()
					for {
						select {
						case <-stop:
							return
						case <-tick.C:
							if s := tub.Published(); s == nil {
								panic("no snapshot")
							}
						}
					}
				}()
			}
			waits := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				_ = tub.do(func(*state) {})
				waits = append(waits, time.Since(t0))
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			close(stop)
			wg.Wait()
			slices.Sort(waits)
			b.ReportMetric(float64(waits[len(waits)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(waits[len(waits)*99/100].Microseconds()), "p99-µs")
			b.ReportMetric(float64(waits[len(waits)-1].Microseconds()), "max-µs")
		})
	}
}
