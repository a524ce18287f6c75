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
	// fds is the open-file limit in force, and the storm and idle rows
	// are sized to it.
	fds             uint64
	stormSz, idleSz rowSize
	// peer starts the idle row's client process; nil (and peerErr says
	// why) when this binary cannot.
	peer    peerStarter
	peerErr error
}

// Run measures and writes the table to out. Every comparison is made in
// this one run on this one machine.
func Run(ctx context.Context, o Options, out io.Writer) error {
	r, err := newRunner(o)
	if err != nil {
		return err
	}
	// A row that fails, or that the open-file limit leaves too small to
	// measure, is reported in the table and the rest still run; Run then
	// returns the first failure, so the command exits non-zero.
	var first error
	for i, row := range []func(context.Context) error{r.throughput, r.recoveryS1, r.recoveryS3, r.storm, r.idle} {
		if err := ctx.Err(); err != nil {
			first = err
			break
		}
		if err := row(ctx); err != nil {
			var small notMeasuredError
			if errors.As(err, &small) {
				r.table.add(Rows[i], "not measured", "—", "", "gap: "+err.Error())
			} else {
				r.table.add(Rows[i], "failed", "—", "", "gap: "+err.Error())
			}
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

// newRunner raises the open-file limit, sizes the storm and idle rows to
// it and writes the table's header.
func newRunner(o Options) (*runner, error) {
	o = o.filled()
	// Both ends of most connections live in this process, and silent
	// restarts keep their black-holed sockets open: the soft limit goes as
	// high as the hard one allows, and the storm and idle rows are sized
	// to what it then holds.
	fds := raiseFDLimit(uint64(6*max(o.N, o.Idle) + 4096))
	mode := "full"
	if o.Quick {
		mode = "quick"
	}
	r := &runner{o: o, fds: fds}
	r.peer, r.peerErr = selfPeer(o.SelfExec)
	r.stormSz = sizeStorm(o.N, fds, r.peer != nil)
	r.idleSz = sizeIdle(o.Idle, fds, r.peer != nil)
	r.table = &Table{Header: fmt.Sprintf(
		"tubscope bench (%s) — GOMAXPROCS=%d, NumCPU=%d, %s %s/%s; %s, %s, throughput runs %s; RLIMIT_NOFILE=%d",
		mode, runtime.GOMAXPROCS(0), runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH,
		r.stormSz.header("N"), r.idleSz.header("idle"), o.Duration, fds)}
	switch {
	case o.NoFoolscap:
		r.foolscap = errors.New("skipped: --no-foolscap")
	default:
		if err := pypeer.Available(); err != nil {
			if os.Getenv("CI") != "" {
				return nil, fmt.Errorf("bench: a Foolscap 21.7 peer is required in CI: %w", err)
			}
			r.foolscap = fmt.Errorf("skipped: Foolscap unavailable (%v)", err)
		}
	}
	return r, nil
}
