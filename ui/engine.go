package ui

import "github.com/tubscope/tubscope/tubclient/snapshot"

// Engine is what the inspector needs from a running tub (and, in demo mode,
// its in-process clients). The network never waits on the UI: Subscribe
// hands out a bounded feed whose overflow is counted, not blocked on.
type Engine interface {
	Snapshot() snapshot.Snapshot
	Subscribe(capacity int) Feed
	// Do performs an operator action; it must return quickly (the work
	// happens on the engine's goroutines and shows up as events).
	Do(a Action) error
	// Demo reports whether demo-only actions (power cut, storm, flap, lose
	// decision, clone) are available, and the names of the demo clients.
	Demo() (clients []string, ok bool)
}

// Feed is one subscriber's bounded event queue.
type Feed interface {
	Changed() <-chan struct{} // one-slot signal: something new to drain
	Drain(max int) []snapshot.Event
	Dropped() uint64
	Close()
}

// ActionKind names an operator action.
type ActionKind string

const (
	ActForceReconnect ActionKind = "force-reconnect" // Peer
	ActDrop           ActionKind = "drop"            // Broker (clean FIN)
	ActBlackHole      ActionKind = "black-hole"      // Broker
	ActRestart        ActionKind = "restart"         // clean restart, new incarnation
	ActSilentRestart  ActionKind = "silent-restart"  // old sockets black-holed, new incarnation
	ActCyclePolicy    ActionKind = "cycle-policy"
	ActConnect        ActionKind = "connect" // FURL
	// ActLoseNext arms a lost decision with Peer and reconnects to it: S3
	// against a real peer, whichever side is master.
	ActLoseNext ActionKind = "lose-next-decision"
	// Demo only: Client is the demo client's index.
	ActPowerCut     ActionKind = "power-cut"     // black-hole a client's conns, restart it with a new incarnation
	ActStorm        ActionKind = "storm"         // power-cut every client at once
	ActFlap         ActionKind = "flap"          // the client's network goes dark for a while
	ActLoseDecision ActionKind = "lose-decision" // S3: the next decision to the client is lost and it forgets
	ActClone        ActionKind = "clone"         // S6: start a second process with the client's key
)

// Action is one operator request.
type Action struct {
	Kind   ActionKind
	Peer   string // tubid
	Broker uint64
	FURL   string
	Client int
}
