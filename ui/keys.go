package ui

import "github.com/charmbracelet/bubbles/key"

// keyMap is every binding the inspector knows. The same values drive key
// matching in Update and the help screen, so help can never drift from
// behaviour.
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

	// Peer table.
	Sort    key.Binding
	Reverse key.Binding

	// Decision log.
	Expand     key.Binding
	JumpPeer   key.Binding
	Verdict    key.Binding
	RuleFilter key.Binding
	Search     key.Binding
	NextMatch  key.Binding
	PrevMatch  key.Binding
	Fold       key.Binding
	Pause      key.Binding
	Export     key.Binding

	// What is shown.
	StormStrip key.Binding
	Compare    key.Binding
	PrevSource key.Binding
	NextSource key.Binding
	PickSource key.Binding

	// Operator actions.
	Reconnect     key.Binding
	Drop          key.Binding
	BlackHole     key.Binding
	Restart       key.Binding
	SilentRestart key.Binding
	Policy        key.Binding
	Connect       key.Binding
	LoseDecision  key.Binding

	// Demo-only actions.
	DemoClient key.Binding
	PowerCut   key.Binding
	Storm      key.Binding
	Flap       key.Binding
	Clone      key.Binding

	// Replay sources.
	ReplayToggle  key.Binding
	ReplayStep    key.Binding
	ReplayFaster  key.Binding
	ReplaySlower  key.Binding
	ReplayTrigger key.Binding

	// Prompts and confirmations.
	Accept  key.Binding
	Cancel  key.Binding
	Confirm key.Binding
}

func defaultKeys() keyMap {
	b := func(keys []string, helpKey, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(helpKey, desc))
	}
	return keyMap{
		Up:       b([]string{"k", "up"}, "↑/k", "up"),
		Down:     b([]string{"j", "down"}, "↓/j", "down"),
		Top:      b([]string{"g", "home"}, "g", "top"),
		Bottom:   b([]string{"G", "end"}, "G", "bottom (follow newest)"),
		PageUp:   b([]string{"pgup"}, "pgup", "page up"),
		PageDown: b([]string{"pgdown"}, "pgdn", "page down"),
		Focus:    b([]string{"tab", "shift+tab"}, "tab", "next pane"),
		Enter:    b([]string{"enter"}, "enter", "peer detail"),
		Back:     b([]string{"esc"}, "esc", "back"),
		Filter:   b([]string{"/"}, "/", "filter"),
		Help:     b([]string{"?"}, "?", "help"),
		Quit:     b([]string{"q", "ctrl+c"}, "q", "quit"),

		Sort:    b([]string{"o"}, "o", "sort column"),
		Reverse: b([]string{"O"}, "O", "reverse sort"),

		Expand:     b([]string{"enter"}, "enter", "expand line"),
		JumpPeer:   b([]string{"l", "right"}, "→/l", "go to its peer"),
		Verdict:    b([]string{"v"}, "v", "verdict filter"),
		RuleFilter: b([]string{"f"}, "f", "rule filter"),
		Search:     b([]string{"s"}, "s", "search"),
		NextMatch:  b([]string{"n"}, "n", "next match"),
		PrevMatch:  b([]string{"N"}, "N", "previous match"),
		Fold:       b([]string{"z"}, "z", "group repeats on/off"),
		Pause:      b([]string{" "}, "space", "pause log"),
		Export:     b([]string{"e"}, "e", "export log"),

		StormStrip: b([]string{"a"}, "a", "storm strip"),
		Compare:    b([]string{"w"}, "w", "side by side"),
		PrevSource: b([]string{"["}, "[", "previous tub"),
		NextSource: b([]string{"]"}, "]", "next tub"),
		PickSource: b([]string{"alt+1", "alt+2", "alt+3", "alt+4", "alt+5", "alt+6", "alt+7", "alt+8", "alt+9"}, "alt+1-9", "pick tub"),

		Reconnect:     b([]string{"r"}, "r", "connect now"),
		Drop:          b([]string{"x"}, "x", "drop broker"),
		BlackHole:     b([]string{"b"}, "b", "black-hole broker"),
		Restart:       b([]string{"R"}, "R", "restart tub"),
		SilentRestart: b([]string{"S"}, "S", "silent restart"),
		Policy:        b([]string{"p"}, "p", "next policy"),
		Connect:       b([]string{"c"}, "c", "connect FURL"),
		LoseDecision:  b([]string{"L"}, "L", "lose next decision"),

		DemoClient: b([]string{"1", "2", "3", "4", "5", "6", "7", "8", "9"}, "1-9", "pick client"),
		PowerCut:   b([]string{"P"}, "P", "power cut"),
		Storm:      b([]string{"T"}, "T", "storm"),
		Flap:       b([]string{"F"}, "F", "flap"),
		Clone:      b([]string{"C"}, "C", "clone"),

		ReplayToggle:  b([]string{">"}, ">", "play/pause replay"),
		ReplayStep:    b([]string{"."}, ".", "step to next offer"),
		ReplayFaster:  b([]string{"+"}, "+", "replay faster"),
		ReplaySlower:  b([]string{"-"}, "-", "replay slower"),
		ReplayTrigger: b([]string{"!"}, "!", "jump to trigger"),

		Accept:  b([]string{"enter"}, "enter", "apply"),
		Cancel:  b([]string{"esc"}, "esc", "cancel"),
		Confirm: b([]string{"y"}, "y", "yes, do it"),
	}
}

