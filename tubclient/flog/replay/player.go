// Package replay plays saved Foolscap logs (tail saves, FLOGFILE output,
// gatherer and incident files) back through the reconstruction, with a
// time cursor: play and pause, speed, step to the next offer, jump to an
// incident's trigger. Files are streamed and merged by event time; a bad
// line is reported with its file and line and the replay goes on.
package replay

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tubscope/tubscope/tubclient/flog"
	"github.com/tubscope/tubscope/tubclient/flog/reconstruct"
	"github.com/tubscope/tubscope/tubclient/snapshot"
	"github.com/tubscope/tubscope/tubclient/snapshot/feed"
)

// Clock is the time the player paces itself by; tests run the real one
// inside a testing/synctest bubble, or their own.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed, and a
	// function that stops it.
	After(d time.Duration) (<-chan time.Time, func() bool)
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
func (realClock) After(d time.Duration) (<-chan time.Time, func() bool) {
	t := time.NewTimer(d)
	return t.C, t.Stop
}

// Speed limits.
const (
	MinSpeed = 1.0 / 64
	MaxSpeed = 1 << 16
)

// Options configure a Player. Zero values take the defaults.
type Options struct {
	// Speed is log seconds played per wall second (1).
	Speed float64
	// Paused starts the player paused at the first event.
	Paused bool
	// MaxIdle skips a quiet stretch of the log that would take longer
	// than this to play at the current speed (2 s).
	MaxIdle time.Duration
	// PublishEvery bounds how often a new snapshot is published while
	// playing (100 ms).
	PublishEvery time.Duration
	// Name labels the source; by default the file name, or a count.
	Name string
	// MaxErrors caps the bad-line errors kept for Errors (100).
	MaxErrors   int
	Reconstruct reconstruct.Options
	Clock       Clock
}

// ErrNoTrigger is JumpToTrigger's answer when no file is an incident.
var ErrNoTrigger = errors.New("no incident trigger: none of the files is an incident report")

// ErrClosed is returned by controls after Close.
var ErrClosed = errors.New("replay closed")

// Player replays files. Its methods are safe for concurrent use; one
// goroutine owns the reconstruction.
type Player struct {
	opts  Options
	clock Clock
	files []string
	name  string

	cmds   chan command
	quit   chan struct{}
	done   chan struct{}
	closed sync.Once

	snap atomic.Pointer[snapshot.Snapshot]
	hub  feed.Hub

	errMu    sync.Mutex
	errs     []error
	errTotal uint64

	// Owned by the loop goroutine.
	readers   []*flog.Reader
	m         *merger
	rc        *reconstruct.Reconstructor
	at        time.Time
	start     time.Time
	end       time.Time
	lastWall  time.Time
	playing   bool
	speed     float64
	trigger   *flog.Event
	applied   int
	finished  bool
	version   uint64
	published time.Time
	dirty     bool
	status    string
}

type command struct {
	do    func(p *Player) error
	reply chan error
}

// Open opens every file (each must be a flogfile; the first that is not
// is the error) and starts the player.
func Open(files []string, opts Options) (*Player, error) {
	if len(files) == 0 {
		return nil, errors.New("replay: no files")
	}
	if opts.Speed <= 0 {
		opts.Speed = 1
	}
	opts.Speed = min(max(opts.Speed, MinSpeed), MaxSpeed)
	if opts.MaxIdle <= 0 {
		opts.MaxIdle = 2 * time.Second
	}
	if opts.PublishEvery <= 0 {
		opts.PublishEvery = 100 * time.Millisecond
	}
	if opts.MaxErrors <= 0 {
		opts.MaxErrors = 100
	}
	p := &Player{opts: opts, clock: opts.Clock, files: files, cmds: make(chan command),
		quit: make(chan struct{}), done: make(chan struct{}), speed: opts.Speed, playing: !opts.Paused}
	if p.clock == nil {
		p.clock = realClock{}
	}
	p.name = opts.Name
	if p.name == "" {
		p.name = "replay " + filepath.Base(files[0])
		if len(files) > 1 {
			p.name = fmt.Sprintf("replay %s +%d", filepath.Base(files[0]), len(files)-1)
		}
	}
	if err := p.rewind(); err != nil {
		return nil, err
	}
	p.lastWall = p.clock.Now()
	p.publish()
	go p.loop()
	return p, nil
}

