package flogapp

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/banana"
	"github.com/tubscope/tubscope/tubclient/flog"
	"github.com/tubscope/tubscope/tubclient/flog/reconstruct"
	"github.com/tubscope/tubscope/tubclient/logport"
	"github.com/tubscope/tubscope/tubclient/snapshot"
	"github.com/tubscope/tubscope/tubclient/snapshot/feed"
)

// WatchedReadOnly is why connection actions do not apply to a watched tub.
const WatchedReadOnly = "a watched tub: tubscope only reads its log"

// WatchOptions configure a watched logport. Zero values take the defaults.
type WatchOptions struct {
	// Name labels the source in the tub switcher; by default it comes from
	// the target: a node directory's or file's name, or the FURL's tubid.
	Name string
	// Queue bounds the events received and not yet reconstructed
	// (65,536); beyond it the newest are dropped and counted.
	Queue int
	// PublishEvery is the least time between two published snapshots
	// (100 ms): at most ten a second, and only when something changed.
	PublishEvery time.Duration
	Reconstruct  reconstruct.Options
}

func (o *WatchOptions) defaults() {
	if o.Queue <= 0 {
		o.Queue = 1 << 16
	}
	if o.PublishEvery <= 0 {
		o.PublishEvery = 100 * time.Millisecond
	}
}

// WatchStats count what a watched source did with its input.
type WatchStats struct {
	Received  uint64 // events the logport delivered
	Dropped   uint64 // events dropped because a queue was full
	Bad       uint64 // events that were not log events
	Applied   uint64 // events reconstructed
	Published uint64 // snapshots published
	MaxQueued int    // the deepest the queue has been
}

// Watched is a remote tub seen through its logport: the events it logs
// are reconstructed into its tables and decision log. The logport's
// goroutine only queues events (a bounded queue; overflow is dropped and
// counted), one goroutine of the Watched's own reconstructs them, and a
// new immutable snapshot is published at most every PublishEvery and
// only when something changed, so however fast the publisher talks, a
// reader of Snapshot is never held up and never sees more than ten new
// snapshots a second.
type Watched struct {
	opts   WatchOptions
	name   string
	cancel context.CancelFunc
	wg     sync.WaitGroup

	snap atomic.Pointer[snapshot.Snapshot]
	hub  feed.Hub

	mu        sync.Mutex
	queue     []banana.Dict
	maxQueued int
	status    logport.Status
	hasStatus bool
	wake      chan struct{}
	// sub is the live subscription; subDropped what ended ones dropped.
	sub        *logport.Subscription
	subDropped uint64

	received, dropped, bad, applied, published atomic.Uint64

	// Owned by the reconstructing goroutine.
	rc           *reconstruct.Reconstructor
	rcVersion    uint64
	version      uint64
	lastPublish  time.Time
	lastStatus   string
	lastDropped  uint64
	activityLive bool // the last snapshot counted offers in its window
	// beforeBatch, when set by a test, runs before each batch is taken.
	beforeBatch func()
}

// Watch starts watching the logport at target (a FURL, a file holding
// one, or a node directory) through tub, until ctx ends or Close.
func Watch(ctx context.Context, tub *tubclient.Tub, target string, o WatchOptions) *Watched {
	if o.Name == "" {
		o.Name = TargetName(target)
	}
	w := newWatched(o)
	ctx = w.start(ctx)
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		w.follow(ctx, tub, target)
	}()
	return w
}

// newWatched makes a watched source that is fed by receive; start runs
// its reconstruction.
func newWatched(o WatchOptions) *Watched {
	o.defaults()
	w := &Watched{opts: o, name: o.Name, wake: make(chan struct{}, 1), rc: reconstruct.New(o.Reconstruct)}
	w.cancel = func() {}
	w.publish(time.Now(), w.statusText())
	return w
}

// start runs the reconstruction until the returned context ends: at
// Close, or when ctx does.
func (w *Watched) start(ctx context.Context) context.Context {
	ctx, w.cancel = context.WithCancel(ctx)
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		w.run(ctx)
	}()
	return ctx
}

