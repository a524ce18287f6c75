// Package bench measures tubscope against itself and Foolscap 21.7 and
// prints one table: negotiation throughput, recovery latency, reconnect
// storms and idle cost.
package bench

import "time"

// Options are `tubscope bench`'s flags.
type Options struct {
	// Quick shortens every row for CI: N is capped at 200, Idle at 1,000,
	// Duration at 1 s and the S3 lockout bound is 10 s instead of 30 s.
	Quick bool
	// N is the number of clients in the reconnect storm (default 2,000).
	N int
	// Idle is the number of idle brokers in the idle-cost row (default
	// 10,000).
	Idle int
	// Duration is how long each throughput run lasts (default 5 s).
	Duration time.Duration
	// NoFoolscap skips the rows and columns that need a Foolscap 21.7 peer.
	NoFoolscap bool
	// SelfExec, when set, is the tubscope executable: the idle and storm
	// rows then run their clients as child processes of it (its hidden
	// bench-peer subcommand). Unset (a test binary), they stay in process.
	SelfExec string
}

const (
	quickN        = 200
	quickIdle     = 1000
	quickDuration = time.Second
)

// filled applies defaults and the quick-mode caps.
func (o Options) filled() Options {
	if o.N <= 0 {
		o.N = 2000
	}
	if o.Idle <= 0 {
		o.Idle = 10000
	}
	if o.Duration <= 0 {
		o.Duration = 5 * time.Second
	}
	if o.Quick {
		o.N = min(o.N, quickN)
		o.Idle = min(o.Idle, quickIdle)
		o.Duration = min(o.Duration, quickDuration)
	}
	return o
}

// lockoutBound is how long the S3 row keeps retrying before it declares a
// policy locked out.
func (o Options) lockoutBound() time.Duration {
	if o.Quick {
		return 10 * time.Second
	}
	return 30 * time.Second
}
