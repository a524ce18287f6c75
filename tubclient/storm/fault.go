package storm

import (
	"fmt"
	"strings"
)

// Fault is what happens to every client at the storm's trigger.
type Fault string

const (
	// SilentRestart restarts the client with the same key and a new
	// incarnation, its old sockets left open and black-holed: a machine
	// behind a NAT losing power, the ticket's case.
	SilentRestart Fault = "silent-restart"
	// NewKey is the same with a fresh identity: the queen sees a new tubid.
	NewKey Fault = "new-key"
	// LostDecision restarts the client cleanly and loses the queen's
	// accepting decision as it arrives: the client times out and comes back
	// remembering nothing, while the queen holds a connection that is dead.
	LostDecision Fault = "lost-decision"
	// Clone starts a second tub with each client's key, which then keeps
	// its own connection alive: two processes sharing one key.
	Clone Fault = "clone"
	// Flap takes each client's path down (every byte either way vanishes,
	// no FIN) for a while, then brings it back.
	Flap Fault = "flap"
)

// Faults lists every fault, the default first.
func Faults() []Fault { return []Fault{SilentRestart, NewKey, LostDecision, Clone, Flap} }

// ParseFault checks a fault's name; "" is the default, silent-restart.
func ParseFault(s string) (Fault, error) {
	if s == "" {
		return SilentRestart, nil
	}
	for _, f := range Faults() {
		if string(f) == s {
			return f, nil
		}
	}
	names := make([]string, 0, len(Faults()))
	for _, f := range Faults() {
		names = append(names, string(f))
	}
	return "", fmt.Errorf("unknown fault %q (known: %s)", s, strings.Join(names, ", "))
}

// String names the fault as the flag spells it.
func (f Fault) String() string {
	if f == "" {
		return string(SilentRestart)
	}
	return string(f)
}

// Set makes *Fault a flag.Value.
func (f *Fault) Set(s string) error {
	v, err := ParseFault(s)
	if err != nil {
		return err
	}
	*f = v
	return nil
}

// Describe says in words what the fault does to one client.
func (f Fault) Describe() string {
	switch f {
	case NewKey:
		return "a fresh identity (new tubid), the old sockets left open and black-holed"
	case LostDecision:
		return "a clean restart whose next accepting decision is lost on arrival: the client times out and retries remembering nothing"
	case Clone:
		return "a second tub with the same key connects and keeps its own connection alive"
	case Flap:
		return "the path goes dark both ways (no bytes, no FIN), then returns"
	}
	return "same key, new incarnation, the old sockets left open and black-holed"
}

// socketsPerClient is how many sockets one client may hold at once after
// rounds faults: its live (or negotiating) connection, plus the socket
// each silent restart, new key or lost decision leaves open and
// black-holed for the rest of the run, so the queen learns nothing from it.
func (f Fault) socketsPerClient(rounds int) int {
	switch f {
	case Clone:
		return 2 // the client's connection and its twin's
	case Flap:
		return 1 // a connection given up on is closed before the next dial
	}
	return 1 + rounds
}
