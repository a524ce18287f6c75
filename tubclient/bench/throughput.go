package bench

import (
	"context"
	"fmt"
	"runtime"

	"github.com/tubscope/tubscope/tubclient"
)

const (
	targetCeilingFraction = 0.70
	targetFoolscapRatio   = 5.0
)

// throughput is row 1: negotiations per second from the same Go load
// generator against a tubscope tub, a Foolscap 21.7 server, and the raw
// mutual-TLS handshake ceiling.
func (r *runner) throughput(ctx context.Context) error {
	conc := 2 * runtime.GOMAXPROCS(0)
	dur := r.o.Duration
	t := r.table

	ceil, err := tlsCeiling(ctx, conc, dur)
	if err != nil {
		return fmt.Errorf("tls ceiling: %w", err)
	}

	master, furl, err := startMaster(tubclient.Config{})
	if err != nil {
		return err
	}
	w, err := negotiationLoad(ctx, furl, master.TubID(), conc, dur)
	master.Close()
	if err != nil {
		return fmt.Errorf("tubscope load: %w", err)
	}
	r.negRate = w.rate()
	t.add(RowThroughput, "tubscope (in-process tub, foolscap policy)", rate(w.rate(), "neg/s"), "", "")
	if n := w.errNote(); n != "" {
		t.note("row 1 tubscope: %s", n)
	}

	var foolRate float64
	if r.foolscap != nil {
		t.add(RowThroughput, "Foolscap 21.7 server (pypeer)", "—", "", r.foolscap.Error())
	} else {
		id, err := tubclient.NewIdentity()
		if err != nil {
			return err
		}
		fs, err := startFoolscap(ctx, id)
		if err != nil {
			return fmt.Errorf("foolscap server: %w", err)
		}
		fw, err := negotiationLoad(ctx, fs.FURL(), fs.TubID(), conc, dur)
		if serr := fs.Stop(); serr != nil {
			t.note("row 1 Foolscap server stop: %v", serr)
		}
		if err != nil {
			return fmt.Errorf("foolscap load: %w", err)
		}
		foolRate = fw.rate()
		t.add(RowThroughput, "Foolscap 21.7 server (pypeer)", rate(foolRate, "neg/s"), "", "")
		if n := fw.errNote(); n != "" {
			t.note("row 1 Foolscap: %s", n)
		}
		ratio := 0.0
		if foolRate > 0 {
			ratio = w.rate() / foolRate
		}
		t.add(RowThroughput, "ratio tubscope / Foolscap", fmt.Sprintf("%.1f×", ratio),
			fmt.Sprintf("≥ %.0f×", targetFoolscapRatio), verdictAtLeast(ratio, targetFoolscapRatio, "×"))
	}

	t.add(RowThroughput, "ceiling: Go mutual TLS 1.3, P-256", rate(ceil.rate(), "hs/s"), "", "")
	if n := ceil.errNote(); n != "" {
		t.note("row 1 ceiling: %s", n)
	}
	frac := 0.0
	if ceil.rate() > 0 {
		frac = w.rate() / ceil.rate()
	}
	t.add(RowThroughput, "tubscope / ceiling", fmt.Sprintf("%.0f%%", 100*frac),
		fmt.Sprintf("≥ %.0f%%", 100*targetCeilingFraction), verdictAtLeast(100*frac, 100*targetCeilingFraction, " points"))
	t.note("row 1: one op = TCP connect, prelude, TLS 1.3 (P-256 client and server certificates), hellos, decision, "+
		"getReference and one ping call, then the broker is dropped; %d Go client tubs, one op at a time each, "+
		"for %s after a warm-up. The tubscope server is an in-process tub equivalent to `tubscope serve`; "+
		"the Foolscap server is pypeer's server.py with a P-256 tub.pem and prints a few JSON lines per connection. "+
		"The ceiling is TCP connect + handshake + one byte, no protocol; all three share this machine's %d CPUs "+
		"with the load generator.", conc, dur, runtime.NumCPU())
	return nil
}
