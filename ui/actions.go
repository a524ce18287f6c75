package ui

import (
	"errors"
	"fmt"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/views"
)

var (
	errNoClient = errors.New("no demo client: pick one with 1-9 or select its row")
	errNoSource = errors.New("no tub to act on")
)

// actionForKey turns an action key into an Engine.Do command, through a
// confirmation when it is destructive; keys that are not actions (or not
// live here) do nothing.
func (m *Model) actionForKey(msg tea.KeyMsg) tea.Cmd {
	k := m.keys
	s := m.src()
	switch {
	case m.live(msg, k.Reconnect):
		tubid, name, ok := m.targetPeer()
		if !ok {
			return m.fail("connect now", "no peer selected, or this inbound connection has not said who it is yet")
		}
		return m.request(Action{Kind: ActForceReconnect, Peer: tubid}, "connect to "+name+" now")
	case m.live(msg, k.Drop), m.live(msg, k.BlackHole):
		kind, verb := ActDrop, "drop"
		if m.live(msg, k.BlackHole) {
			kind, verb = ActBlackHole, "black-hole"
		}
		r, ok := m.targetRow()
		if !ok || r.Broker == nil {
			what := "no row selected"
			if ok {
				what = s.names(r.TubID()) + " has no connection (" + string(r.State()) + ")"
			}
			return m.fail(verb, what)
		}
		return m.request(Action{Kind: kind, Broker: r.Broker.ID, Peer: r.Broker.PeerTubID},
			fmt.Sprintf("%s broker #%d to %s", verb, r.Broker.ID, s.names(r.TubID())))
	case m.live(msg, k.Restart):
		return m.request(Action{Kind: ActRestart}, "restart this tub cleanly (every connection closes, new incarnation)")
	case m.live(msg, k.SilentRestart):
		return m.request(Action{Kind: ActSilentRestart}, "restart this tub silently (old sockets black-holed, new incarnation)")
	case m.live(msg, k.Policy):
		next := negotiation.Cycle(s.snap.Policy)
		m.policyNext = next
		return m.request(Action{Kind: ActCyclePolicy}, "switch the policy to "+next)
	case m.live(msg, k.DemoClient):
		if len(msg.Runes) == 0 {
			return nil
		}
		n := int(msg.Runes[0] - '1')
		switch {
		case n >= len(s.demoClients):
			m.setFlash(fmt.Sprintf("no demo client %d (there are %d)", n+1, len(s.demoClients)), true)
		case m.demoClient == n:
			m.demoClient = -1
			m.setFlash("demo client cleared", false)
		default:
			m.demoClient = n
			m.setFlash("demo client: "+s.demoClients[n], false)
		}
		return nil
	case m.live(msg, k.Storm):
		return m.request(Action{Kind: ActStorm}, "power-cut every client at once")
	case m.live(msg, k.PowerCut):
		return m.clientAction(ActPowerCut)
	case m.live(msg, k.Flap):
		return m.clientAction(ActFlap)
	case m.live(msg, k.LoseDecision):
		if s.demo {
			return m.clientAction(ActLoseDecision)
		}
		tubid, name, ok := m.targetPeer()
		if !ok {
			return m.fail("lose next decision", "no peer selected")
		}
		return m.request(Action{Kind: ActLoseNext, Peer: tubid}, "lose the next decision with "+name+" and reconnect (against a Foolscap master this locks it out)")
	case m.live(msg, k.Clone):
		return m.clientAction(ActClone)
	case m.live(msg, k.ReplayToggle):
		return m.request(Action{Kind: ActReplayToggle}, "")
	case m.live(msg, k.ReplayStep):
		return m.request(Action{Kind: ActReplayStep}, "")
	case m.live(msg, k.ReplayFaster):
		return m.request(Action{Kind: ActReplaySpeedUp}, "")
	case m.live(msg, k.ReplaySlower):
		return m.request(Action{Kind: ActReplaySpeedDown}, "")
	case m.live(msg, k.ReplayTrigger):
		return m.request(Action{Kind: ActReplayTrigger}, "")
	}
	return nil
}

// refuse says why an action may not run here, "" when it may: --readonly
// refuses every action on a tub; a source that cannot act (a replay, a
// watched tub) refuses connection actions with its own reason.
func (m *Model) refuse(kind ActionKind) string {
	if kind.replay() {
		return ""
	}
	if m.opts.ReadOnly {
		return "read-only (--readonly): " + string(kind) + " is disabled"
	}
	if why := m.src().snap.Source.ReadOnly; why != "" {
		return string(kind) + " does not apply here: " + why
	}
	return ""
}

// request runs an action, or first asks for a y when it is destructive
// and this is not the demo, whose faults are staged on purpose.
func (m *Model) request(a Action, what string) tea.Cmd {
	if why := m.refuse(a.Kind); why != "" {
		m.setFlash(why, true)
		return nil
	}
	if a.Kind.destructive() && !m.src().demo {
		m.pending, m.pendingText = a, what
		m.under, m.mode = m.mode, modeConfirm
		return nil
	}
	return m.do(a)
}

