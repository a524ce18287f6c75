// Package live runs the inspector on real tubs: the built-in demo (a queen
// and in-process clients over fault-injecting paths) or a tub of the
// operator's own. It adapts tubclient to the ui.Engine interface.
package live

import (
	"time"

	"github.com/tubscope/tubscope/tubclient"
)

// DemoOptions are `tubscope demo`'s flags. A zero Keepalive or
// DisconnectTimeout turns that timer off.
type DemoOptions struct {
	Clients           int
	Policy            string
	Keepalive         time.Duration
	DisconnectTimeout time.Duration
	ExportDir         string
	// Autoplay power-cuts the last client this long after start (0: off).
	Autoplay time.Duration
}

// InspectOptions are `tubscope inspect`'s flags.
type InspectOptions struct {
	Listen            string
	KeyFile           string
	KeyExchange       tubclient.KeyExchange
	Policy            string
	Keepalive         time.Duration
	DisconnectTimeout time.Duration
	// NegotiationTimeout bounds each negotiation (0: Foolscap's 120 s).
	NegotiationTimeout time.Duration
	ExportDir          string
	FURLs              []string
}