// follow keeps a subscription to target alive until ctx ends, as
// logport.Watch does: the target is resolved afresh on every attempt (a
// restarted node may have a new port in its FURL file), catch-up is
// asked for on every connection (the reconstruction drops the events it
// has seen), and a lost logport is retried with Foolscap's backoff (1 s,
// ×e, at most an hour). It is written over logport.Subscribe rather than
// logport.Watch so the subscription's own queue, which fills if this
// process cannot keep up, is counted among the drops.
func (w *Watched) follow(ctx context.Context, tub *tubclient.Tub, target string) {
	delay, attempt := time.Second, 0
	for {
		furl, err := logport.ResolveTarget(target)
		var sub *logport.Subscription
		if err == nil {
			sub, err = logport.Subscribe(ctx, tub, furl, logport.SubscribeOptions{CatchUp: true}, w.receive)
		}
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			attempt, delay = 0, time.Second
			w.mu.Lock()
			w.sub = sub
			w.mu.Unlock()
			w.setStatus(logport.Status{Connected: true, PID: sub.PID, Versions: sub.Versions})
			<-sub.Done()
			w.mu.Lock()
			w.sub, w.subDropped = nil, w.subDropped+sub.Dropped()
			w.mu.Unlock()
			if ctx.Err() != nil {
				return
			}
			err = errors.New("the connection to the publisher ended")
		} else {
			attempt++
		}
		wait := jitter(delay)
		w.setStatus(logport.Status{Attempt: attempt, Retry: time.Now().Add(wait), Err: err})
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return
		}
		if attempt > 0 {
			delay = min(time.Duration(float64(delay)*math.E), time.Hour)
		}
	}
}

// jitter spreads retries as Foolscap's reconnector does (±12% normal).
func jitter(d time.Duration) time.Duration {
	return max(d+time.Duration(rand.NormFloat64()*0.1196*float64(d)), 0)
}

// TargetName is a short label for a logport target: a node directory's
// name ("storage1"), a FURL file's name without its extension, or
// "logport" and the tubid's first 8 characters for a FURL.
func TargetName(target string) string {
	if strings.HasPrefix(target, "pb://") {
		if f, err := tubclient.ParseFURL(target); err == nil {
			return "logport " + short(f.TubID)
		}
		return "logport"
	}
	base := filepath.Base(filepath.Clean(target))
	if base == "private" {
		base = filepath.Base(filepath.Dir(filepath.Clean(target)))
	}
	if ext := filepath.Ext(base); ext == ".furl" {
		base = strings.TrimSuffix(base, ext)
	}
	return base
}

// Snapshot is the newest published snapshot (never nil): Source kind
// watched, read-only, its Status saying how the logport connection
// stands, EventsDropped the events the queue had no room for.
func (w *Watched) Snapshot() *snapshot.Snapshot { return w.snap.Load() }

// Subscribe returns a bounded feed of the reconstructed events, and of
// the source's own status changes (kind source); when it is full the
// oldest are dropped and counted.
func (w *Watched) Subscribe(capacity int) *Feed { return w.hub.Subscribe(capacity) }

// Stats reports the counters.
func (w *Watched) Stats() WatchStats {
	w.mu.Lock()
	deepest := w.maxQueued
	w.mu.Unlock()
	return WatchStats{Received: w.received.Load(), Dropped: w.droppedTotal(), Bad: w.bad.Load(),
		Applied: w.applied.Load(), Published: w.published.Load(), MaxQueued: deepest}
}

// droppedTotal counts the events lost on the way: in this source's queue
// and in the subscriptions' own.
func (w *Watched) droppedTotal() uint64 {
	w.mu.Lock()
	n := w.subDropped
	if w.sub != nil {
		n += w.sub.Dropped()
	}
	w.mu.Unlock()
	return n + w.dropped.Load()
}

// Close stops watching and waits until the goroutines have ended. The
// last snapshot stays readable.
func (w *Watched) Close() {
	w.cancel()
	w.wg.Wait()
}

// receive queues one event from the logport: O(1), never blocking, so
// the subscription's goroutine keeps pace with the publisher.
func (w *Watched) receive(d logport.Event) {
	w.mu.Lock()
	if len(w.queue) >= w.opts.Queue {
		w.mu.Unlock()
		w.dropped.Add(1)
		return
	}
	w.queue = append(w.queue, d)
	w.maxQueued = max(w.maxQueued, len(w.queue))
	w.mu.Unlock()
	w.received.Add(1)
	w.signal()
}

