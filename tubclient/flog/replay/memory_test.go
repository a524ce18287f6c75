package replay

import (
	"context"
	"io"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/tubscope/tubscope/tubclient/flog"
	"github.com/tubscope/tubscope/tubclient/flog/reconstruct"
)

// heapPeak samples the live heap until stopped and reports the highest.
type heapPeak struct {
	stop chan struct{}
	done chan uint64
}

func watchHeap() *heapPeak {
	runtime.GC()
	h := &heapPeak{stop: make(chan struct{}), done: make(chan uint64, 1)}
	go func() {
		var peak uint64
		var ms runtime.MemStats
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-h.stop:
				h.done <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return h
}

func (h *heapPeak) Stop() uint64 {
	close(h.stop)
	return <-h.done
}

// replayGenerated replays size bytes generated from the master log,
// streamed and never stored, and returns the events and peak heap.
func replayGenerated(tb testing.TB, size int64, opts reconstruct.Options) (events int64, peak uint64, took time.Duration) {
	m, _ := runs.Get(tb)
	header, template := readEvents(tb, m.FlogFile)
	gen := newGenerator(tb, header, template, m.Client, size)
	r, err := flog.NewReader(gen, "generated.flog")
	if err != nil {
		tb.Fatal(err)
	}
	var mu sync.Mutex
	var lineErrs int
	watch := watchHeap()
	start := time.Now()
	err = writeJSONFrom(context.Background(), []*flog.Reader{r}, io.Discard, func(error) {
		mu.Lock()
		lineErrs++
		mu.Unlock()
	}, opts)
	took = time.Since(start)
	peak = watch.Stop()
	if err != nil || lineErrs > 0 {
		tb.Fatalf("replay: %v, %d bad lines", err, lineErrs)
	}
	if gen.produced < size {
		tb.Fatalf("generated %d bytes of %d", gen.produced, size)
	}
	return gen.events, peak, took
}

// TestReplayMemoryIsBounded streams generated logs through the replay,
// never stored: a small file, then one five times larger (200 MB, or
// 40 MB under the race detector; BenchmarkReplay1GB does 1 GB). Lines are
// read one at a time and every table is capped, so once the caps are
// reached (a low peer cap here, so that happens early) the heap grows
// far slower than the file: under 64 MiB, and under four times the heap
// for a fifth of the file.
func TestReplayMemoryIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 240 MB")
	}
	size := int64(200 << 20)
	if raceEnabled {
		size = 40 << 20
	}
	opts := reconstruct.Options{MaxPeers: 200}
	_, small, _ := replayGenerated(t, size/5, opts)
	events, peak, took := replayGenerated(t, size, opts)
	t.Logf("%d MB: %d events in %v, peak heap %.1f MiB (%.1f MiB for a fifth of it)",
		size>>20, events, took, float64(peak)/(1<<20), float64(small)/(1<<20))
	if peak > 64<<20 || peak > small*4 {
		t.Errorf("peak heap %.1f MiB for %d MB against %.1f MiB for a fifth of it: memory grows with the file",
			float64(peak)/(1<<20), size>>20, float64(small)/(1<<20))
	}
}
