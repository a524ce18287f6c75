// Package live runs the inspector on real tubs: the built-in demo (a queen
// and in-process clients over fault-injecting paths) or a tub of the
// operator's own. It adapts tubclient to the ui.Engine interface.
package live

import (
	"time"

	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/headless"
)

// Screen are the inspector's own flags, shared by demo and inspect.
type Screen struct {
	// ExportDir is where e writes the decision log; "" means
	// DefaultExportDir().
	ExportDir string
	ReadOnly  bool // refuse every action on a tub (k9s's --readonly)
	ASCII     bool // ASCII stand-ins for every glyph
	Mouse     bool // wheel scrolling and click selection
}

// DemoOptions are `tubscope demo`'s flags. A zero Keepalive or
// DisconnectTimeout turns that timer off.
type DemoOptions struct {
	Clients int
	Policy  string
	// Compare runs one queen per policy, side by side, facing the same
	// clients; Policy is then ignored.
	Compare           []string
	Keepalive         time.Duration
	DisconnectTimeout time.Duration
	// Autoplay starts the script this long after start (0: off).
	Autoplay time.Duration
	// Logport publishes the (first) queen's events as a Foolscap logport.
	Logport headless.LogportOptions
	Screen
}

// InspectOptions are `tubscope inspect`'s flags. A zero Keepalive or
// DisconnectTimeout turns that timer off.
type InspectOptions struct {
	Listen            string
	KeyFile           string
	KeyExchange       tubclient.KeyExchange
	Policy            string
	Keepalive         time.Duration
	DisconnectTimeout time.Duration
	// NegotiationTimeout bounds each negotiation (0: Foolscap's 120 s).
	NegotiationTimeout time.Duration
	FURLs              []string
	// Logports are logport targets (FURL, FURL file or node directory)
	// to watch, each one more source beside the inspected tub.
	Logports []string
	// Logport publishes the inspected tub's events as a Foolscap logport.
	Logport headless.LogportOptions
	Screen
}