// rewind (re)opens the files and starts the reconstruction afresh.
func (p *Player) rewind() error {
	p.closeReaders()
	readers := make([]*flog.Reader, 0, len(p.files))
	for _, f := range p.files {
		r, err := flog.Open(f)
		if err != nil {
			for _, o := range readers {
				o.Close()
			}
			return err
		}
		readers = append(readers, r)
		if h := r.Header(); h != nil && h.Trigger != nil && p.trigger == nil {
			p.trigger = h.Trigger
		}
	}
	p.readers = readers
	p.m = newMerger(readers, p.noteError)
	p.rc = reconstruct.New(p.opts.Reconstruct)
	p.applied, p.finished = 0, false
	p.at, p.start, p.end = time.Time{}, time.Time{}, time.Time{}
	if rec, ok := p.m.peek(); ok {
		p.at = rec.Event.Time()
		p.start, p.end = p.at, p.at
	}
	p.dirty = true
	return nil
}

func (p *Player) closeReaders() {
	if p.m != nil {
		p.m.close()
	}
	for _, r := range p.readers {
		r.Close()
	}
	p.readers = nil
}

// noteError keeps a bad line or a file's early end, and tells subscribers.
func (p *Player) noteError(err error) {
	p.errMu.Lock()
	p.errTotal++
	p.errs = append(p.errs, err)
	if len(p.errs) > p.opts.MaxErrors {
		p.errs = p.errs[len(p.errs)-p.opts.MaxErrors:]
	}
	p.errMu.Unlock()
	p.status = err.Error()
	p.hub.Publish(snapshot.Event{Time: p.at, Kind: snapshot.KindSource, Err: err.Error()})
}

// Errors returns how many bad lines and failed files there were, and the
// newest of them (each names its file and line).
func (p *Player) Errors() (total uint64, recent []error) {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	return p.errTotal, append([]error(nil), p.errs...)
}

// Snapshot is the newest published snapshot: immutable, with a Version
// that grows, Source kind replay and the cursor in Source.Replay.
func (p *Player) Snapshot() *snapshot.Snapshot { return p.snap.Load() }

// Subscribe returns a bounded feed of reconstructed events as they are
// replayed; when it is full the oldest are dropped and counted.
func (p *Player) Subscribe(capacity int) *Subscription { return p.hub.Subscribe(capacity) }

// do runs f on the loop goroutine and waits for it.
func (p *Player) do(f func(p *Player) error) error {
	c := command{do: f, reply: make(chan error, 1)}
	select {
	case p.cmds <- c:
	case <-p.done:
		return ErrClosed
	}
	select {
	case err := <-c.reply:
		return err
	case <-p.done:
		return ErrClosed
	}
}

// Play resumes the replay.
func (p *Player) Play() error {
	return p.do(func(p *Player) error {
		if !p.playing {
			p.playing, p.lastWall, p.dirty = true, p.clock.Now(), true
		}
		return nil
	})
}

// Pause stops the cursor.
func (p *Player) Pause() error {
	return p.do(func(p *Player) error {
		p.pauseHere()
		return nil
	})
}

// Toggle plays when paused and pauses when playing.
func (p *Player) Toggle() error {
	return p.do(func(p *Player) error {
		if p.playing {
			p.pauseHere()
		} else {
			p.playing, p.lastWall, p.dirty = true, p.clock.Now(), true
		}
		return nil
	})
}

// pauseHere brings the cursor up to now before stopping it.
func (p *Player) pauseHere() {
	if p.playing {
		p.advance(p.clock.Now())
		p.playing, p.dirty = false, true
	}
}

// SpeedUp doubles the speed; SpeedDown halves it.
func (p *Player) SpeedUp() error   { return p.scaleSpeed(2) }
func (p *Player) SpeedDown() error { return p.scaleSpeed(0.5) }

func (p *Player) scaleSpeed(f float64) error {
	return p.do(func(p *Player) error {
		p.setSpeed(p.speed * f)
		return nil
	})
}

