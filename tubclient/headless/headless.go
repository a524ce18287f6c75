// Package headless runs tubscope without a terminal UI: `serve` prints a
// FURL and (optionally) one JSON object per event; `call` makes one remote
// call and prints the answer.
package headless

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/faultnet"
	"github.com/tubscope/tubscope/tubclient/pyvalue"
	"github.com/tubscope/tubscope/tubclient/service"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// ServeOptions are `tubscope serve`'s flags.
type ServeOptions struct {
	Listen             string
	KeyFile            string
	KeyExchange        tubclient.KeyExchange
	Policy             string
	JSON               bool
	Name               string // swissnum of the built-in service
	Keepalive          time.Duration
	DisconnectTimeout  time.Duration
	NegotiationTimeout time.Duration
	Faults             Faults
	Logport            LogportOptions
	// Notes receives what the operator should know besides the events
	// (the logport's FURL, a gatherer out of reach); nil means os.Stderr.
	Notes io.Writer
}

// Faults are injected into every accepted connection, so a peer's own
// reconnect logic can be tried against a bad path.
type Faults struct {
	Delay        time.Duration // added to every write, both ways
	Jitter       time.Duration // plus up to this much, uniformly
	DropAfter    int64         // outbound bytes per connection before the path goes dark (0: never)
	LoseDecision bool          // the first accepting decision this tub sends (as master) is lost on the wire
}

func (f Faults) onConn() bool { return f.Delay > 0 || f.Jitter > 0 || f.DropAfter > 0 }

// apply sets the per-connection faults on a new connection.
func (f Faults) apply(c *faultnet.Conn) {
	if f.Delay > 0 || f.Jitter > 0 {
		c.Delay(faultnet.Outbound, f.Delay, f.Jitter)
		c.Delay(faultnet.Inbound, f.Delay, f.Jitter)
	}
	if f.DropAfter > 0 {
		c.DropAfter(faultnet.Outbound, f.DropAfter)
	}
}

// Serve runs a tub with the built-in service until ctx ends or
// SIGINT/SIGTERM. A zero Keepalive or DisconnectTimeout turns that timer
// off (the flags default the keepalive to Foolscap's 240 s).
func Serve(ctx context.Context, o ServeOptions, out io.Writer) error {
	keepalive := o.Keepalive
	if keepalive <= 0 {
		keepalive = -1 // tubclient.Config reads 0 as Foolscap's default
	}
	t, err := tubclient.New(tubclient.Config{KeyFile: o.KeyFile, KeyExchange: o.KeyExchange, KeepaliveTimeout: keepalive,
		DisconnectTimeout: o.DisconnectTimeout, NegotiationTimeout: o.NegotiationTimeout})
	if err != nil {
		return err
	}
	defer t.Close()
	if o.Policy != "" {
		if err := t.SetPolicyByName(o.Policy); err != nil {
			return err
		}
	}
	var sub *tubclient.Subscription
	if o.JSON {
		sub = t.Subscribe(4096)
		defer sub.Close()
	}
	if o.Listen == "" {
		o.Listen = "tcp:127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", strings.TrimPrefix(o.Listen, "tcp:"))
	if err != nil {
		return fmt.Errorf("listen %s: %w", o.Listen, err)
	}
	if o.Faults.onConn() {
		path := faultnet.NewPath(nil)
		path.SetDefault(o.Faults.apply)
		ln = &faultnet.Listener{Listener: ln, Path: path}
	}
	if _, err := t.Serve(ln); err != nil {
		return err
	}
	if o.Faults.LoseDecision {
		if err := t.LoseNextDecision(""); err != nil {
			return err
		}
	}
	name := o.Name
	if name == "" {
		name = "tubscope"
	}
	furl, err := t.Register(name, service.Builtin())
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	notes := o.Notes
	if notes == nil {
		notes = os.Stderr
	}
	lp, err := StartLogport(t, o.Logport, func(s string) { fmt.Fprintln(notes, "tubscope serve:", s) })
	if err != nil {
		return err
	}
	if lp != nil {
		defer lp.Close()
	}
	if _, err := fmt.Fprintln(out, furl); err != nil {
		return err
	}
	if sub == nil {
		<-ctx.Done()
		return nil
	}
	enc := json.NewEncoder(out)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-sub.Changed():
			for _, ev := range sub.Drain(0) {
				if err := enc.Encode(EventJSON(ev)); err != nil {
					return err
				}
			}
		}
	}
}

// eventJSON is an event as serve --json writes it. Its times shadow the
// event's own, so that one not set is left out rather than printed as
// "0001-01-01T00:00:00Z" (encoding/json's omitempty never omits a struct).
type eventJSON struct {
	snapshot.Event
	Time time.Time `json:"time,omitzero"`
	At   time.Time `json:"at,omitzero"`
}

// EventJSON is ev ready for encoding/json, without zero times; it decodes
// back into a snapshot.Event.
func EventJSON(ev snapshot.Event) any { return eventJSON{Event: ev, Time: ev.Time, At: ev.At} }

// CallOptions are `tubscope call`'s flags.
type CallOptions struct {
	KeyFile     string
	KeyExchange tubclient.KeyExchange
	Timeout     time.Duration
	// Python prints the answer as Python would (None, True, b"bytes",
	// tuples) instead of JSON.
	Python bool
}

// Call connects to furl, calls method with args and writes the answer as
// one line of JSON (pyvalue.JSON's mapping), or in Python's notation.
// Arguments that parse as JSON are sent as such; anything else is a string.
func Call(ctx context.Context, furl, method string, args []string, o CallOptions, out io.Writer) error {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	t, err := tubclient.New(tubclient.Config{KeyFile: o.KeyFile, KeyExchange: o.KeyExchange, NegotiationTimeout: o.Timeout})
	if err != nil {
		return err
	}
	defer t.Close()
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	ref, err := t.GetReference(ctx, furl)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	vals := make([]any, len(args))
	for i, a := range args {
		vals[i] = ParseArg(a)
	}
	res, err := ref.Call(ctx, method, vals...)
	if err != nil {
		var rerr *tubclient.RemoteError
		if errors.As(err, &rerr) {
			return fmt.Errorf("remote error: %s", rerr.Error())
		}
		return fmt.Errorf("call %s: %w", method, err)
	}
	if o.Python {
		_, err = fmt.Fprintln(out, pyvalue.Format(res))
		return err
	}
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false) // answers are data, not HTML
	if err := enc.Encode(pyvalue.JSON(res)); err != nil {
		return fmt.Errorf("answer as JSON: %w", err)
	}
	return nil
}

// ParseArg turns a command-line argument into a call argument: JSON when it
// parses (numbers, true/false/null, lists, objects, "quoted"), else a string.
func ParseArg(s string) any {
	var v any
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil || dec.More() {
		return s
	}
	return fromJSON(v)
}

func fromJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = fromJSON(x[i])
		}
		return x
	case map[string]any:
		for k := range x {
			x[k] = fromJSON(x[k])
		}
		return x
	}
	return v
}
