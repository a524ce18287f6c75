package live

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/demo"
	"github.com/tubscope/tubscope/tubclient/service"
	"github.com/tubscope/tubscope/ui"
)

// ServiceName is the swissnum under which an inspected tub offers the
// built-in echo/ping service, so peers have something to call.
const ServiceName = "tubscope"

// Demo runs the inspector on the built-in demo until the operator quits.
// With Compare it runs one queen per policy, shown side by side.
func Demo(ctx context.Context, o DemoOptions) error {
	d, err := demo.Start(ctx, demo.Options{
		Clients:           o.Clients,
		Policy:            o.Policy,
		Policies:          o.Compare,
		Keepalive:         offWhenZero(o.Keepalive),
		DisconnectTimeout: offWhenZero(o.DisconnectTimeout),
		Autoplay:          offWhenZero(o.Autoplay),
	})
	if err != nil {
		return err
	}
	title := fmt.Sprintf("tubscope demo · queen %s · %d clients", short(d.Queen().TubID()), len(d.Clients()))
	if len(o.Compare) > 1 {
		title = fmt.Sprintf("tubscope demo · %d queens compared · %d clients", len(o.Compare), len(d.Clients()))
	}
	var sources []ui.Engine
	for _, e := range NewDemoEngines(d) {
		sources = append(sources, e)
	}
	lp, err := startLogport(d.Queen(), o.Logport)
	if err != nil {
		return errors.Join(err, d.Close())
	}
	err = runUI(sources, o.Screen, title, len(sources) > 1)
	lp.close()
	return errors.Join(err, d.Close())
}

// offWhenZero maps the flags' "0 is off" onto demo.Options and
// tubclient.Config, where zero means the default and a negative value off.
func offWhenZero(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// Inspect runs the inspector on a tub of the operator's own until the
// operator quits. Each --logport target is one more source after it.
func Inspect(ctx context.Context, o InspectOptions) error {
	watched, stopWatching, err := watchAll(ctx, o.Logports, o.KeyExchange)
	if err != nil {
		return err
	}
	defer stopWatching()
	t, err := NewInspectTub(o)
	if err != nil {
		return err
	}
	lp, err := startLogport(t, o.Logport)
	if err != nil {
		return errors.Join(err, t.Close())
	}
	title := "tubscope · " + short(t.TubID())
	if len(watched) > 0 {
		title += fmt.Sprintf(" · watching %d", len(watched))
	}
	err = runUI(append([]ui.Engine{NewEngine(t)}, watched...), o.Screen, title, false)
	lp.close()
	return errors.Join(err, t.Close())
}

// NewInspectTub builds the tub `tubscope inspect` shows: its identity from
// KeyFile (created when missing), listening when Listen is set, offering
// the built-in service, and connecting to every FURL.
func NewInspectTub(o InspectOptions) (*tubclient.Tub, error) {
	policy := o.Policy
	if policy == "" {
		policy = negotiation.PolicyFoolscap
	}
	p, err := negotiation.PolicyByName(policy)
	if err != nil {
		return nil, err
	}
	for _, s := range o.FURLs {
		if _, err := tubclient.ParseFURL(s); err != nil {
			return nil, err
		}
	}
	t, err := tubclient.New(tubclient.Config{
		KeyFile:            o.KeyFile,
		KeyExchange:        o.KeyExchange,
		Nickname:           "tubscope",
		Policy:             p,
		KeepaliveTimeout:   offWhenZero(o.Keepalive),
		DisconnectTimeout:  max(o.DisconnectTimeout, 0),
		NegotiationTimeout: o.NegotiationTimeout,
	})
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*tubclient.Tub, error) {
		t.Close()
		return nil, err
	}
	if o.Listen != "" {
		if _, err := t.Listen(o.Listen); err != nil {
			return fail(err)
		}
	}
	if _, err := t.Register(ServiceName, service.Builtin()); err != nil {
		return fail(err)
	}
	for _, s := range o.FURLs {
		if _, err := t.ConnectTo(s, nil); err != nil {
			return fail(err)
		}
	}
	return t, nil
}

func short(tubid string) string { return tubid[:min(8, len(tubid))] }