// context is the set of bindings live at one moment; it decides both what
// a key means and what help offers.
type context int

const (
	ctxTable context = iota
	ctxLog
	ctxEvents
	ctxDetail
	ctxCompare
	ctxHelp
	ctxPrompt
	ctxConfirm
	numContexts
)

// keyFlags are what the active source offers.
type keyFlags struct {
	demo    bool // demo actions
	replay  bool // replay cursor keys
	sources bool // more than one source: switcher and compare
}

// groups returns the bindings live in a context, grouped for full help.
// The first group is the short help bar, help and quit first so narrow
// terminals keep them.
func (k keyMap) groups(c context, f keyFlags) [][]key.Binding {
	nav := []key.Binding{k.Up, k.Down, k.Top, k.Bottom, k.PageUp, k.PageDown}
	global := []key.Binding{k.Restart, k.SilentRestart, k.Policy, k.Connect}
	view := []key.Binding{k.Pause, k.Export, k.StormStrip}
	if f.sources {
		view = append(view, k.Compare, k.PrevSource, k.NextSource, k.PickSource)
	}
	var demoKeys []key.Binding
	if f.demo {
		demoKeys = []key.Binding{k.DemoClient, k.PowerCut, k.Storm, k.Flap, k.LoseDecision, k.Clone}
	}
	var replay []key.Binding
	if f.replay {
		replay = []key.Binding{k.ReplayToggle, k.ReplayStep, k.ReplayFaster, k.ReplaySlower, k.ReplayTrigger}
	}
	// Outside the demo, L loses the next decision with the selected peer.
	peerActions := []key.Binding{k.Reconnect, k.Drop, k.BlackHole}
	if !f.demo {
		peerActions = append(peerActions, k.LoseDecision)
	}
	var g [][]key.Binding
	switch c {
	case ctxTable:
		g = [][]key.Binding{
			{k.Help, k.Quit, k.Focus, k.Enter, k.Filter, k.Sort, k.Reverse, k.Reconnect},
			nav, view, append(peerActions[1:], global...),
		}
	case ctxLog:
		g = [][]key.Binding{
			{k.Help, k.Quit, k.Focus, k.Expand, k.Filter, k.RuleFilter, k.Verdict, k.Search},
			nav,
			{k.NextMatch, k.PrevMatch, k.Fold, k.JumpPeer, k.Reconnect},
			view, global,
		}
	case ctxEvents:
		g = [][]key.Binding{{k.Help, k.Quit, k.Focus}, nav, view, global}
	case ctxDetail:
		g = [][]key.Binding{{k.Back, k.Help, k.Quit, k.Reconnect}, nav, append(peerActions[1:], global...), {k.Pause, k.Export}}
	case ctxCompare:
		g = [][]key.Binding{{k.Help, k.Quit, k.Compare, k.PrevSource, k.NextSource}, {k.PickSource}}
	case ctxHelp:
		return [][]key.Binding{{k.Back, k.Help, k.Quit, k.Down, k.Up}, {k.Top, k.Bottom, k.PageUp, k.PageDown}}
	case ctxPrompt:
		return [][]key.Binding{{k.Accept, k.Cancel}}
	case ctxConfirm:
		return [][]key.Binding{{k.Confirm, k.Cancel}}
	}
	if demoKeys != nil {
		g = append(g, demoKeys)
	}
	if replay != nil {
		g = append(g, replay)
	}
	return g
}
