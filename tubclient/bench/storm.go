package bench

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/faultnet"
	"github.com/tubscope/tubscope/tubclient/internal/parallel"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

const (
	stormRetry    = 200 * time.Millisecond
	stormBound    = 2 * time.Minute
	setupParallel = 64
)

// brokerWatch counts, from a master's event stream, how often each peer's
// broker was replaced and how many offers were refused.
type brokerWatch struct {
	sub      *tubclient.Subscription
	stop     chan struct{}
	done     chan struct{}
	mu       sync.Mutex
	replaced map[string]int
	refused  int
	counting bool
}

func watchBrokers(t *tubclient.Tub) *brokerWatch {
	w := &brokerWatch{sub: t.Subscribe(1 << 17), stop: make(chan struct{}), done: make(chan struct{}),
		replaced: map[string]int{}}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.sub.Changed():
				w.take()
			case <-w.stop:
				w.take()
				return
			}
		}
	}()
	return w
}

func (w *brokerWatch) take() {
	evs := w.sub.Drain(0)
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.counting {
		return
	}
	for _, ev := range evs {
		switch {
		case ev.Kind == snapshot.KindBrokerDetached && strings.HasPrefix(ev.Reason, "replaced"):
			w.replaced[ev.PeerTubID]++
		case ev.Kind == snapshot.KindVerdict && ev.Accept != nil && !*ev.Accept:
			w.refused++
		}
	}
}

// start begins counting, discarding what came before.
func (w *brokerWatch) start() {
	w.take()
	w.mu.Lock()
	w.counting = true
	w.mu.Unlock()
}

// finish stops the watch and returns the peers replaced more than once,
// the replacements, the refused offers and the events lost to overflow.
func (w *brokerWatch) finish() (flaps, replacements, refused int, dropped uint64) {
	close(w.stop)
	<-w.done
	w.sub.Close()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, n := range w.replaced {
		replacements += n
		if n > 1 {
			flaps++
		}
	}
	return flaps, replacements, w.refused, w.sub.Dropped()
}

// stormResult is what one reconnect storm measured.
type stormResult struct {
	n, failed        int
	last             time.Duration // trigger to the last client's first successful call
	lastErr          string
	rejects, refused int // client-side, master-side
	flaps, replaced  int
	dropped          uint64
	inUse, sys       uint64 // this process's peaks during the storm
	childHWM         []uint64
}

// storm is row 4: N clients of one master restart silently at once,
// sized to the open-file limit (sizeStorm): in this process when they
// fit, else in child processes (this binary's bench-peer --mode storm),
// each holding as many as its own limit fits.
func (r *runner) storm(ctx context.Context) error {
	sz := r.stormSz
	if !sz.measurable() {
		r.table.note("%s", sz.note())
		return notMeasuredError{sz}
	}
	if note := sz.note(); note != "" {
		r.table.note("%s", note)
	}
	n := sz.n
	if !sz.children {
		res, err := stormInProcess(ctx, n)
		if err != nil {
			return err
		}
		r.reportStorm(res)
		r.table.note("row 4: %d Go client tubs (slaves) of one in-process tubscope master (foolscap policy), all in this process; "+
			"their path is black-holed and each restarts silently (Restart(true): new incarnation, old sockets left open) "+
			"at once, then retries every %s until a ping succeeds. Memory peaks are sampled every 50 ms during the storm; "+
			"the process's VmHWM so far is %s (all rows, both ends).", n, stormRetry, mib(vmHWM()))
		return nil
	}
	res, err := stormChildren(ctx, n, sz.perChild, r.peer)
	if err != nil {
		return err
	}
	r.reportStorm(res)
	hwm := make([]string, len(res.childHWM))
	for i, b := range res.childHWM {
		hwm[i] = mib(b)
	}
	r.table.note("row 4: %d Go client tubs (slaves) in %d child processes (tubscope %s --mode storm, at most %d each so "+
		"that live and black-holed sockets fit RLIMIT_NOFILE %d) of one tubscope master (foolscap policy) in this process. "+
		"On one \"storm\" line to every child's stdin, each child black-holes its clients' path and restarts them "+
		"silently at once (Restart(true): new incarnation, old sockets left open), then each retries every %s until a "+
		"ping succeeds. Time until all back is this process's trigger time plus, per child, the delay until it read "+
		"the line (same machine clock) plus its slowest client's recovery counted from that read. Rejections: client "+
		"side counted by the children, master side from this master's verdicts. Memory peaks are this process's (the "+
		"master's) sampled every 50 ms during the storm, its VmHWM so far %s; the children's peak RSS (VmHWM) is %s.",
		n, len(res.childHWM), PeerCommand, sz.perChild, r.fds, stormRetry, mib(vmHWM()), strings.Join(hwm, ", "))
	return nil
}