func (w *Watched) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// setStatus notes how the logport connection stands; the operator sees
// it in the snapshot and, as it changes, as a source event.
func (w *Watched) setStatus(s logport.Status) {
	w.mu.Lock()
	w.status, w.hasStatus = s, true
	w.mu.Unlock()
	ev := snapshot.Event{Time: time.Now(), Kind: snapshot.KindSource}
	switch {
	case s.Connected:
		ev.Message = fmt.Sprintf("%s: logport connected (pid %d)", w.name, s.PID)
	default:
		ev.Message = w.name + ": " + s.String()
		if s.Err != nil {
			ev.Err = s.Err.Error()
		}
	}
	w.hub.Publish(ev)
	w.signal()
}

// statusText is Source.Status: empty while connected, else what the
// connection is doing, its retry counting down.
func (w *Watched) statusText() string {
	w.mu.Lock()
	s, ok := w.status, w.hasStatus
	w.mu.Unlock()
	switch {
	case !ok:
		return "connecting to the logport"
	case s.Connected:
		return ""
	}
	return s.String()
}

// take swaps the queue for spare and returns what was queued.
func (w *Watched) take(spare []banana.Dict) []banana.Dict {
	w.mu.Lock()
	defer w.mu.Unlock()
	batch := w.queue
	w.queue = spare[:0]
	return batch
}

// publishCheck is how many events are applied between looks at the
// clock, so a queue that never empties still publishes on time.
const publishCheck = 256

// run reconstructs queued events and publishes snapshots until ctx ends.
func (w *Watched) run(ctx context.Context) {
	var spare []banana.Dict
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if w.beforeBatch != nil {
			w.beforeBatch()
		}
		batch := w.take(spare)
		for i, d := range batch {
			w.apply(d)
			if i%publishCheck == publishCheck-1 {
				w.maybePublish(time.Now())
			}
		}
		n := len(batch)
		clear(batch) // the events are not kept past their reconstruction
		spare = batch[:0]
		wait := w.maybePublish(time.Now())
		if n > 0 {
			continue // look at the queue again before sleeping
		}
		if wait < 0 {
			wait = time.Hour
		}
		timer.Reset(wait)
		select {
		case <-w.wake:
		case <-timer.C:
		case <-ctx.Done():
			return
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// maxBadShown bounds the bad events reported one by one; the rest are
// counted.
const maxBadShown = 10

func (w *Watched) apply(d banana.Dict) {
	ev, err := flog.FromBanana(d)
	if err != nil {
		if w.bad.Add(1) <= maxBadShown {
			w.hub.Publish(snapshot.Event{Time: time.Now(), Kind: snapshot.KindSource,
				Err: "an event that is not a log event: " + err.Error()})
		}
		return
	}
	w.hub.Publish(w.rc.Apply(ev)...)
	w.applied.Add(1)
}

// Timing of the republishing done for time alone.
const (
	statusRefresh   = 500 * time.Millisecond // a retry's countdown
	activityRefresh = time.Second            // the rejects-per-minute window
)

// maybePublish publishes a snapshot if something changed and the last
// one is old enough; it returns how long to wait before looking again
// (-1: until woken).
func (w *Watched) maybePublish(now time.Time) time.Duration {
	text := w.statusText()
	since := now.Sub(w.lastPublish)
	changed := w.rc.Version() != w.rcVersion || text != w.lastStatus || w.droppedTotal() != w.lastDropped ||
		(w.activityLive && since >= activityRefresh)
	if changed && since >= w.opts.PublishEvery {
		w.publish(now, text)
		since = 0
	}
	wait := time.Duration(-1)
	later := func(d time.Duration) {
		if wait < 0 || d < wait {
			wait = d
		}
	}
	if changed && since < w.opts.PublishEvery {
		later(w.opts.PublishEvery - since)
	}
	if text != "" {
		later(statusRefresh) // a countdown ticks
	}
	if w.activityLive {
		later(max(activityRefresh-since, w.opts.PublishEvery-since, time.Millisecond))
	}
	return wait
}

func (w *Watched) publish(now time.Time, status string) {
	s := w.rc.Snapshot(now)
	w.version++
	s.Version, s.Taken = w.version, now
	w.lastDropped = w.droppedTotal()
	s.EventsDropped = w.lastDropped
	s.Source = snapshot.Source{Name: w.name, Kind: snapshot.SourceWatched, ReadOnly: WatchedReadOnly, Status: status}
	w.snap.Store(s)
	w.published.Add(1)
	w.rcVersion, w.lastStatus, w.lastPublish = w.rc.Version(), status, now
	w.activityLive = false
	for _, n := range s.Activity.Offers {
		if n > 0 {
			w.activityLive = true
			break
		}
	}
}
