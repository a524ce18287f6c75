package live

import (
	"context"
	"fmt"

	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/flogapp"
	"github.com/tubscope/tubscope/tubclient/logport"
	"github.com/tubscope/tubscope/tubclient/snapshot"
	"github.com/tubscope/tubscope/ui"
)

// WatchedEngine shows a remote tub seen through its logport. It only
// reads: every action is refused with the reason the snapshot's
// Source.ReadOnly gives.
type WatchedEngine struct{ w *flogapp.Watched }

var _ ui.Engine = (*WatchedEngine)(nil)

// NewWatchedEngine adapts a watched logport.
func NewWatchedEngine(w *flogapp.Watched) *WatchedEngine { return &WatchedEngine{w: w} }

// Snapshot is the newest reconstructed snapshot, published at most ten
// times a second.
func (e *WatchedEngine) Snapshot() *snapshot.Snapshot { return e.w.Snapshot() }

// Subscribe hands out a bounded feed of the reconstructed events.
func (e *WatchedEngine) Subscribe(capacity int) ui.Feed { return e.w.Subscribe(capacity) }

// Do refuses: tubscope cannot act on a tub it only watches.
func (e *WatchedEngine) Do(a ui.Action) error {
	return fmt.Errorf("%s does not apply here: %s", a.Kind, flogapp.WatchedReadOnly)
}

// Demo reports that a watched tub has no demo clients.
func (e *WatchedEngine) Demo() ([]string, bool) { return nil, false }

// watchAll starts watching each logport target through one tub of its
// own, so the inspected tub's restarts, policy and table are not mixed
// with the watching. Every target must resolve to a FURL now, so a typo
// is reported before the screen opens; a node that is down is retried.
func watchAll(ctx context.Context, targets []string, kex tubclient.KeyExchange) (engines []ui.Engine, stop func(), err error) {
	if len(targets) == 0 {
		return nil, func() {}, nil
	}
	for _, target := range targets {
		if _, err := logport.ResolveTarget(target); err != nil {
			return nil, nil, fmt.Errorf("--logport: %w", err)
		}
	}
	watcher, err := tubclient.New(tubclient.Config{Nickname: "tubscope watcher", KeyExchange: kex})
	if err != nil {
		return nil, nil, err
	}
	var watched []*flogapp.Watched
	for _, target := range targets {
		w := flogapp.Watch(ctx, watcher, target, flogapp.WatchOptions{})
		watched = append(watched, w)
		engines = append(engines, NewWatchedEngine(w))
	}
	return engines, func() {
		for _, w := range watched {
			w.Close()
		}
		watcher.Close()
	}, nil
}