// SetSpeed sets log seconds per wall second, clamped to MinSpeed…MaxSpeed.
func (p *Player) SetSpeed(x float64) error {
	if !(x > 0) {
		return fmt.Errorf("speed %v must be above 0", x)
	}
	return p.do(func(p *Player) error {
		p.setSpeed(x)
		return nil
	})
}

func (p *Player) setSpeed(x float64) {
	if p.playing {
		p.advance(p.clock.Now()) // the elapsed time counts at the old speed
	}
	p.speed = min(max(x, MinSpeed), MaxSpeed)
	p.dirty = true
}

// Step applies events up to the next decision (an offer's verdict, or a
// decision received as slave), moves the cursor there and pauses. At the
// end of the files it only pauses.
func (p *Player) Step() error {
	return p.do(func(p *Player) error {
		p.pauseHere()
		p.seek(func(rec flog.Record, evs []snapshot.Event) bool {
			for _, ev := range evs {
				if ev.Kind == snapshot.KindVerdict || ev.Kind == snapshot.KindDecisionReceived {
					return true
				}
			}
			return false
		})
		return nil
	})
}

// JumpToTrigger moves the cursor to the incident's trigger event (the
// first incident header among the files), from the start again if the
// cursor is past it, and pauses there.
func (p *Player) JumpToTrigger() error {
	return p.do(func(p *Player) error {
		if p.trigger == nil {
			return ErrNoTrigger
		}
		p.pauseHere()
		trig := *p.trigger
		if p.at.After(trig.Time()) || p.triggerApplied() {
			if err := p.rewind(); err != nil {
				return err
			}
		}
		id, when := trig.ID(), trig.Time()
		p.seek(func(rec flog.Record, _ []snapshot.Event) bool {
			if rec.Event.ID() == id {
				return true
			}
			next, ok := p.m.peek()
			return !ok || next.Event.Time().After(when)
		})
		if p.at.Before(when) {
			p.at = when
		}
		return nil
	})
}

// triggerApplied reports whether the cursor has passed the trigger.
func (p *Player) triggerApplied() bool {
	next, ok := p.m.peek()
	return !ok || next.Event.Time().After(p.trigger.Time())
}

// Close stops the player and closes the files. Subscriptions stay valid
// and receive nothing more.
func (p *Player) Close() error {
	p.closed.Do(func() { close(p.quit) })
	<-p.done
	return nil
}

// Wait blocks until the files are played to the end or ctx ends.
func (p *Player) Wait(ctx context.Context) error {
	for {
		s := p.Snapshot()
		if s.Source.Replay != nil && s.Source.Replay.Done {
			return nil
		}
		sub := p.Subscribe(1)
		s = p.Snapshot()
		if s.Source.Replay != nil && s.Source.Replay.Done {
			sub.Close()
			return nil
		}
		select {
		case <-sub.Changed():
			sub.Close()
		case <-p.done:
			sub.Close()
			return ErrClosed
		case <-ctx.Done():
			sub.Close()
			return ctx.Err()
		}
	}
}

// Unmapped returns how many events the reconstruction could not place
// and the newest of them, for the caller to show raw.
func (p *Player) Unmapped() (total uint64, recent []flog.Event, err error) {
	err = p.do(func(p *Player) error {
		total, recent = p.rc.Unmapped()
		return nil
	})
	return total, recent, err
}

// Tubs lists the tubs the files log for (a process may run several; the
// snapshot follows Options.Reconstruct.TubID, or the busiest).
func (p *Player) Tubs() ([]reconstruct.TubSummary, error) {
	var tubs []reconstruct.TubSummary
	err := p.do(func(p *Player) error {
		tubs = p.rc.Tubs()
		return nil
	})
	return tubs, err
}

// batch bounds the events applied between looks at the controls.
const batch = 4096

func (p *Player) loop() {
	defer close(p.done)
	defer p.closeReaders()
	for {
		wait := time.Duration(-1)
		if p.playing && !p.finished {
			wait = p.advance(p.clock.Now())
		}
		if p.dirty {
			if now := p.clock.Now(); !p.playing || p.finished || now.Sub(p.published) >= p.opts.PublishEvery {
				p.publish()
			} else if left := p.opts.PublishEvery - now.Sub(p.published); wait < 0 || left < wait {
				wait = left
			}
		}
		var timer <-chan time.Time
		stop := func() bool { return false }
		if wait == 0 {
			select {
			case c := <-p.cmds:
				p.run(c)
			case <-p.quit:
				return
			default:
			}
			continue
		}
		if wait > 0 {
			timer, stop = p.clock.After(wait)
		}
		select {
		case c := <-p.cmds:
			stop()
			p.run(c)
		case <-timer:
		case <-p.quit:
			stop()
			return
		}
	}
}

