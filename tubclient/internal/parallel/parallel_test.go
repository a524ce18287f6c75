package parallel

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
)

func TestEachRunsAllWithinTheLimit(t *testing.T) {
	var running, peak, done atomic.Int64
	err := Each(context.Background(), 200, 7, func(_ context.Context, i int) error {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		done.Add(1)
		running.Add(-1)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if done.Load() != 200 || peak.Load() > 7 {
		t.Fatalf("ran %d of 200, at most %d at once (limit 7)", done.Load(), peak.Load())
	}
}

func TestEachStopsAtTheFirstError(t *testing.T) {
	boom := errors.New("boom")
	var started atomic.Int64
	err := Each(context.Background(), 1000, 1, func(ctx context.Context, i int) error {
		started.Add(1)
		if i == 3 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Each = %v, want boom", err)
	}
	if n := started.Load(); n > 5 {
		t.Fatalf("%d steps started after the error at step 3", n)
	}
}

func TestEachReportsACancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := 0
	err := Each(ctx, 10, 2, func(context.Context, int) error { calls++; return nil })
	if !errors.Is(err, context.Canceled) || calls != 0 {
		t.Fatalf("Each on a cancelled context = %v after %d calls", err, calls)
	}
}
