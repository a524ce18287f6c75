package ui

import "github.com/charmbracelet/bubbles/key"

// keyMap is every binding the inspector knows. The same values drive key
// matching in Update and the help bar, so help can never drift from behaviour.
type keyMap struct {
	// Moving around.
	Up       key.Binding
	Down     key.Binding
	Top      key.Binding
	Bottom   key.Binding
	PageUp   key.Binding
	PageDown key.Binding
	Focus    key.Binding
	Enter    key.Binding
	Back     key.Binding
	Filter   key.Binding
	Help     key.Binding
	Quit     key.Binding

	// Broker table.
	Sort    key.Binding
	Reverse key.Binding

	// Decision log.
	Verdict key.Binding
	Pause   key.Binding
	Export  key.Binding

	// Operator actions.
	Reconnect     key.Binding
	Drop          key.Binding
	BlackHole     key.Binding
	Restart       key.Binding
	SilentRestart key.Binding
	Policy        key.Binding
	Connect       key.Binding

	// Demo-only actions.
	DemoClient   key.Binding
	PowerCut     key.Binding
	Storm        key.Binding
	Flap         key.Binding
	LoseDecision key.Binding
	Clone        key.Binding

	// Prompts (filter and connect).
	Accept key.Binding
	Cancel key.Binding
}

func defaultKeys() keyMap {
	b := func(keys []string, helpKey, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(helpKey, desc))
	}
	return keyMap{
		Up:       b([]string{"k", "up"}, "↑/k", "up"),
		Down:     b([]string{"j", "down"}, "↓/j", "down"),
		Top:      b([]string{"g", "home"}, "g", "top"),
		Bottom:   b([]string{"G", "end"}, "G", "bottom"),
		PageUp:   b([]string{"pgup"}, "pgup", "page up"),
		PageDown: b([]string{"pgdown"}, "pgdn", "page down"),
		Focus:    b([]string{"tab", "shift+tab"}, "tab", "switch pane"),
		Enter:    b([]string{"enter"}, "enter", "peer detail"),
		Back:     b([]string{"esc"}, "esc", "back"),
		Filter:   b([]string{"/"}, "/", "filter"),
		Help:     b([]string{"?"}, "?", "help"),
		Quit:     b([]string{"q", "ctrl+c"}, "q", "quit"),

		Sort:    b([]string{"o"}, "o", "sort column"),
		Reverse: b([]string{"O"}, "O", "reverse sort"),

		Verdict: b([]string{"v"}, "v", "verdict filter"),
		Pause:   b([]string{" "}, "space", "pause log"),
		Export:  b([]string{"e"}, "e", "export log"),

		Reconnect:     b([]string{"r"}, "r", "reconnect peer"),
		Drop:          b([]string{"x"}, "x", "drop broker"),
		BlackHole:     b([]string{"b"}, "b", "black-hole broker"),
		Restart:       b([]string{"R"}, "R", "restart tub"),
		SilentRestart: b([]string{"S"}, "S", "silent restart"),
		Policy:        b([]string{"p"}, "p", "cycle policy"),
		Connect:       b([]string{"c"}, "c", "connect FURL"),

		DemoClient:   b([]string{"1", "2", "3", "4", "5", "6", "7", "8", "9"}, "1-9", "pick client"),
		PowerCut:     b([]string{"P"}, "P", "power cut"),
		Storm:        b([]string{"T"}, "T", "storm"),
		Flap:         b([]string{"F"}, "F", "flap"),
		LoseDecision: b([]string{"L"}, "L", "lose decision"),
		Clone:        b([]string{"C"}, "C", "clone"),

		Accept: b([]string{"enter"}, "enter", "apply"),
		Cancel: b([]string{"esc"}, "esc", "cancel"),
	}
}

// context is the set of bindings live at one moment; it decides both what a
// key means and what the help bar offers.
type context int

const (
	ctxBrokers context = iota
	ctxLog
	ctxDetail
	ctxHelp
	ctxPrompt
)

// groups returns the bindings live in a context, grouped for full help. The
// first group is the short help bar, help and quit first so narrow
// terminals keep them.
func (k keyMap) groups(c context, demo bool) [][]key.Binding {
	actions := []key.Binding{k.Reconnect, k.Drop, k.BlackHole, k.Restart, k.SilentRestart, k.Policy, k.Connect}
	if !demo {
		// Outside the demo, L loses the next decision with the selected peer.
		actions = append(actions, k.LoseDecision)
	}
	demoKeys := []key.Binding{k.DemoClient, k.PowerCut, k.Storm, k.Flap, k.LoseDecision, k.Clone}
	nav := []key.Binding{k.Up, k.Down, k.Top, k.Bottom, k.PageUp, k.PageDown}
	var g [][]key.Binding
	switch c {
	case ctxBrokers:
		g = [][]key.Binding{
			{k.Help, k.Quit, k.Focus, k.Enter, k.Filter, k.Sort, k.Reverse, k.Pause},
			nav,
			{k.Verdict, k.Export},
			actions,
		}
	case ctxLog:
		g = [][]key.Binding{
			{k.Help, k.Quit, k.Focus, k.Filter, k.Verdict, k.Pause, k.Export},
			nav,
			actions,
		}
	case ctxDetail:
		more := []key.Binding{k.Policy, k.Restart, k.SilentRestart, k.Connect, k.Export, k.Pause}
		if !demo {
			more = append(more, k.LoseDecision)
		}
		g = [][]key.Binding{
			{k.Back, k.Help, k.Quit, k.Reconnect},
			nav,
			more,
		}
	case ctxHelp:
		return [][]key.Binding{{k.Back, k.Help, k.Quit}}
	case ctxPrompt:
		return [][]key.Binding{{k.Accept, k.Cancel}}
	}
	if demo {
		g = append(g, demoKeys)
	}
	return g
}

// helpKeys adapts one context to bubbles/help.
type helpKeys struct {
	groups [][]key.Binding
}

func (h helpKeys) ShortHelp() []key.Binding {
	if len(h.groups) == 0 {
		return nil
	}
	return h.groups[0]
}

func (h helpKeys) FullHelp() [][]key.Binding { return h.groups }
