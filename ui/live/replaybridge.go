package live

import (
	"errors"
	"fmt"
	"io"

	"github.com/tubscope/tubscope/tubclient/flog/replay"
	"github.com/tubscope/tubscope/tubclient/snapshot"
	"github.com/tubscope/tubscope/ui"
)

// ReplayEngine shows saved log files through a replay.Player: the replay
// keys move its time cursor, and every other action is refused.
type ReplayEngine struct{ p *replay.Player }

var _ ui.Engine = (*ReplayEngine)(nil)

// NewReplayEngine adapts a player.
func NewReplayEngine(p *replay.Player) *ReplayEngine { return &ReplayEngine{p: p} }

// Snapshot is the tub as of the cursor.
func (e *ReplayEngine) Snapshot() *snapshot.Snapshot { return e.p.Snapshot() }

// Subscribe hands out a bounded feed of the events as they are replayed.
func (e *ReplayEngine) Subscribe(capacity int) ui.Feed { return e.p.Subscribe(capacity) }

// Do moves the cursor. The ui calls it off its own goroutine, so a step
// or a jump that reads far ahead holds up nothing but its own answer.
func (e *ReplayEngine) Do(a ui.Action) error {
	switch a.Kind {
	case ui.ActReplayToggle:
		return e.p.Toggle()
	case ui.ActReplayStep:
		return e.p.Step()
	case ui.ActReplaySpeedUp:
		return e.p.SpeedUp()
	case ui.ActReplaySpeedDown:
		return e.p.SpeedDown()
	case ui.ActReplayTrigger:
		return e.p.JumpToTrigger()
	}
	return fmt.Errorf("%s does not apply to a replay of saved logs: there is no live connection to act on", a.Kind)
}

// Demo reports that a replay has no demo clients.
func (e *ReplayEngine) Demo() ([]string, bool) { return nil, false }

// ReplayOptions are `tubscope replay`'s flags for the inspector.
type ReplayOptions struct {
	Files []string
	// Speed is log seconds played per wall second (0: 1).
	Speed float64
	Screen
}

// Replay opens the files in the inspector until the operator quits, then
// writes to errw how many lines were bad and the newest of them (each
// names its file and line), which the screen showed one at a time.
func Replay(o ReplayOptions, errw io.Writer) error {
	p, err := replay.Open(o.Files, replay.Options{Speed: o.Speed})
	if err != nil {
		return err
	}
	title := p.Snapshot().Source.Name
	err = runUI([]ui.Engine{NewReplayEngine(p)}, o.Screen, "tubscope · "+title, false)
	total, recent := p.Errors()
	err = errors.Join(err, p.Close())
	if total > 0 {
		fmt.Fprintf(errw, "tubscope replay: %d bad lines or unreadable files; the newest:\n", total)
		for _, e := range recent[max(len(recent)-10, 0):] {
			fmt.Fprintln(errw, "  ", e)
		}
	}
	return err
}
