package logport

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/banana"
)

// Event is one log event as a publisher sent it: Foolscap's event dict.
type Event = banana.Dict

// SubscribeOptions tune a subscription.
type SubscribeOptions struct {
	// CatchUp asks the publisher for the events it has buffered first.
	CatchUp bool
	// Queue bounds the events received and not yet handled (default
	// 65,536); beyond it the newest are dropped and counted.
	Queue int
}

// Subscription is a live subscription to one logport.
type Subscription struct {
	Versions map[string]string // the publisher's get_versions
	PID      int64             // its get_pid, 0 when it has none
	ref      *tubclient.RemoteReference
	sub      *tubclient.RemoteReference // the RISubscription
	obs      *observer
	done     chan struct{} // closed when the handler has seen the last event
}

// observer is our RILogObserver: msg answers at once and queues the event
// for the handler, so the publisher's calls never wait on us and the
// reader is never blocked.
type observer struct {
	mu      sync.Mutex
	queue   []Event
	limit   int
	wake    chan struct{}
	closed  bool
	dropped atomic.Uint64
	ended   atomic.Bool // the publisher said done()
}

// QuietCalls keeps the event stream free of one call event per log event.
func (o *observer) QuietCalls() bool { return true }

// RemoteInterfaceName is what Foolscap checks subscribe_to_all's observer for.
func (o *observer) RemoteInterfaceName() string { return ObserverInterface }

// RemoteCall serves the RILogObserver methods.
func (o *observer) RemoteCall(_ context.Context, method string, args []any, kwargs map[string]any) (any, error) {
	switch method {
	case "msg":
		d, ok := arg(args, kwargs, 0, "logmsg").(banana.Dict)
		if !ok {
			return nil, &tubclient.RemoteError{Type: "foolscap.tokens.Violation", Value: "msg(logmsg=) wants a dict"}
		}
		o.push(d)
		return nil, nil
	case "done":
		o.ended.Store(true)
		o.close()
		return nil, nil
	case "new_incident", "done_with_incident_catchup":
		return nil, nil
	}
	return nil, &tubclient.RemoteError{Type: "builtins.AttributeError",
		Value: fmt.Sprintf("RILogObserver has no method %s", method)}
}

func arg(args []any, kwargs map[string]any, pos int, name string) any {
	if v, ok := kwargs[name]; ok {
		return v
	}
	if pos < len(args) {
		return args[pos]
	}
	return nil
}

func (o *observer) push(d Event) {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return
	}
	if len(o.queue) >= o.limit {
		o.mu.Unlock()
		o.dropped.Add(1)
		return
	}
	o.queue = append(o.queue, d)
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *observer) close() {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// take waits for queued events; ok is false once closed and drained.
func (o *observer) take(buf []Event) ([]Event, bool) {
	for {
		o.mu.Lock()
		if len(o.queue) > 0 {
			buf = append(buf[:0], o.queue...)
			clear(o.queue)
			o.queue = o.queue[:0]
			o.mu.Unlock()
			return buf, true
		}
		closed := o.closed
		o.mu.Unlock()
		if closed {
			return nil, false
		}
		<-o.wake
	}
}

// Subscribe connects to the logport at furl, asks its pid and versions,
// and subscribes to all its events; handle runs for each, in order, on a
// goroutine of the subscription's own. The subscription ends when ctx
// ends (it then unsubscribes) or the connection is lost.
func Subscribe(ctx context.Context, tub *tubclient.Tub, furl string, o SubscribeOptions, handle func(Event)) (*Subscription, error) {
	if o.Queue <= 0 {
		o.Queue = 1 << 16
	}
	ref, err := tub.GetReference(ctx, furl)
	if err != nil {
		return nil, err
	}
	s := &Subscription{ref: ref, done: make(chan struct{}),
		obs: &observer{limit: o.Queue, wake: make(chan struct{}, 1)}}
	if v, err := ref.Call(ctx, "get_pid"); err == nil {
		s.PID, _ = v.(int64)
	}
	if v, err := ref.Call(ctx, "get_versions"); err == nil {
		s.Versions = stringMap(v)
	}
	args := []any{s.obs}
	if o.CatchUp {
		args = append(args, true)
	}
	v, err := ref.Call(ctx, "subscribe_to_all", args...)
	if err != nil {
		return nil, fmt.Errorf("subscribe_to_all: %w", err)
	}
	s.sub, _ = v.(*tubclient.RemoteReference)
	go s.deliver(handle)
	go func() {
		select {
		case <-ctx.Done():
			s.unsubscribe()
		case <-ref.Broker().Done():
		case <-s.done:
			return
		}
		s.obs.close()
	}()
	return s, nil
}

// deliver hands events to the handler until the subscription ends.
func (s *Subscription) deliver(handle func(Event)) {
	defer close(s.done)
	var buf []Event
	for {
		var ok bool
		buf, ok = s.obs.take(buf)
		if !ok {
			return
		}
		for _, e := range buf {
			handle(e)
		}
	}
}

// unsubscribe tells the publisher we are going, briefly.
func (s *Subscription) unsubscribe() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if s.sub != nil {
		s.sub.Call(ctx, "unsubscribe")
	}
}

// Done is closed once the subscription has ended and the last event has
// been handled.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Dropped counts events that arrived while the queue was full.
func (s *Subscription) Dropped() uint64 { return s.obs.dropped.Load() }

// Lost reports whether the connection to the publisher has gone.
func (s *Subscription) Lost() bool {
	select {
	case <-s.ref.Broker().Done():
		return true
	default:
		return false
	}
}

func stringMap(v any) map[string]string {
	d, ok := v.(banana.Dict)
	if !ok {
		return nil
	}
	out := make(map[string]string, len(d))
	for _, e := range d {
		out[text(e.Key)] = text(e.Value)
	}
	return out
}

func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}
