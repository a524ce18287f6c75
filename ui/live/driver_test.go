package live

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/tubscope/tubscope/ui"
)

// driver runs the inspector's model in a real bubbletea loop (ticks,
// feed listeners, actions off the UI goroutine) without a terminal, and
// keeps the newest frame for the test to read.
type driver struct {
	t     *testing.T
	p     *tea.Program
	done  chan struct{}
	feeds *feedCloser

	mu     sync.Mutex
	screen string
}

// framed is ui.Model with every frame kept.
type framed struct {
	m ui.Model
	d *driver
}

func (f framed) Init() tea.Cmd { return f.m.Init() }

func (f framed) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	next, cmd := f.m.Update(msg)
	f.m = next.(ui.Model)
	frame := f.m.View()
	f.d.mu.Lock()
	f.d.screen = frame
	f.d.mu.Unlock()
	return f, cmd
}

func (f framed) View() string { return f.m.View() }

// drive shows engines in the inspector at 160×48 until the test ends.
func drive(t *testing.T, engines []ui.Engine, opts ui.Options) *driver {
	t.Helper()
	d := &driver{t: t, done: make(chan struct{}), feeds: &feedCloser{}}
	tracked := make([]ui.Engine, len(engines))
	for i, e := range engines {
		tracked[i] = trackedEngine{Engine: e, c: d.feeds}
	}
	d.p = tea.NewProgram(framed{m: ui.New(tracked, opts), d: d},
		tea.WithInput(nil), tea.WithOutput(io.Discard), tea.WithoutSignalHandler(), tea.WithoutRenderer())
	go func() {
		defer close(d.done)
		d.p.Run()
	}()
	d.p.Send(tea.WindowSizeMsg{Width: 160, Height: 48})
	t.Cleanup(func() {
		d.p.Quit()
		<-d.done
		d.feeds.closeAll() // unparks the feed listeners the program left waiting
	})
	return d
}

func (d *driver) frame() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.screen
}

// press sends keys, one message each, as a terminal would.
func (d *driver) press(keys ...string) {
	for _, k := range keys {
		d.p.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)})
	}
}

// await waits until ok accepts the newest frame.
func (d *driver) await(ctx context.Context, what string, ok func(frame string) bool) string {
	d.t.Helper()
	for {
		if f := d.frame(); ok(f) {
			return f
		}
		select {
		case <-ctx.Done():
			d.t.Fatalf("waiting for %s; the screen reads:\n%s", what, d.frame())
		case <-time.After(20 * time.Millisecond): // frames come with ticks and events
		}
	}
}

func (d *driver) awaitText(ctx context.Context, texts ...string) string {
	d.t.Helper()
	return d.await(ctx, strings.Join(texts, " and "), func(f string) bool {
		for _, s := range texts {
			if !strings.Contains(f, s) {
				return false
			}
		}
		return true
	})
}

// trackedEngine hands out feeds the test can close once the program has
// ended: the inspector closes its own only when ui.Run drives it.
type trackedEngine struct {
	ui.Engine
	c *feedCloser
}

func (e trackedEngine) Subscribe(capacity int) ui.Feed {
	return e.c.track(e.Engine.Subscribe(capacity))
}

type feedCloser struct {
	mu    sync.Mutex
	feeds []*closableFeed
}

// closableFeed forwards a feed's signal on a channel that closes when the
// test is over, which a listener reads as the feed's end.
type closableFeed struct {
	ui.Feed
	changed chan struct{}
	stop    chan struct{}
	once    sync.Once
}

func (c *feedCloser) track(f ui.Feed) ui.Feed {
	cf := &closableFeed{Feed: f, changed: make(chan struct{}, 1), stop: make(chan struct{})}
	go func() {
		defer close(cf.changed)
		for {
			select {
			case <-f.Changed():
				select {
				case cf.changed <- struct{}{}:
				default:
				}
			case <-cf.stop:
				return
			}
		}
	}()
	c.mu.Lock()
	c.feeds = append(c.feeds, cf)
	c.mu.Unlock()
	return cf
}

func (cf *closableFeed) Changed() <-chan struct{} { return cf.changed }

func (cf *closableFeed) Close() {
	cf.once.Do(func() { close(cf.stop) })
	cf.Feed.Close()
}

func (c *feedCloser) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range c.feeds {
		f.Close()
	}
}
