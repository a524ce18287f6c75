package ui

import (
	"errors"
	"fmt"

	tea "github.com/charmbracelet/bubbletea"
)

var (
	errNoBroker = errors.New("no broker selected")
	errNoClient = errors.New("no demo client: pick one with 1-9 or select its broker")
)

// actionForKey turns an action key into an Engine.Do command; keys that
// are not actions (or not live here) do nothing.
func (m *Model) actionForKey(msg tea.KeyMsg) tea.Cmd {
	k := m.keys
	switch {
	case m.live(msg, k.Reconnect):
		peer, ok := m.targetPeer()
		if !ok {
			return m.fail("reconnect", errNoBroker)
		}
		return m.do(Action{Kind: ActForceReconnect, Peer: peer})
	case m.live(msg, k.Drop):
		b, ok := m.selectedBroker()
		if !ok {
			return m.fail("drop", errNoBroker)
		}
		return m.do(Action{Kind: ActDrop, Broker: b.ID, Peer: b.PeerTubID})
	case m.live(msg, k.BlackHole):
		b, ok := m.selectedBroker()
		if !ok {
			return m.fail("black-hole", errNoBroker)
		}
		return m.do(Action{Kind: ActBlackHole, Broker: b.ID, Peer: b.PeerTubID})
	case m.live(msg, k.Restart):
		return m.do(Action{Kind: ActRestart})
	case m.live(msg, k.SilentRestart):
		return m.do(Action{Kind: ActSilentRestart})
	case m.live(msg, k.Policy):
		return m.do(Action{Kind: ActCyclePolicy})
	case m.live(msg, k.DemoClient):
		if len(msg.Runes) == 0 {
			return nil
		}
		n := int(msg.Runes[0] - '1')
		switch {
		case n >= len(m.demoClients):
			m.setFlash(fmt.Sprintf("no demo client %d (there are %d)", n+1, len(m.demoClients)), true)
		case m.demoClient == n:
			m.demoClient = -1
			m.setFlash("demo client cleared", false)
		default:
			m.demoClient = n
			m.setFlash("demo client: "+m.demoClients[n], false)
		}
		return nil
	case m.live(msg, k.Storm):
		return m.do(Action{Kind: ActStorm})
	case m.live(msg, k.PowerCut):
		return m.clientAction(ActPowerCut)
	case m.live(msg, k.Flap):
		return m.clientAction(ActFlap)
	case m.live(msg, k.LoseDecision):
		if m.demo {
			return m.clientAction(ActLoseDecision)
		}
		peer, ok := m.targetPeer()
		if !ok {
			return m.fail("lose decision", errNoBroker)
		}
		return m.do(Action{Kind: ActLoseNext, Peer: peer})
	case m.live(msg, k.Clone):
		return m.clientAction(ActClone)
	}
	return nil
}

// targetPeer is the peer an action aims at: the one shown in the detail
// view, else the selected broker's.
func (m *Model) targetPeer() (string, bool) {
	if m.mode == modeDetail {
		return m.detail.TubID, true
	}
	b, ok := m.selectedBroker()
	return b.PeerTubID, ok
}

// clientAction aims a demo action at the picked client, or else at the
// client whose broker is selected.
func (m *Model) clientAction(kind ActionKind) tea.Cmd {
	c, ok := m.targetClient()
	if !ok {
		return m.fail(string(kind), errNoClient)
	}
	return m.do(Action{Kind: kind, Client: c})
}

func (m Model) targetClient() (int, bool) {
	if m.demoClient >= 0 && m.demoClient < len(m.demoClients) {
		return m.demoClient, true
	}
	b, ok := m.selectedBroker()
	if !ok {
		return 0, false
	}
	for i, name := range m.demoClients {
		if name != "" && (name == b.Nickname || name == b.PeerTubID) {
			return i, true
		}
	}
	return 0, false
}

// do runs an action off the Update path; its outcome comes back as an
// actionDoneMsg and, from the engine, as events.
func (m Model) do(a Action) tea.Cmd {
	e := m.engine
	return func() tea.Msg { return actionDoneMsg{action: a, err: e.Do(a)} }
}

func (m *Model) fail(what string, err error) tea.Cmd {
	m.setFlash(what+": "+err.Error(), true)
	return nil
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
		return "reconnect to " + short(a.Peer)
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
		return "lost decision with " + short(a.Peer) + " and a reconnect"
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
	}
	return string(a.Kind)
}

// short trims a tubid to a recognisable prefix.
func short(tubid string) string {
	if len(tubid) > 8 {
		return tubid[:8]
	}
	return tubid
}
