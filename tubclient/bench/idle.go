package bench

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"time"

	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/internal/parallel"
)

const targetIdleBytes = 32 << 10

// idle is row 5: memory and goroutines per idle broker, sized to the
// open-file limit (sizeIdle). In process, both ends of every connection
// hold a descriptor here, so n connections need 2n; when that does not fit
// the clients move to a child process (this binary's bench-peer) and only
// the server side is measured. A test binary cannot re-execute itself that
// way, so there n is capped instead.
func (r *runner) idle(ctx context.Context) error {
	sz := r.idleSz
	if !sz.measurable() {
		r.table.note("%s", sz.note())
		return notMeasuredError{sz}
	}
	if note := sz.note(); note != "" {
		r.table.note("%s", note)
	}
	n := sz.n
	if !sz.children {
		return r.idleInProcess(ctx, n, sz.where)
	}
	res, err := idleCostServer(ctx, n, r.peer)
	if err != nil {
		return fmt.Errorf("idle: %w", err)
	}
	t := r.table
	t.add(RowIdle, fmt.Sprintf("memory per idle broker (%d brokers, server side)", res.Brokers),
		fmt.Sprintf("%.1f KiB", res.BytesPerBroker/1024), fmt.Sprintf("≤ %d KiB", targetIdleBytes>>10),
		verdictAtMost(res.BytesPerBroker/1024, targetIdleBytes>>10, " KiB"))
	t.add(RowIdle, "goroutines per idle broker (server side)", fmt.Sprintf("%.2f", res.GoroutinesPerBroker), "", "")
	t.note("row 5: one server tub in this process and %d client tubs in a child process (tubscope %s), because "+
		"both ends in one process would need 2×%d+%d descriptors, over RLIMIT_NOFILE %d; one connection per client "+
		"(getReference + one ping, then idle, no keepalives). The server's live heap + stacks after GC and its "+
		"goroutines, minus the same before the clients connected, divided by its %d brokers: server side only, the "+
		"clients' cost is not counted. Kernel socket buffers are not counted.",
		res.Brokers, PeerCommand, n, sz.reserve, r.fds, res.Brokers)
	return nil
}

// idleInProcess measures n connections with both ends in this process;
// why says why in process, for the note.
func (r *runner) idleInProcess(ctx context.Context, n int, why string) error {
	res, err := IdleCost(ctx, n)
	if err != nil {
		return fmt.Errorf("idle: %w", err)
	}
	t := r.table
	t.add(RowIdle, fmt.Sprintf("memory per idle broker (%d connections, %d brokers, both ends)", res.Connections, 2*res.Connections),
		fmt.Sprintf("%.1f KiB", res.BytesPerBroker/1024), fmt.Sprintf("≤ %d KiB", targetIdleBytes>>10),
		verdictAtMost(res.BytesPerBroker/1024, targetIdleBytes>>10, " KiB"))
	t.add(RowIdle, "goroutines per idle broker", fmt.Sprintf("%.2f", res.GoroutinesPerBroker), "", "")
	t.note("row 5: both ends in this process (%s): %d servers × %d clients, one connection per pair "+
		"(getReference + one ping, then idle, no keepalives); live heap + stacks after GC, minus the same with the "+
		"tubs started but unconnected, divided by the brokers at both ends (2 per connection: one per tub). Kernel "+
		"socket buffers are not counted.", why, res.Servers, res.Clients)
	return nil
}

// IdleResult is what IdleCost measured.
type IdleResult struct {
	Connections, Servers, Clients int
	BytesPerBroker                float64 // both ends counted, divided by 2×Connections
	GoroutinesPerBroker           float64
}

// IdleCost opens n connections between a grid of loopback tubs and
// measures what they cost once idle.
func IdleCost(ctx context.Context, n int) (IdleResult, error) {
	clients := int(math.Ceil(math.Sqrt(float64(n))))
	servers := (n + clients - 1) / clients
	res := IdleResult{Connections: n, Servers: servers, Clients: clients}
	var tubs []*tubclient.Tub
	defer func() {
		for _, t := range tubs {
			t.Close()
		}
	}()
	furls := make([]string, servers)
	for i := range furls {
		t, furl, err := startMaster(tubclient.Config{})
		if err != nil {
			return res, err
		}
		tubs = append(tubs, t)
		furls[i] = furl
	}
	cs := make([]*tubclient.Tub, clients)
	for i := range cs {
		t, err := tubclient.New(tubclient.Config{NegotiationTimeout: 30 * time.Second})
		if err != nil {
			return res, err
		}
		tubs = append(tubs, t)
		cs[i] = t
	}
	before := memInUse()
	g0 := runtime.NumGoroutine()
	err := parallel.Each(ctx, n, setupParallel, func(ctx context.Context, i int) error {
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		_, err := callOnce(cctx, cs[i%clients], furls[i/clients])
		return err
	})
	if err != nil {
		return res, err
	}
	after := memInUse()
	g1 := runtime.NumGoroutine()
	brokers := float64(2 * n)
	res.BytesPerBroker = (float64(after) - float64(before)) / brokers
	res.GoroutinesPerBroker = float64(g1-g0) / brokers
	return res, nil
}
