package ui

import (
	"os"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/mattn/go-isatty"
	"github.com/muesli/termenv"

	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// Run shows the inspector on the terminal until the operator quits. The
// alternate screen keeps the operator's scrollback intact, and bubbletea
// restores the terminal on the way out, also after a panic in Update.
// Mouse reporting is on only with Options.Mouse, so by default the
// terminal's own text selection works.
func Run(sources []Engine, opts Options) error {
	if p, ok := noColorProfile(os.Getenv, isatty.IsTerminal(os.Stdout.Fd())); ok {
		lipgloss.SetColorProfile(p)
	}
	popts := []tea.ProgramOption{tea.WithAltScreen()}
	if opts.Mouse {
		popts = append(popts, tea.WithMouseCellMotion())
	}
	_, err := run(New(sources, opts), popts...)
	return err
}

// noColorProfile keeps attributes under NO_COLOR: termenv's NO_COLOR
// profile drops reverse video and bold with the colours, which loses the
// cursor row. The plain theme has no colours, so the basic profile is safe.
func noColorProfile(getenv func(string) string, terminal bool) (termenv.Profile, bool) {
	if getenv("NO_COLOR") == "" || !terminal {
		return termenv.Ascii, false
	}
	return termenv.ANSI, true
}

func run(m Model, popts ...tea.ProgramOption) (Model, error) {
	defer m.stop()
	final, err := tea.NewProgram(m, popts...).Run()
	if fm, ok := final.(Model); ok {
		return fm, err
	}
	return m, err
}

// stop unparks the feed listeners and releases the subscriptions.
func (m Model) stop() {
	close(m.done)
	for i := range m.sources {
		m.sources[i].feed.Close()
	}
}

// nullEngine stands in when New is given no source: an empty tub that
// never changes, so the screen still explains itself.
type nullEngine struct{}

func (nullEngine) Snapshot() *snapshot.Snapshot { return nil }
func (nullEngine) Subscribe(int) Feed           { return nullFeed{} }
func (nullEngine) Do(a Action) error            { return errNoSource }
func (nullEngine) Demo() ([]string, bool)       { return nil, false }

type nullFeed struct{}

func (nullFeed) Changed() <-chan struct{}   { return nil }
func (nullFeed) Drain(int) []snapshot.Event { return nil }
func (nullFeed) Dropped() uint64            { return 0 }
func (nullFeed) Close()                     {}
