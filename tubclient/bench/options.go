// Package bench measures tubscope against itself and Foolscap 21.7 and
// prints one table: negotiation throughput, recovery latency, reconnect
// storms and idle cost.
package bench

import (
	"context"
	"errors"
	"io"
	"time"
)

// Options are `tubscope bench`'s flags.
type Options struct {
	Quick      bool
	N          int
	Idle       int
	Duration   time.Duration
	NoFoolscap bool
}

// Run measures and writes the table to out.
func Run(ctx context.Context, o Options, out io.Writer) error {
	return errors.New("bench: not available in this build")
}
