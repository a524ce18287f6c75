package logport

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/banana"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// Foolscap's publisher limits, kept so a tubscope logport behaves like one.
const (
	maxQueued   = 2000 // events queued per subscriber; newer ones are dropped
	maxInFlight = 10   // msg calls awaiting an answer per subscriber
	// catchUp is how many recent events a catching-up subscriber gets.
	catchUp = 1000
	// incidentTrailing is how long an incident keeps recording after its
	// trigger, as Foolscap's incident reporter does.
	incidentTrailing = 5 * time.Second
	maxIncidents     = 16
)

// PublisherOptions configure a logport.
type PublisherOptions struct {
	// FURLFile keeps the logport's FURL across restarts: read for its
	// swissnum when it names this tub, and (re)written with mode 0600.
	FURLFile string
	// Versions answer get_versions.
	Versions map[string]string
}

// Publisher is tubscope's own logport: it turns the tub's events into
// Foolscap log events and serves them to subscribers as Foolscap's
// LogPublisher does, incidents included.
type Publisher struct {
	tub      *tubclient.Tub
	furl     string
	versions map[string]string
	inc      string // this logger's incarnation
	feed     *tubclient.Subscription
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	mu        sync.Mutex
	num       int64
	recent    []banana.Dict // the newest catchUp events, oldest first
	subs      map[*subscription]struct{}
	incSubs   map[*subscription]struct{}
	incidents []*incident
	recording *incident   // an incident still taking trailing events
	timer     *time.Timer // files the recording incident

	dropped  atomic.Uint64
	trailing time.Duration // incidentTrailing; shorter in tests
}

type incident struct {
	name    string
	trigger banana.Dict
	header  banana.Dict
	events  []banana.Dict
}

// NewPublisher registers a logport on tub and starts publishing its events.
func NewPublisher(tub *tubclient.Tub, o PublisherOptions) (*Publisher, error) {
	swissnum, err := furlFileSwissnum(o.FURLFile, tub.TubID())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Publisher{tub: tub, versions: o.Versions, inc: newIncarnation(), ctx: ctx, cancel: cancel,
		subs: make(map[*subscription]struct{}), incSubs: make(map[*subscription]struct{}),
		trailing: incidentTrailing}
	if p.versions == nil {
		p.versions = map[string]string{"tubscope": "dev"}
	}
	p.furl, err = tub.Register(swissnum, p)
	if err != nil {
		cancel()
		return nil, err
	}
	if o.FURLFile != "" {
		if err := writeFURLFile(o.FURLFile, p.furl); err != nil {
			cancel()
			return nil, err
		}
	}
	p.feed = tub.Subscribe(8192)
	p.wg.Add(1)
	go p.pump()
	return p, nil
}

// FURL is the logport's FURL.
func (p *Publisher) FURL() string { return p.furl }

// Dropped counts events not delivered to a subscriber that was too slow.
func (p *Publisher) Dropped() uint64 { return p.dropped.Load() }

// Subscribers counts the live subscriptions to all events.
func (p *Publisher) Subscribers() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.subs)
}

