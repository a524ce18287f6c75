package live

import (
	"errors"
	"fmt"
	"sync"

	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/demo"
	"github.com/tubscope/tubscope/tubclient/snapshot"
	"github.com/tubscope/tubscope/ui"
)

// Engine drives one tub, and in demo mode its in-process clients, for the
// inspector. In the demo each queen has an Engine of its own; their demo
// actions all reach the same clients.
type Engine struct {
	tub   *tubclient.Tub
	demo  *demo.Demo // nil outside demo mode
	queen int        // which of the demo's queens tub is

	mu     sync.Mutex
	recons []*tubclient.Reconnector // started by ActConnect; they stop with the tub
	told   narrated
}

// narrated is the last snapshot handed out with the demo's narration, and
// what it was made from, so an unchanged pair gives the same pointer.
type narrated struct {
	from    *snapshot.Snapshot
	version uint64
	out     *snapshot.Snapshot
}

var _ ui.Engine = (*Engine)(nil)

// NewEngine adapts a tub of the operator's own.
func NewEngine(t *tubclient.Tub) *Engine { return &Engine{tub: t} }

// NewDemoEngines adapts every queen of the demo, one source each, in the
// order of the policies compared.
func NewDemoEngines(d *demo.Demo) []*Engine {
	queens := d.Queens()
	out := make([]*Engine, len(queens))
	for i, q := range queens {
		out[i] = &Engine{tub: q, demo: d, queen: i}
	}
	return out
}

// Snapshot is the tub's newest published snapshot: an atomic load that
// never waits on the tub's state goroutine. In the demo it carries the
// narration.
func (e *Engine) Snapshot() *snapshot.Snapshot { return e.published() }

// published is the tub's newest published snapshot; in the demo, a
// shallow copy of it carrying the narration. The tub's snapshot is shared
// and never written: the copy gets its own Narration, and a Version that
// grows when either the tub's or the narration's does.
func (e *Engine) published() *snapshot.Snapshot {
	pub := e.tub.Published()
	if e.demo == nil || pub == nil {
		return pub
	}
	n, version := e.demo.Narration(e.queen)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.told.from == pub && e.told.version == version {
		return e.told.out
	}
	s := *pub
	s.Narration = &n
	s.Version = pub.Version + version
	e.told = narrated{from: pub, version: version, out: &s}
	return &s
}

// Subscribe hands out a bounded event feed; tubclient's subscription
// already counts what it drops.
func (e *Engine) Subscribe(capacity int) ui.Feed { return e.tub.Subscribe(capacity) }

// Demo names the demo's clients.
func (e *Engine) Demo() ([]string, bool) {
	if e.demo == nil {
		return nil, false
	}
	return e.demo.Clients(), true
}

var errNotDemo = errors.New("only available in the demo (tubscope demo)")

// Do maps an operator action onto the tub or the demo. Every call returns
// at once: connections are made on the engine's goroutines.
func (e *Engine) Do(a ui.Action) error {
	switch a.Kind {
	case ui.ActForceReconnect:
		if a.Peer == "" {
			return errors.New("reconnect: no peer")
		}
		// The queen cannot dial demo clients (they do not listen), so the
		// client opens the second connection itself.
		if e.demo != nil {
			if i, ok := e.demo.ClientIndex(a.Peer); ok {
				return e.demo.ForceReconnect(i, e.queen)
			}
		}
		return e.tub.ForceReconnect(a.Peer)
	case ui.ActDrop:
		return e.tub.DropBroker(a.Broker)
	case ui.ActBlackHole:
		return e.tub.BlackHoleBroker(a.Broker)
	case ui.ActRestart:
		return e.tub.Restart(false)
	case ui.ActSilentRestart:
		return e.tub.Restart(true)
	case ui.ActCyclePolicy:
		_, err := e.tub.CyclePolicy()
		return err
	case ui.ActLoseNext:
		if err := e.tub.LoseNextDecision(a.Peer); err != nil {
			return err
		}
		if err := e.tub.ForceReconnect(a.Peer); err != nil {
			return fmt.Errorf("the next decision with it will be lost, but reconnecting failed: %w", err)
		}
		return nil
	case ui.ActConnect:
		r, err := e.tub.ConnectTo(a.FURL, nil)
		if err != nil {
			return err
		}
		e.mu.Lock()
		e.recons = append(e.recons, r)
		e.mu.Unlock()
		return nil
	case ui.ActPowerCut, ui.ActStorm, ui.ActFlap, ui.ActLoseDecision, ui.ActClone:
		if e.demo == nil {
			return errNotDemo
		}
		return e.doDemo(a)
	}
	return fmt.Errorf("unknown action %q", a.Kind)
}

func (e *Engine) doDemo(a ui.Action) error {
	d := e.demo
	switch a.Kind {
	case ui.ActPowerCut:
		return d.PowerCut(a.Client)
	case ui.ActStorm:
		return d.Storm()
	case ui.ActFlap:
		return d.Flap(a.Client)
	case ui.ActLoseDecision:
		return d.LoseDecision(a.Client)
	case ui.ActClone:
		// The same key toggles the clone, so the operator can end the fight.
		if d.Cloned(a.Client) {
			return d.StopClone(a.Client)
		}
		return d.Clone(a.Client)
	}
	return fmt.Errorf("unknown demo action %q", a.Kind)
}
