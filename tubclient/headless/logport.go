package headless

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/logport"
)

// LogportOptions publish a tub's events as a Foolscap logport, as the
// Foolscap options of the same names do.
type LogportOptions struct {
	// FURLFile publishes the logport and writes its FURL there (mode
	// 0600); the swissnum is kept across restarts.
	FURLFile string
	// Gatherer is a log gatherer's FURL: the logport is offered to it at
	// start, and again whenever the connection to it comes back.
	Gatherer string
}

// Enabled says whether either option asks for a logport.
func (o LogportOptions) Enabled() bool { return o.FURLFile != "" || o.Gatherer != "" }

// Versions are what tubscope's logport answers get_versions with.
func Versions() map[string]string {
	v := map[string]string{"tubscope": "(devel)", "go": runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		v["tubscope"] = bi.Main.Version
	}
	return v
}

// Logport is tubscope's own logport, published by StartLogport.
type Logport struct {
	*logport.Publisher
	cancel context.CancelFunc
	done   chan struct{} // closed when the gatherer's reporter has stopped
}

// Close stops offering the logport to the gatherer and stops publishing.
func (l *Logport) Close() {
	l.cancel()
	<-l.done
	l.Publisher.Close()
}

// StartLogport publishes tub's events as a logport when o asks for one
// (nil, nil when it does not), and offers it to the gatherer in the
// background until Close. note tells the operator, in a sentence, the
// logport's FURL and how reaching the gatherer goes; it is called from
// one goroutine at a time. A logport FURL needs a listening tub, unless
// the logport is only offered to a gatherer over the tub's own
// connection.
func StartLogport(tub *tubclient.Tub, o LogportOptions, note func(string)) (*Logport, error) {
	if !o.Enabled() {
		return nil, nil
	}
	if o.FURLFile != "" && len(tub.Location()) == 0 {
		return nil, fmt.Errorf("--logport-furlfile: the tub does not listen, so its logport could not be reached")
	}
	if o.Gatherer != "" {
		if _, err := tubclient.ParseFURL(o.Gatherer); err != nil {
			return nil, fmt.Errorf("--log-gatherer: %w", err)
		}
	}
	p, err := logport.NewPublisher(tub, logport.PublisherOptions{FURLFile: o.FURLFile, Versions: Versions()})
	if err != nil {
		return nil, fmt.Errorf("logport: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &Logport{Publisher: p, cancel: cancel, done: make(chan struct{})}
	if o.FURLFile != "" {
		note(fmt.Sprintf("logport %s (written to %s)", p.FURL(), o.FURLFile))
	}
	if o.Gatherer == "" {
		close(l.done)
		return l, nil
	}
	go func() {
		defer close(l.done)
		reportLoop(ctx, tub, o.Gatherer, p, note)
	}()
	return l, nil
}

// reportLoop offers the logport to the gatherer, retrying with
// Foolscap's backoff (1 s, ×e, here at most 5 minutes) until it takes
// it, and again each time the connection to the gatherer is lost, as
// Foolscap's log-gatherer-furl reconnector does.
func reportLoop(ctx context.Context, tub *tubclient.Tub, furl string, p *logport.Publisher, note func(string)) {
	const maxDelay = 5 * time.Minute
	delay := time.Second
	for {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := logport.ReportTo(cctx, tub, furl, p)
		var done <-chan struct{}
		if err == nil {
			// The report went over the broker the reference lives on.
			if ref, rerr := tub.GetReference(cctx, furl); rerr == nil {
				done = ref.Broker().Done()
			}
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			note("logport offered to the log gatherer " + furl)
			delay = time.Second
			select {
			case <-done:
				note("the connection to the log gatherer was lost; offering the logport again")
				continue
			case <-ctx.Done():
				return
			}
		}
		note(fmt.Sprintf("log gatherer %s: %v; retrying in %s", furl, err, delay.Round(time.Second)))
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return
		}
		delay = min(time.Duration(float64(delay)*math.E), maxDelay)
	}
}
