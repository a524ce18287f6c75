package ui

import tea "github.com/charmbracelet/bubbletea"

// Run shows the inspector on the terminal until the operator quits. The
// alternate screen keeps the operator's scrollback intact, and bubbletea
// restores the terminal on the way out, also after a panic in Update.
func Run(e Engine, opts Options) error {
	m := New(e, opts)
	defer m.stop()
	p := tea.NewProgram(m, tea.WithAltScreen())
	_, err := p.Run()
	return err
}

// stop unparks the feed listener and releases the subscription.
func (m Model) stop() {
	close(m.done)
	m.feed.Close()
}
