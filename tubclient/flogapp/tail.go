// Package flogapp is the glue between Foolscap's logging and tubscope's
// views of it: `tubscope tail` (subscribe to a logport, reconstruct the
// remote tub's decisions, print them and save the raw events) and the
// watched logport the inspector shows as a source of its own, which
// publishes reconstructed snapshots at a capped rate however fast the
// publisher talks. Nothing here draws a screen.
package flogapp

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/flog"
	"github.com/tubscope/tubscope/tubclient/flog/reconstruct"
	"github.com/tubscope/tubscope/tubclient/headless"
	"github.com/tubscope/tubscope/tubclient/logport"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// TailOptions are `tubscope tail`'s flags.
type TailOptions struct {
	// Target is a logport FURL, a file holding one, or a node directory
	// holding logport.furl or private/logport.furl.
	Target string
	// CatchUp asks the publisher for the events it still buffers first.
	CatchUp bool
	// JSON writes one JSON object per line instead of text.
	JSON bool
	// All also prints every raw event.
	All bool
	// SaveTo writes every raw event to this file in Foolscap's flogfile
	// format, which flogtool dump and tubscope replay read.
	SaveTo string
	// KeyFile keeps the tail's own identity (PEM, created when missing).
	KeyFile     string
	KeyExchange tubclient.KeyExchange
}

// Tail subscribes to a logport and prints what it reconstructs until ctx
// ends, SIGINT or SIGTERM (then it unsubscribes and finishes the saved
// file), or the connection is lost (an error). Errors about single events
// go to errw; the run goes on.
func Tail(ctx context.Context, o TailOptions, out, errw io.Writer) error {
	furl, err := logport.ResolveTarget(o.Target)
	if err != nil {
		return err
	}
	var save *os.File
	if o.SaveTo != "" {
		if save, err = os.Create(o.SaveTo); err != nil {
			return err
		}
		defer save.Close()
	}
	tub, err := tubclient.New(tubclient.Config{KeyFile: o.KeyFile, KeyExchange: o.KeyExchange, Nickname: "tubscope tail"})
	if err != nil {
		return err
	}
	defer tub.Close()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	p := newTailPrinter(out, errw, o)
	ready := make(chan struct{})
	sub, err := logport.Subscribe(ctx, tub, furl, logport.SubscribeOptions{CatchUp: o.CatchUp}, func(d logport.Event) {
		<-ready // the header and the saved file's header go first
		p.event(d)
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil // interrupted while connecting
		}
		return fmt.Errorf("subscribing to %s: %w", furl, err)
	}
	parsed, _ := tubclient.ParseFURL(furl)
	if save != nil {
		versions := make(flog.Dict, 0, len(sub.Versions))
		for _, k := range slices.Sorted(maps.Keys(sub.Versions)) {
			versions = append(versions, flog.Field{Key: k, Value: sub.Versions[k]})
		}
		w, err := flog.NewWriter(save, flog.HeaderTail, flog.TailHeader(versions, sub.PID))
		if err != nil {
			close(ready)
			return err
		}
		// flogtool tail names the sender by its tubid's first 8 characters.
		p.save, p.from = w, parsed.TubID[:min(8, len(parsed.TubID))]
	}
	p.header(furl, parsed.TubID, sub)
	close(ready)

	lost := false
	select {
	case <-ctx.Done():
	case <-sub.Done():
		lost = ctx.Err() == nil
	}
	<-sub.Done() // unsubscribed, and every event received is handled
	err = p.finish(sub.Dropped())
	if save != nil {
		err = errors.Join(err, save.Close())
	}
	if lost {
		return errors.Join(errors.New("the connection to the logport was lost"), err)
	}
	return err
}

// tailPrinter turns events into lines; it runs on the subscription's
// goroutine, so the publisher never waits on the terminal for longer
// than the observer's queue lasts.
type tailPrinter struct {
	o    TailOptions
	errw io.Writer
	rc   *reconstruct.Reconstructor
	save *flog.Writer
	from string
	// saveErr stops saving after the first failed write; the tail goes on.
	saveErr error
	bad     uint64

	mu  sync.Mutex // out is flushed by the idle flusher too
	out *bufio.Writer
	enc *json.Encoder
	// dirty wakes the flusher: lines reach the terminal as soon as the
	// stream pauses, and in 64 KiB blocks while it does not.
	dirty chan struct{}
	quit  chan struct{}
	wg    sync.WaitGroup
}

func newTailPrinter(out, errw io.Writer, o TailOptions) *tailPrinter {
	p := &tailPrinter{o: o, errw: errw, out: bufio.NewWriterSize(out, 64<<10),
		rc: reconstruct.New(reconstruct.Options{}), dirty: make(chan struct{}, 1), quit: make(chan struct{})}
	p.enc = json.NewEncoder(p.out)
	p.enc.SetEscapeHTML(false)
	p.wg.Add(1)
	go p.flusher()
	return p
}