// reportStorm adds row 4's lines.
func (r *runner) reportStorm(res stormResult) {
	t := r.table
	budget := time.Duration(0)
	if r.negRate > 0 {
		budget = time.Duration(2 * float64(res.n) / r.negRate * float64(time.Second))
	}
	verdict := verdictAtMost(float64(res.last)/1e6, float64(budget)/1e6, " ms")
	if res.failed > 0 {
		verdict = fmt.Sprintf("gap: %d of %d never came back within %s (%s)", res.failed, res.n, stormBound, res.lastErr)
	}
	t.add(RowStorm, fmt.Sprintf("%d clients back (first successful call each)", res.n-res.failed),
		ms(res.last), fmt.Sprintf("≤ 2N/rate = %s", ms(budget)), verdict)
	t.add(RowStorm, "flaps (a peer's broker replaced twice or more)", fmt.Sprintf("%d (of %d replacements)", res.flaps, res.replaced),
		"0", verdictAtMost(float64(res.flaps), 0, ""))
	t.add(RowStorm, "rejected offers (client-side / master-side)", fmt.Sprintf("%d / %d", res.rejects, res.refused), "", "")
	t.add(RowStorm, "peak heap+stacks in use / Go Sys", fmt.Sprintf("%s / %s", mib(res.inUse), mib(res.sys)), "", "")
	if res.dropped > 0 {
		t.note("row 4: the master's event feed overflowed (%d events lost): flaps and refusals are lower bounds", res.dropped)
	}
}

// stormClients opens n client tubs, each a slave of the master named in
// furl dialing through path, with one successful call each.
func stormClients(ctx context.Context, furl string, n int, path *faultnet.Path) ([]*tubclient.Tub, error) {
	f, err := tubclient.ParseFURL(furl)
	if err != nil {
		return nil, err
	}
	dial := (&faultnet.Dialer{Path: path}).DialContext
	clients := make([]*tubclient.Tub, n)
	err = parallel.Each(ctx, n, setupParallel, func(ctx context.Context, i int) error {
		id, err := slaveOf(f.TubID)
		if err != nil {
			return err
		}
		c, err := tubclient.New(tubclient.Config{Identity: id, Dial: dial, NegotiationTimeout: 30 * time.Second})
		if err != nil {
			return err
		}
		clients[i] = c
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		_, err = callOnce(cctx, c, furl)
		return err
	})
	if err != nil {
		closeTubs(clients)
		return nil, err
	}
	return clients, nil
}

// stormOutcome is the clients' side of one storm.
type stormOutcome struct {
	ok, failed int
	last       time.Duration // the slowest client's recovery, from the trigger
	rejects    int
	lastErr    error
}

// restartAll black-holes path and restarts every client silently at once;
// each then retries until its first successful call. Times count from t0.
func restartAll(ctx context.Context, clients []*tubclient.Tub, furl string, path *faultnet.Path, t0 time.Time) stormOutcome {
	path.BlackHoleAll()
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		out stormOutcome
	)
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := c.Restart(true)
			rej := 0
			if err == nil {
				_, rej, err = recoverCall(ctx, c, furl, stormBound, stormRetry)
			}
			back := time.Since(t0)
			mu.Lock()
			defer mu.Unlock()
			out.rejects += rej
			if err != nil {
				out.failed++
				out.lastErr = err
				return
			}
			out.ok++
			out.last = max(out.last, back)
		}()
	}
	wg.Wait()
	return out
}

// stormInProcess runs the storm with the master and its n clients all in
// this process.
func stormInProcess(ctx context.Context, n int) (stormResult, error) {
	res := stormResult{n: n}
	master, furl, err := startMaster(tubclient.Config{})
	if err != nil {
		return res, err
	}
	defer master.Close()
	path := faultnet.NewPath(nil)
	clients, err := stormClients(ctx, furl, n, path)
	if err != nil {
		return res, fmt.Errorf("storm setup: %w", err)
	}
	defer closeTubs(clients)

	watch := watchBrokers(master)
	watch.start()
	peaks := startPeakSampler(50 * time.Millisecond)
	out := restartAll(ctx, clients, furl, path, time.Now())
	res.inUse, res.sys = peaks.Stop()
	res.flaps, res.replaced, res.refused, res.dropped = watch.finish()
	res.failed, res.last, res.rejects = out.failed, out.last, out.rejects
	if out.lastErr != nil {
		res.lastErr = out.lastErr.Error()
	}
	return res, nil
}
