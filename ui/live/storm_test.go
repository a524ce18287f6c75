package live

import (
	"errors"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/tubscope/tubscope/tubclient/snapshot"
	"github.com/tubscope/tubscope/tubclient/storm"
	"github.com/tubscope/tubscope/ui"
)

// A storm source shows in the inspector read-only: its snapshot and feed
// pass through, and every action is refused with the reason.
func TestStormEngine(t *testing.T) {
	src := storm.NewSource()
	src.Planned(storm.Plan{N: 2, TubID: "queenqueenqueenqueenqueenqueenqu", Fault: storm.SilentRestart, Rounds: 1,
		Children: 1, Sizes: []int{2}})
	e := NewStormEngine(src)
	feed := e.Subscribe(16)
	defer feed.Close()
	src.Client(storm.ClientEvent{Kind: storm.EventUp, Client: 1, Time: time.Now(), TubID: "clientclientclientclientclientcl"})
	src.Note("probe: fine")
	s := e.Snapshot()
	if s.Source.Kind != snapshot.SourceStorm || len(s.Peers) != 2 || s.Peers[1].State != snapshot.PeerLive {
		t.Fatalf("snapshot %+v", s)
	}
	if evs := feed.Drain(0); len(evs) != 1 || evs[0].Message != "probe: fine" {
		t.Errorf("feed %+v", evs)
	}
	for _, k := range []ui.ActionKind{ui.ActForceReconnect, ui.ActDrop, ui.ActSilentRestart, ui.ActConnect, ui.ActReplayToggle} {
		if err := e.Do(ui.Action{Kind: k}); !errors.Is(err, ErrStormReadOnly) || !strings.Contains(err.Error(), string(k)) {
			t.Errorf("%s: %v", k, err)
		}
	}
	if _, ok := e.Demo(); ok {
		t.Error("a storm claims demo clients")
	}

	// The inspector draws it, and its own read-only rule refuses a
	// connection action before the engine is asked.
	m := tea.Model(ui.New([]ui.Engine{e}, ui.Options{}))
	m, _ = m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	m, _ = m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("S")})
	view := m.View()
	for _, want := range []string{"c1", "live", "does not apply here", "read-only"} {
		if !strings.Contains(view, want) {
			t.Errorf("screen lacks %q:\n%s", want, view)
		}
	}
}