func (p *tailPrinter) flusher() {
	defer p.wg.Done()
	for {
		select {
		case <-p.dirty:
			p.mu.Lock()
			p.out.Flush()
			p.mu.Unlock()
		case <-p.quit:
			return
		}
	}
}

func (p *tailPrinter) wrote() {
	select {
	case p.dirty <- struct{}{}:
	default:
	}
}

// tailHeader is the first JSON line: who publishes, as flogtool tail's
// saved header says it.
type tailHeader struct {
	Header struct {
		Type     string            `json:"type"`
		FURL     string            `json:"furl"`
		TubID    string            `json:"tub"`
		PID      int64             `json:"pid,omitempty"`
		Versions map[string]string `json:"versions"`
	} `json:"header"`
}

func (p *tailPrinter) header(furl, tubid string, sub *logport.Subscription) {
	p.mu.Lock()
	defer p.mu.Unlock()
	defer p.wrote()
	if p.o.JSON {
		var h tailHeader
		h.Header.Type, h.Header.FURL, h.Header.TubID, h.Header.PID = "tail", furl, tubid, sub.PID
		h.Header.Versions = sub.Versions
		if h.Header.Versions == nil {
			h.Header.Versions = map[string]string{}
		}
		p.enc.Encode(h)
		return
	}
	fmt.Fprintf(p.out, "tubscope tail: connected to the logport of tub %s, pid %d\n", short(tubid), sub.PID)
	if len(sub.Versions) > 0 {
		fmt.Fprint(p.out, "versions:")
		for _, k := range slices.Sorted(maps.Keys(sub.Versions)) {
			fmt.Fprintf(p.out, " %s %s", k, sub.Versions[k])
		}
		fmt.Fprintln(p.out)
	}
}

// event handles one event as the publisher sent it.
func (p *tailPrinter) event(d logport.Event) {
	ev, err := flog.FromBanana(d)
	if err != nil {
		p.bad++
		if p.bad <= maxBadReported {
			fmt.Fprintf(p.errw, "tubscope tail: an event that is not a log event: %v\n", err)
		}
		return
	}
	if p.save != nil && p.saveErr == nil {
		if p.saveErr = p.save.Write(p.from, flog.TimeToSeconds(time.Now()), ev); p.saveErr != nil {
			fmt.Fprintf(p.errw, "tubscope tail: saving to %s: %v\n", p.o.SaveTo, p.saveErr)
		}
	}
	evs := p.rc.Apply(ev)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.o.All {
		p.raw(ev)
	}
	p.print(evs)
	p.wrote()
}

// maxBadReported bounds the per-event complaints; the rest are counted.
const maxBadReported = 10

// rawEvent is a raw event as --json --all writes it.
type rawEvent struct {
	Time     time.Time `json:"time,omitzero"`
	Kind     string    `json:"kind"`
	Num      int64     `json:"num"`
	Level    int       `json:"level"`
	Facility string    `json:"facility,omitempty"`
	Parent   *int64    `json:"parent,omitempty"`
	Text     string    `json:"text"`
}

func (p *tailPrinter) raw(ev flog.Event) {
	if p.o.JSON {
		r := rawEvent{Time: ev.Time(), Kind: "flog", Num: ev.Num(), Level: int(ev.Level()), Facility: ev.Facility(), Text: ev.Text()}
		if parent, ok := ev.Parent(); ok {
			r.Parent = &parent
		}
		p.enc.Encode(r)
		return
	}
	fmt.Fprintln(p.out, RawLine(ev))
}

func (p *tailPrinter) print(evs []snapshot.Event) {
	if p.o.JSON {
		for i := range evs {
			p.enc.Encode(headless.EventJSON(evs[i]))
		}
		return
	}
	// A decision reads before the connection it attaches or replaces.
	for _, decisions := range []bool{true, false} {
		for i := range evs {
			k := evs[i].Kind
			if (k == snapshot.KindVerdict || k == snapshot.KindDecisionReceived) != decisions {
				continue
			}
			if line, ok := Line(&evs[i]); ok {
				fmt.Fprintln(p.out, line)
			}
		}
	}
}

// finish decides what the log already shows of negotiations still open,
// flushes everything and says what was lost.
func (p *tailPrinter) finish(dropped uint64) error {
	close(p.quit)
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.print(p.rc.Flush())
	err := p.out.Flush()
	if p.save != nil && p.saveErr == nil {
		err = errors.Join(err, p.save.Flush())
	}
	if dropped > 0 {
		fmt.Fprintf(p.errw, "tubscope tail: %d events dropped: they arrived faster than they could be handled\n", dropped)
	}
	if p.bad > maxBadReported {
		fmt.Fprintf(p.errw, "tubscope tail: %d events were not log events\n", p.bad)
	}
	return err
}
