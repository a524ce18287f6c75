package live

import (
	"context"
	"errors"
	"fmt"

	"github.com/tubscope/tubscope/tubclient/snapshot"
	"github.com/tubscope/tubscope/tubclient/storm"
	"github.com/tubscope/tubscope/ui"
)

// StormEngine shows a staged storm from its clients' side. It takes no
// actions: the clients follow the storm's script, not the operator.
type StormEngine struct{ src *storm.Source }

var _ ui.Engine = (*StormEngine)(nil)

// NewStormEngine adapts a storm source (pass the same source to storm.Run).
func NewStormEngine(src *storm.Source) *StormEngine { return &StormEngine{src: src} }

// Snapshot is the storm's newest snapshot.
func (e *StormEngine) Snapshot() *snapshot.Snapshot { return e.src.Snapshot() }

// Subscribe hands out the storm's bounded feed of faults and outcomes.
func (e *StormEngine) Subscribe(capacity int) ui.Feed { return e.src.Subscribe(capacity) }

// Demo: a storm has no demo clients.
func (e *StormEngine) Demo() ([]string, bool) { return nil, false }

// ErrStormReadOnly is Do's answer to every action.
var ErrStormReadOnly = errors.New(storm.ReadOnlyReason)

// Do refuses: the storm's clients are driven by its script.
func (e *StormEngine) Do(a ui.Action) error {
	return fmt.Errorf("%s: %w", a.Kind, ErrStormReadOnly)
}

// Storm runs a storm with the inspector showing it. The storm runs until
// it ends or the operator quits (which cuts it short: every client process
// is stopped either way); the result so far is returned.
func Storm(ctx context.Context, o storm.Options) (storm.Result, error) {
	if err := storm.Check(ctx, o); err != nil {
		return storm.Result{}, err // said before the screen changes
	}
	src := storm.NewSource()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type outcome struct {
		res storm.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := storm.Run(ctx, o, src)
		done <- outcome{res, err}
	}()
	uiErr := ui.Run([]ui.Engine{NewStormEngine(src)}, ui.Options{Title: "tubscope storm"})
	cancel()
	out := <-done
	if errors.Is(out.err, context.Canceled) {
		out.err = nil // the operator quit: the result so far stands
	}
	return out.res, errors.Join(uiErr, out.err)
}