// run carries out a control and publishes its effect at once, so the
// caller's next Snapshot shows it.
func (p *Player) run(c command) {
	err := c.do(p)
	if p.dirty {
		p.publish()
	}
	c.reply <- err
}

// advance moves the cursor by the wall time since the last look, times
// the speed, and applies the events now due (a batch at most). It returns
// how long to wait for the next event: 0 to go on at once, -1 when there
// is nothing left.
func (p *Player) advance(now time.Time) time.Duration {
	elapsed := now.Sub(p.lastWall)
	p.lastWall = now
	if elapsed > 0 {
		p.at = p.at.Add(time.Duration(float64(elapsed) * p.speed))
		p.dirty = true
	}
	for range batch {
		rec, ok := p.m.peek()
		if !ok {
			p.finish()
			return -1
		}
		t := rec.Event.Time()
		if t.After(p.at) {
			gap := time.Duration(float64(t.Sub(p.at)) / p.speed)
			if gap <= p.opts.MaxIdle {
				return max(gap, time.Millisecond)
			}
			// A quiet stretch: skip it rather than play silence.
			p.at = t
		}
		p.applyNext()
	}
	return 0
}

// seek applies events until stop says so (after applying the event that
// satisfied it) or the files end, moving the cursor along.
func (p *Player) seek(stop func(flog.Record, []snapshot.Event) bool) {
	for {
		if _, ok := p.m.peek(); !ok {
			p.finish()
			return
		}
		rec, evs := p.applyNext()
		if rec.Event.Time().After(p.at) {
			p.at = rec.Event.Time()
		}
		if stop(rec, evs) {
			return
		}
		select {
		case <-p.quit:
			return
		default:
		}
	}
}

// applyNext applies the next record and publishes its events.
func (p *Player) applyNext() (flog.Record, []snapshot.Event) {
	rec, _ := p.m.next()
	evs := p.rc.Apply(rec.Event)
	p.applied++
	if t := rec.Event.Time(); t.After(p.end) {
		p.end = t
	}
	p.hub.Publish(evs...)
	p.dirty = true
	return rec, evs
}

// finish flushes the reconstruction once the files are read.
func (p *Player) finish() {
	if p.finished {
		return
	}
	p.finished = true
	p.playing = false
	p.hub.Publish(p.rc.Flush()...)
	// The cursor rests on the last event: the wall time playing took to
	// notice the end may have carried it past.
	if !p.end.IsZero() {
		p.at = p.end
	}
	// The snapshot says Done before the event does, so a subscriber woken
	// by the event finds it.
	p.publish()
	p.hub.Publish(snapshot.Event{Time: p.at, Kind: snapshot.KindSource,
		Message: fmt.Sprintf("replay done: %d events from %d file(s)", p.applied, len(p.files))})
}

// publish makes a new snapshot of the cursor's state.
func (p *Player) publish() {
	p.version++
	s := p.rc.Snapshot(p.at)
	s.Version = p.version
	s.Taken = p.at
	end := p.end
	if rec, ok := p.m.peek(); ok && rec.Event.Time().After(end) {
		end = rec.Event.Time()
	}
	cur := &snapshot.ReplayCursor{Start: p.start, End: end, At: p.at, Playing: p.playing && !p.finished,
		Speed: p.speed, Applied: p.applied, Read: p.m.read, Done: p.finished}
	if p.trigger != nil {
		cur.Trigger = p.trigger.Time()
	}
	s.Source = snapshot.Source{Name: p.name, Kind: snapshot.SourceReplay,
		ReadOnly: "a replay of saved logs: there is no live connection to act on",
		Status:   p.status, Replay: cur}
	p.snap.Store(s)
	p.published = p.clock.Now()
	p.dirty = false
}
