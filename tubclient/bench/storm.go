package bench

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/faultnet"
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

// storm is row 4: N clients of one master restart silently at once.
func (r *runner) storm(ctx context.Context) error {
	n := r.o.N
	master, furl, err := startMaster(tubclient.Config{})
	if err != nil {
		return err
	}
	defer master.Close()
	path := faultnet.NewPath(nil)
	dial := (&faultnet.Dialer{Path: path}).DialContext
	clients := make([]*tubclient.Tub, n)
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.Close()
			}
		}
	}()
	err = each(ctx, n, setupParallel, func(ctx context.Context, i int) error {
		id, err := slaveOf(master.TubID())
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
		return fmt.Errorf("storm setup: %w", err)
	}

	watch := watchBrokers(master)
	watch.start()
	peaks := startPeakSampler(50 * time.Millisecond)
	path.BlackHoleAll()
	t0 := time.Now()
	var (
		wg      sync.WaitGroup
		rejects atomic.Int64
		failed  atomic.Int64
		lastMu  sync.Mutex
		last    time.Duration
		lastErr error
	)
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Restart(true); err != nil {
				failed.Add(1)
				return
			}
			_, rej, err := recoverCall(ctx, c, furl, stormBound, stormRetry)
			rejects.Add(int64(rej))
			back := time.Since(t0)
			lastMu.Lock()
			defer lastMu.Unlock()
			if err != nil {
				failed.Add(1)
				lastErr = err
				return
			}
			last = max(last, back)
		}()
	}
	wg.Wait()
	inUse, sys := peaks.Stop()
	flaps, replacements, refused, dropped := watch.finish()

	t := r.table
	budget := time.Duration(0)
	if r.negRate > 0 {
		budget = time.Duration(2 * float64(n) / r.negRate * float64(time.Second))
	}
	verdict := verdictAtMost(float64(last)/1e6, float64(budget)/1e6, " ms")
	if failed.Load() > 0 {
		verdict = fmt.Sprintf("gap: %d of %d never came back within %s (%v)", failed.Load(), n, stormBound, lastErr)
	}
	t.add(RowStorm, fmt.Sprintf("%d clients back (first successful call each)", n-int(failed.Load())),
		ms(last), fmt.Sprintf("≤ 2N/rate = %s", ms(budget)), verdict)
	t.add(RowStorm, "flaps (a peer's broker replaced twice or more)", fmt.Sprintf("%d (of %d replacements)", flaps, replacements),
		"0", verdictAtMost(float64(flaps), 0, ""))
	t.add(RowStorm, "rejected offers (client-side / master-side)", fmt.Sprintf("%d / %d", rejects.Load(), refused), "", "")
	t.add(RowStorm, "peak heap+stacks in use / Go Sys", fmt.Sprintf("%s / %s", mib(inUse), mib(sys)), "", "")
	t.note("row 4: %d Go client tubs (slaves) of one in-process tubscope master (foolscap policy), all in this process; "+
		"their path is black-holed and each restarts silently (Restart(true): new incarnation, old sockets left open) "+
		"at once, then retries every %s until a ping succeeds. Memory peaks are sampled every 50 ms during the storm; "+
		"the process's VmHWM so far is %s (all rows, both ends).", n, stormRetry, mib(vmHWM()))
	if dropped > 0 {
		t.note("row 4: the master's event feed overflowed (%d events lost): flaps and refusals are lower bounds", dropped)
	}
	return nil
}