// handleConfirm runs the pending action on y; any other key cancels it.
func (m Model) handleConfirm(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	m.mode = m.under
	if key := msg.String(); key == "y" || key == "Y" {
		return m, m.do(m.pending)
	}
	m.setFlash("cancelled: "+m.pendingText, false)
	return m, nil
}

// targetRow is the row an action aims at: the detail's peer, else the
// table's cursor row.
func (m *Model) targetRow() (*views.PeerRow, bool) {
	s := m.src()
	if m.mode == modeDetail {
		for i := range s.rows {
			if !s.rows[i].Sub && s.rows[i].TubID() == s.detail.TubID {
				return &s.rows[i], true
			}
		}
		return nil, false
	}
	return s.selectedRow()
}

// targetPeer is the peer an action aims at: the detail's, the log line's
// when the log has focus, else the table row's.
func (m *Model) targetPeer() (tubid, name string, ok bool) {
	s := m.src()
	switch {
	case m.mode == modeDetail:
		tubid = s.detail.TubID
	case m.focus == paneLog:
		if l, found := m.logLine(); found {
			tubid = s.logSnap().Decisions[l.Last].PeerTubID
		}
	default:
		if r, found := s.selectedRow(); found {
			tubid = r.TubID()
		}
	}
	if tubid == "" {
		return "", "", false
	}
	return tubid, s.names(tubid), true
}

// clientAction aims a demo action at the picked client, or else at the
// client whose row is selected.
func (m *Model) clientAction(kind ActionKind) tea.Cmd {
	c, ok := m.targetClient()
	if !ok {
		m.setFlash(string(kind)+": "+errNoClient.Error(), true)
		return nil
	}
	return m.request(Action{Kind: kind, Client: c}, describe(Action{Kind: kind, Client: c}, m.src().demoClients))
}

func (m *Model) targetClient() (int, bool) {
	s := m.src()
	if m.demoClient >= 0 && m.demoClient < len(s.demoClients) {
		return m.demoClient, true
	}
	r, ok := s.selectedRow()
	if !ok {
		return 0, false
	}
	nick := ""
	if r.Peer != nil {
		nick = r.Peer.Nickname
	} else if r.Broker != nil {
		nick = r.Broker.Nickname
	}
	for i, name := range s.demoClients {
		if name != "" && (name == nick || name == r.TubID()) {
			return i, true
		}
	}
	return 0, false
}

// do runs an action off the Update path; its outcome comes back as an
// actionDoneMsg and, from the engine, as events.
func (m *Model) do(a Action) tea.Cmd {
	e, src := m.src().engine, m.active
	return func() tea.Msg { return actionDoneMsg{src: src, action: a, err: e.Do(a)} }
}

func (m *Model) fail(what, why string) tea.Cmd {
	m.setFlash(what+": "+why, true)
	return nil
}

func (m *Model) actionDone(msg actionDoneMsg) {
	var clients []string
	if msg.src >= 0 && msg.src < len(m.sources) {
		clients = m.sources[msg.src].demoClients
	}
	what := describe(msg.action, clients)
	if msg.err != nil {
		m.setFlash(fmt.Sprintf("%s failed: %v", what, msg.err), true)
		return
	}
	if msg.action.Kind == ActCyclePolicy {
		// Say what the new policy does, in its own sentence.
		m.setFlash("policy → "+m.policyNext+": "+negotiation.Describe(m.policyNext), false)
		return
	}
	m.setFlash(what+" requested", false)
}

// describe says what an action did in the operator's terms.
func describe(a Action, clients []string) string {
	client := func() string {
		if a.Client >= 0 && a.Client < len(clients) {
			return clients[a.Client]
		}
		return fmt.Sprintf("client %d", a.Client+1)
	}
	switch a.Kind {
	case ActForceReconnect:
		return "connect now to " + views.Short(a.Peer, 8)
	case ActDrop:
		return fmt.Sprintf("drop of broker #%d", a.Broker)
	case ActBlackHole:
		return fmt.Sprintf("black-hole of broker #%d", a.Broker)
	case ActRestart:
		return "clean restart (new incarnation)"
	case ActSilentRestart:
		return "silent restart (old sockets black-holed, new incarnation)"
	case ActCyclePolicy:
		return "policy change"
	case ActConnect:
		return "connect to " + a.FURL
	case ActLoseNext:
		return "lost decision with " + views.Short(a.Peer, 8) + " and a reconnect"
	case ActPowerCut:
		return "power cut of " + client()
	case ActStorm:
		return "storm (power cut of every client)"
	case ActFlap:
		return "flap of " + client()
	case ActLoseDecision:
		return "lost decision to " + client()
	case ActClone:
		return "clone of " + client()
	case ActReplayToggle:
		return "replay play/pause"
	case ActReplayStep:
		return "replay step to the next offer"
	case ActReplaySpeedUp:
		return "replay speed-up"
	case ActReplaySpeedDown:
		return "replay slow-down"
	case ActReplayTrigger:
		return "replay jump to the trigger"
	}
	return string(a.Kind)
}
