// Package live runs the inspector on real tubs: the built-in demo (a queen
// and in-process clients over fault-injecting paths) or a tub of the
// operator's own. It adapts tubclient to the ui.Engine interface.
package live

import (
	"context"
	"errors"
	"time"
)

// DemoOptions are `tubscope demo`'s flags.
type DemoOptions struct {
	Clients           int
	Policy            string
	Keepalive         time.Duration
	DisconnectTimeout time.Duration
	ExportDir         string
}

// InspectOptions are `tubscope inspect`'s flags.
type InspectOptions struct {
	Listen            string
	KeyFile           string
	Policy            string
	Keepalive         time.Duration
	DisconnectTimeout time.Duration
	ExportDir         string
	FURLs             []string
}

var errUnbuilt = errors.New("not available in this build")

// Demo runs the inspector on the built-in demo.
func Demo(ctx context.Context, o DemoOptions) error { return errUnbuilt }

// Inspect runs the inspector on a tub of the operator's own.
func Inspect(ctx context.Context, o InspectOptions) error { return errUnbuilt }
