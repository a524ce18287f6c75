package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/tubscope/tubscope/tubclient/internal/pypeer"
)

// runner carries one run's options and the figures later rows compare
// against.
type runner struct {
	o     Options
	table *Table
	// foolscap is nil when a Foolscap peer can run; otherwise why not.
	foolscap error
	// negRate is tubscope's negotiation throughput from row 1 (neg/s).
	negRate float64
	// fds is the open-file limit in force.
	fds uint64
	// peer starts the idle row's client process; nil (and peerErr says
	// why) when this binary cannot.
	peer    peerStarter
	peerErr error
}

// Run measures and writes the table to out. Every comparison is made in
// this one run on this one machine.
func Run(ctx context.Context, o Options, out io.Writer) error {
	o = o.filled()
	// Both ends of most connections live in this process, and silent
	// restarts keep their black-holed sockets open.
	fds := raiseFDLimit(uint64(6*max(o.N, o.Idle) + 4096))
	mode := "full"
	if o.Quick {
		mode = "quick"
	}
	r := &runner{o: o, fds: fds, table: &Table{Header: fmt.Sprintf(
		"tubscope bench (%s) — GOMAXPROCS=%d, NumCPU=%d, %s %s/%s; N=%d, idle=%d, throughput runs %s; RLIMIT_NOFILE=%d",
		mode, runtime.GOMAXPROCS(0), runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH,
		o.N, o.Idle, o.Duration, fds)}}
	r.peer, r.peerErr = selfPeer(o.SelfExec)
	switch {
	case o.NoFoolscap:
		r.foolscap = errors.New("skipped: --no-foolscap")
	default:
		if err := pypeer.Available(); err != nil {
			if os.Getenv("CI") != "" {
				return fmt.Errorf("bench: a Foolscap 21.7 peer is required in CI: %w", err)
			}
			r.foolscap = fmt.Errorf("skipped: Foolscap unavailable (%v)", err)
		}
	}
	// A row that fails is reported in the table and the rest still run;
	// Run then returns the first failure.
	var first error
	for i, row := range []func(context.Context) error{r.throughput, r.recoveryS1, r.recoveryS3, r.storm, r.idle} {
		if err := ctx.Err(); err != nil {
			first = err
			break
		}
		if err := row(ctx); err != nil {
			r.table.add(Rows[i], "failed", "—", "", "gap: "+err.Error())
			if first == nil {
				first = fmt.Errorf("bench: %s: %w", Rows[i], err)
			}
		}
	}
	if _, err := r.table.WriteTo(out); err != nil && first == nil {
		first = err
	}
	return first
}