// Close stops publishing.
func (p *Publisher) Close() {
	p.cancel()
	p.feed.Close()
	p.mu.Lock()
	if p.timer != nil && p.timer.Stop() {
		p.wg.Done() // its func will not run
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// RemoteInterfaceName declares RILogPublisher, as Foolscap's logport does.
func (p *Publisher) RemoteInterfaceName() string { return PublisherInterface }

// RemoteCall serves RILogPublisher.
func (p *Publisher) RemoteCall(_ context.Context, method string, args []any, kwargs map[string]any) (any, error) {
	switch method {
	case "get_versions":
		d := make(banana.Dict, 0, len(p.versions))
		keys := make([]string, 0, len(p.versions))
		for k := range p.versions {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			d = append(d, banana.DictEntry{Key: k, Value: p.versions[k]})
		}
		return d, nil
	case "get_pid":
		return int64(os.Getpid()), nil
	case "subscribe_to_all":
		obs, err := observerArg(args, kwargs)
		if err != nil {
			return nil, err
		}
		catch, _ := arg(args, kwargs, 1, "catch_up").(bool)
		return p.subscribe(obs, catch, false, ""), nil
	case "subscribe_to_incidents":
		obs, err := observerArg(args, kwargs)
		if err != nil {
			return nil, err
		}
		catch, _ := arg(args, kwargs, 1, "catch_up").(bool)
		return p.subscribe(obs, catch, true, text(arg(args, kwargs, 2, "since"))), nil
	case "unsubscribe":
		if s, ok := arg(args, kwargs, 0, "subscription").(*subscription); ok {
			s.stop()
		}
		return nil, nil
	case "list_incidents":
		since := text(arg(args, kwargs, 0, "since"))
		d := banana.Dict{}
		p.mu.Lock()
		for _, inc := range p.incidents {
			if inc.name > since {
				d = append(d, banana.DictEntry{Key: inc.name, Value: inc.trigger})
			}
		}
		p.mu.Unlock()
		return d, nil
	case "get_incident":
		name := text(arg(args, kwargs, 0, "incident_name"))
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, inc := range p.incidents {
			if inc.name == name {
				events := make([]any, len(inc.events))
				for i, e := range inc.events {
					events[i] = e
				}
				return banana.Tuple{inc.header, events}, nil
			}
		}
		return nil, &tubclient.RemoteError{Type: "builtins.KeyError", Value: "no incident named " + name}
	}
	return nil, &tubclient.RemoteError{Type: "builtins.AttributeError",
		Value: fmt.Sprintf("RILogPublisher has no method %s", method)}
}

func observerArg(args []any, kwargs map[string]any) (*tubclient.RemoteReference, error) {
	obs, ok := arg(args, kwargs, 0, "observer").(*tubclient.RemoteReference)
	if !ok {
		return nil, &tubclient.RemoteError{Type: "foolscap.tokens.Violation",
			Value: "the observer must be a reference providing " + ObserverInterface}
	}
	return obs, nil
}

// subscription is one subscriber: an RISubscription for it to hold, and
// the queue feeding its observer.
type subscription struct {
	p         *Publisher
	obs       *tubclient.RemoteReference
	incidents bool

	mu      sync.Mutex
	queue   []queued
	stopped bool
	wake    chan struct{}
	slots   chan struct{} // msg calls in flight
}

type queued struct {
	method string
	args   []any
}

// RemoteInterfaceName declares RISubscription.
func (s *subscription) RemoteInterfaceName() string { return SubscriptionInterface }

// RemoteCall serves RISubscription.unsubscribe.
func (s *subscription) RemoteCall(_ context.Context, method string, _ []any, _ map[string]any) (any, error) {
	if method != "unsubscribe" {
		return nil, &tubclient.RemoteError{Type: "builtins.AttributeError",
			Value: fmt.Sprintf("RISubscription has no method %s", method)}
	}
	s.stop()
	return nil, nil
}

func (p *Publisher) subscribe(obs *tubclient.RemoteReference, catch, incidents bool, since string) *subscription {
	s := &subscription{p: p, obs: obs, incidents: incidents, wake: make(chan struct{}, 1),
		slots: make(chan struct{}, maxInFlight)}
	p.mu.Lock()
	// Catch-up goes out before any live event, as fire-and-forget calls
	// in num order, outside the bounded queue (as Foolscap sends it).
	if incidents {
		if catch {
			for _, inc := range p.incidents {
				if inc.name > since {
					obs.CallOnly("new_incident", []any{[]byte(inc.name), inc.trigger}, nil)
				}
			}
			obs.CallOnly("done_with_incident_catchup", nil, nil)
		}
		p.incSubs[s] = struct{}{}
	} else {
		if catch {
			for _, e := range p.recent {
				obs.CallOnly("msg", []any{e}, nil)
			}
		}
		p.subs[s] = struct{}{}
	}
	p.mu.Unlock()
	p.wg.Add(1)
	go s.send()
	// A subscriber that goes away is forgotten.
	obs.OnDisconnect(func(string) { s.stop() })
	return s
}

// push queues a call for the subscriber, dropping it (counted) when the
// queue is full: old events are kept, new ones lost, as Foolscap does.
func (s *subscription) push(method string, args ...any) {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	if len(s.queue) >= maxQueued {
		s.mu.Unlock()
		s.p.dropped.Add(1)
		return
	}
	s.queue = append(s.queue, queued{method, args})
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *subscription) stop() {
	s.mu.Lock()
	s.stopped = true
	s.queue = nil
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// send keeps up to maxInFlight calls outstanding; a call that fails ends
// the subscription, silently, as Foolscap's does.
func (s *subscription) send() {
	p := s.p
	defer p.wg.Done()
	defer func() {
		p.mu.Lock()
		delete(p.subs, s)
		delete(p.incSubs, s)
		p.mu.Unlock()
	}()
	for {
		s.mu.Lock()
		for len(s.queue) == 0 && !s.stopped {
			s.mu.Unlock()
			select {
			case <-s.wake:
			case <-p.ctx.Done():
				return
			}
			s.mu.Lock()
		}
		if s.stopped {
			s.mu.Unlock()
			return
		}
		q := s.queue[0]
		s.queue[0] = queued{}
		s.queue = s.queue[1:]
		s.mu.Unlock()
		select {
		case s.slots <- struct{}{}:
		case <-p.ctx.Done():
			return
		}
		// Started here, in queue order; only the waiting is concurrent.
		call := s.obs.Start(q.method, q.args, nil)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer func() { <-s.slots }()
			if _, err := call.Wait(p.ctx); err != nil {
				s.stop()
			}
		}()
	}
}

// pump turns the tub's events into log events and hands them out.
func (p *Publisher) pump() {
	defer p.wg.Done()
	for {
		select {
		case <-p.feed.Changed():
		case <-p.ctx.Done():
			return
		}
		for _, ev := range p.feed.Drain(0) {
			p.publish(ev)
		}
	}
}

func (p *Publisher) publish(ev snapshot.Event) {
	p.mu.Lock()
	p.num++
	d := eventDict(ev, p.num, p.inc)
	if len(p.recent) >= catchUp {
		copy(p.recent, p.recent[1:])
		p.recent = p.recent[:len(p.recent)-1]
	}
	p.recent = append(p.recent, d)
	if r := p.recording; r != nil {
		r.events = append(r.events, d)
	} else if dictLevel(d) >= Weird {
		r = p.newIncident(d, ev.Time)
		p.recording = r
		p.wg.Add(1)
		p.timer = time.AfterFunc(p.trailing, func() {
			defer p.wg.Done()
			p.finishIncident(r)
		})
	}
	subs := make([]*subscription, 0, len(p.subs))
	for s := range p.subs {
		subs = append(subs, s)
	}
	p.mu.Unlock()
	for _, s := range subs {
		s.push("msg", d)
	}
}

// newIncident starts recording: the history so far (which ends with the
// trigger), then trailing events for incidentTrailing.
func (p *Publisher) newIncident(trigger banana.Dict, at time.Time) *incident {
	name := "incident-" + at.UTC().Format("2006-01-02--15-04-05Z") + "-" + strings.ToLower(randomBase32(5))
	inc := &incident{name: name, trigger: trigger, events: append([]banana.Dict(nil), p.recent...)}
	inc.header = banana.Dict{
		{Key: "type", Value: "incident"},
		{Key: "trigger", Value: trigger},
		{Key: "pid", Value: int64(os.Getpid())},
	}
	return inc
}

// finishIncident files an incident once its trailing events are in, and
// tells the incident subscribers.
func (p *Publisher) finishIncident(inc *incident) {
	p.mu.Lock()
	if p.recording == inc {
		p.recording = nil
	}
	p.incidents = append(p.incidents, inc)
	if len(p.incidents) > maxIncidents {
		p.incidents = p.incidents[1:]
	}
	subs := make([]*subscription, 0, len(p.incSubs))
	for s := range p.incSubs {
		subs = append(subs, s)
	}
	p.mu.Unlock()
	for _, s := range subs {
		s.push("new_incident", []byte(inc.name), inc.trigger)
	}
}

func dictLevel(d banana.Dict) int {
	for _, e := range d {
		if e.Key == "level" {
			n, _ := e.Value.(int64)
			return int(n)
		}
	}
	return 0
}

// ReportTo offers the logport to a log gatherer (Foolscap's
// log-gatherer-furl): the gatherer then subscribes to it.
func ReportTo(ctx context.Context, tub *tubclient.Tub, gathererFURL string, p *Publisher) error {
	g, err := tub.GetReference(ctx, gathererFURL)
	if err != nil {
		return fmt.Errorf("log gatherer: %w", err)
	}
	return g.CallOnly("logport", []any{tub.TubID(), p}, nil)
}

var swissEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

func randomBase32(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return swissEncoding.EncodeToString(b)
}

func newIncarnation() string {
	b := make([]byte, 8)
	rand.Read(b)
	return fmt.Sprintf("%x", b)
}

// furlFileSwissnum is the swissnum kept in path when it names tubid's
// logport, else a fresh one (160 random bits, as Foolscap makes them).
func furlFileSwissnum(path, tubid string) (string, error) {
	fresh := strings.ToLower(randomBase32(20))
	if path == "" {
		return fresh, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return fresh, nil
	}
	if err != nil {
		return "", err
	}
	f, err := tubclient.ParseFURL(strings.TrimSpace(string(data)))
	if err != nil || f.TubID != tubid {
		// Another identity's logport, or not a FURL: start afresh.
		return fresh, nil
	}
	return f.Swissnum, nil
}

// writeFURLFile writes the FURL with mode 0600, replacing the file whole.
func writeFURLFile(path, furl string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".logport-*.furl")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.WriteString(furl + "\n"); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
