package ui

import tea "github.com/charmbracelet/bubbletea"

// Run shows the inspector on the terminal until the operator quits. The
// alternate screen keeps the operator's scrollback intact, and bubbletea
// restores the terminal on the way out, also after a panic in Update.
// Mouse reporting stays off so the terminal's own text selection works.
func Run(e Engine, opts Options) error {
	_, err := run(New(e, opts), tea.WithAltScreen())
	return err
}

func run(m Model, popts ...tea.ProgramOption) (Model, error) {
	defer m.stop()
	final, err := tea.NewProgram(m, popts...).Run()
	if fm, ok := final.(Model); ok {
		return fm, err
	}
	return m, err
}

// stop unparks the feed listener and releases the subscription.
func (m Model) stop() {
	close(m.done)
	m.feed.Close()
}
