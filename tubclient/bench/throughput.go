package bench

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/tubscope/tubscope/tubclient"
)

const (
	targetCeilingFraction = 0.70
	targetFoolscapRatio   = 5.0
)

// throughputRounds is how many interleaved rounds row 1 runs, so load
// from anything else on the machine falls on all three targets alike.
func (r *runner) throughputRounds() int {
	if r.o.Quick {
		return 3
	}
	return 5
}

// throughput is row 1: negotiations per second from the same Go load
// generator against a tubscope tub, a Foolscap 21.7 server, and the raw
// mutual-TLS handshake ceiling, interleaved in rounds.
func (r *runner) throughput(ctx context.Context) error {
	conc := 2 * runtime.GOMAXPROCS(0)
	rounds := r.throughputRounds()
	slice := r.o.Duration / time.Duration(rounds)
	t := r.table

	ceil, err := newCeiling()
	if err != nil {
		return fmt.Errorf("tls ceiling: %w", err)
	}
	defer ceil.Close()
	master, furl, err := startMaster(tubclient.Config{})
	if err != nil {
		return err
	}
	defer master.Close()
	tubGen, err := newLoadGen(furl, master.TubID(), conc)
	if err != nil {
		return err
	}
	defer tubGen.Close()
	var foolGen *loadGen
	if r.foolscap == nil {
		id, err := tubclient.NewIdentity()
		if err != nil {
			return err
		}
		fs, err := startFoolscap(ctx, id)
		if err != nil {
			return fmt.Errorf("foolscap server: %w", err)
		}
		defer func() {
			if err := fs.Stop(); err != nil {
				t.note("row 1 Foolscap server stop: %v", err)
			}
		}()
		if foolGen, err = newLoadGen(fs.FURL(), fs.TubID(), conc); err != nil {
			return err
		}
		defer foolGen.Close()
	}

	var ceilP, tubP, foolP pooled
	for range rounds {
		ceilP.add(ceil.run(ctx, conc, slice))
		tubP.add(tubGen.run(ctx, slice))
		if foolGen != nil {
			foolP.add(foolGen.run(ctx, slice))
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}

	r.negRate = tubP.rate()
	t.add(RowThroughput, "tubscope (in-process tub, foolscap policy)", rate(tubP.rate(), "neg/s"), "", "")
	if n := tubP.errNote(); n != "" {
		t.note("row 1 tubscope: %s", n)
	}
	if foolGen == nil {
		t.add(RowThroughput, "Foolscap 21.7 server (pypeer)", "—", "", r.foolscap.Error())
	} else {
		t.add(RowThroughput, "Foolscap 21.7 server (pypeer)", rate(foolP.rate(), "neg/s"), "", "")
		if n := foolP.errNote(); n != "" {
			t.note("row 1 Foolscap: %s", n)
		}
		ratio := 0.0
		if foolP.rate() > 0 {
			ratio = tubP.rate() / foolP.rate()
		}
		t.add(RowThroughput, "ratio tubscope / Foolscap", fmt.Sprintf("%.1f×", ratio),
			fmt.Sprintf("≥ %.0f×", targetFoolscapRatio), verdictAtLeast(ratio, targetFoolscapRatio, "×"))
	}
	t.add(RowThroughput, "ceiling: Go mutual TLS 1.3, P-256", rate(ceilP.rate(), "hs/s"), "", "")
	if n := ceilP.errNote(); n != "" {
		t.note("row 1 ceiling: %s", n)
	}
	frac := 0.0
	if ceilP.rate() > 0 {
		frac = tubP.rate() / ceilP.rate()
	}
	t.add(RowThroughput, "tubscope / ceiling", fmt.Sprintf("%.0f%%", 100*frac),
		fmt.Sprintf("≥ %.0f%%", 100*targetCeilingFraction), verdictAtLeast(100*frac, 100*targetCeilingFraction, " points"))
	t.note("row 1: one op = TCP connect, prelude, TLS 1.3 (P-256 client and server certificates), hellos, decision, "+
		"getReference and one ping call, then the broker is dropped; %d Go client tubs, one op at a time each; "+
		"%d interleaved rounds of %s per target after a warm-up each, rates pooled. The tubscope server is an "+
		"in-process tub equivalent to `tubscope serve`; the Foolscap server is pypeer's server.py with a P-256 "+
		"tub.pem (it prints a few JSON lines per connection) and runs single-threaded on its own core, while the "+
		"in-process targets share this machine's %d CPUs with the load generator. The ceiling is TCP connect + "+
		"handshake + one byte, no protocol.", conc, rounds, slice.Round(time.Millisecond), runtime.NumCPU())
	return nil
}
