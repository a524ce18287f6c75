package ui

import "github.com/tubscope/tubscope/tubclient/snapshot"

// Engine is one source the inspector shows: the embedded tub (and, in the
// demo, its in-process clients), a remote tub watched through its
// logport, a replay of saved log files, a storm's clients, or one of the
// demo's compare queens. The network never waits on the UI: Subscribe
// hands out a bounded feed whose overflow is counted, not blocked on.
type Engine interface {
	// Snapshot is the engine's newest published snapshot: an atomic load,
	// never a request to the engine's state goroutine. The UI keeps the
	// pointer and never writes through it; it re-sorts only when Version
	// changes. nil means nothing has been published yet.
	Snapshot() *snapshot.Snapshot
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
	ActForceReconnect ActionKind = "force-reconnect" // Peer: connect now and reset its backoff
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
	// Replay sources only (Source.Kind == replay); they move the cursor
	// the snapshot's Source.Replay reports, and change no tub.
	ActReplayToggle    ActionKind = "replay-toggle"     // play or pause
	ActReplayStep      ActionKind = "replay-step"       // apply events up to the next offer, then pause
	ActReplaySpeedUp   ActionKind = "replay-speed-up"   // double the speed
	ActReplaySpeedDown ActionKind = "replay-speed-down" // halve the speed
	ActReplayTrigger   ActionKind = "replay-trigger"    // jump to just before the incident's trigger event
)

// Action is one operator request.
type Action struct {
	Kind   ActionKind
	Peer   string // tubid
	Broker uint64
	FURL   string
	Client int
}

// destructive says whether an action breaks connections or restarts a
// tub, and so asks for confirmation outside the demo.
func (k ActionKind) destructive() bool {
	switch k {
	case ActDrop, ActBlackHole, ActRestart, ActSilentRestart, ActLoseNext,
		ActPowerCut, ActStorm, ActFlap, ActLoseDecision, ActClone:
		return true
	}
	return false
}

// replay says whether an action only moves a replay's cursor.
func (k ActionKind) replay() bool {
	switch k {
	case ActReplayToggle, ActReplayStep, ActReplaySpeedUp, ActReplaySpeedDown, ActReplayTrigger:
		return true
	}
	return false
}
