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
//
// Foolscap's OpenSSL answers every offer with X25519, so the comparison with
// it is made like for like: the generator offers X25519 to both servers and
// to the ceiling. tubscope's own default, X25519MLKEM768, costs more per
// handshake and is measured beside it against its own ceiling.
func (r *runner) throughput(ctx context.Context) error {
	conc := 2 * runtime.GOMAXPROCS(0)
	rounds := r.throughputRounds()
	slice := r.o.Duration / time.Duration(rounds)
	t := r.table

	master, furl, err := startMaster(tubclient.Config{})
	if err != nil {
		return err
	}
	defer master.Close()
	classic := &kexTargets{kex: tubclient.KexX25519, group: "X25519"}
	hybrid := &kexTargets{kex: tubclient.KexHybrid, group: "X25519MLKEM768"}
	for _, k := range []*kexTargets{classic, hybrid} {
		if k.ceil, err = newCeiling(k.kex); err != nil {
			return fmt.Errorf("tls ceiling: %w", err)
		}
		defer k.ceil.Close()
		if k.gen, err = newLoadGen(furl, master.TubID(), conc, k.kex); err != nil {
			return err
		}
		defer k.gen.Close()
	}
	var foolGen *loadGen
	if r.foolscap == nil {
		fs, stop, err := r.startFoolscap(ctx, "row 1")
		if err != nil {
			return err
		}
		defer stop()
		if foolGen, err = newLoadGen(fs.FURL(), fs.TubID(), conc, classic.kex); err != nil {
			return err
		}
		defer foolGen.Close()
	}

	var foolP pooled
	for range rounds {
		for _, k := range []*kexTargets{classic, hybrid} {
			k.ceilP.add(k.ceil.run(ctx, conc, slice))
			k.tubP.add(k.gen.run(ctx, slice))
		}
		if foolGen != nil {
			foolP.add(foolGen.run(ctx, slice))
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}

	// The storm's clients use the default key exchange, so its budget does.
	r.negRate = hybrid.tubP.rate()
	classic.tubRow(t, " (in-process tub, foolscap policy)")
	if foolGen == nil {
		t.add(RowThroughput, "Foolscap 21.7 server (pypeer), X25519", "—", "", r.foolscap.Error())
	} else {
		t.add(RowThroughput, "Foolscap 21.7 server (pypeer), X25519", rate(foolP.rate(), "neg/s"), "", "")
		if n := foolP.errNote(); n != "" {
			t.note("row 1 Foolscap: %s", n)
		}
		ratio := 0.0
		if foolP.rate() > 0 {
			ratio = classic.tubP.rate() / foolP.rate()
		}
		t.add(RowThroughput, "ratio tubscope / Foolscap", fmt.Sprintf("%.1f×", ratio),
			fmt.Sprintf("≥ %.0f×", targetFoolscapRatio), verdictAtLeast(ratio, targetFoolscapRatio, "×"))
	}
	classic.ceilingRows(t)
	hybrid.tubRow(t, "")
	hybrid.ceilingRows(t)
	t.note("row 1: one op = TCP connect, prelude, TLS 1.3 (P-256 client and server certificates), hellos, decision, "+
		"getReference and one ping call, then the broker is dropped; %d Go client tubs, one op at a time each; "+
		"%d interleaved rounds of %s per target after a warm-up each, rates pooled. One tubscope server, default "+
		"configuration, serves both key exchanges: the generator's offer picks the group. Foolscap negotiates "+
		"X25519 whatever it is offered, so the ratio compares X25519 with X25519. The tubscope server is an "+
		"in-process tub equivalent to `tubscope serve`; the Foolscap server is pypeer's server.py with a P-256 "+
		"tub.pem (it prints a few JSON lines per connection) and runs single-threaded on its own core, while the "+
		"in-process targets share this machine's %d CPUs with the load generator. A ceiling is TCP connect + "+
		"handshake + one byte, no protocol, with the same key exchange.", conc, rounds, slice.Round(time.Millisecond), runtime.NumCPU())
	return nil
}

// kexTargets is one key exchange's pair of row-1 targets: the tubscope
// server through the load generator, and the raw handshake ceiling.
type kexTargets struct {
	kex         tubclient.KeyExchange
	group       string // the TLS group it negotiates, as the table names it
	ceil        *ceiling
	gen         *loadGen
	ceilP, tubP pooled
}

func (k *kexTargets) tubRow(t *Table, aside string) {
	t.add(RowThroughput, "tubscope, "+k.group+aside, rate(k.tubP.rate(), "neg/s"), "", "")
	if n := k.tubP.errNote(); n != "" {
		t.note("row 1 tubscope %s: %s", k.group, n)
	}
}

func (k *kexTargets) ceilingRows(t *Table) {
	t.add(RowThroughput, "ceiling: Go mutual TLS 1.3, P-256 certs, "+k.group, rate(k.ceilP.rate(), "hs/s"), "", "")
	if n := k.ceilP.errNote(); n != "" {
		t.note("row 1 ceiling %s: %s", k.group, n)
	}
	frac := 0.0
	if k.ceilP.rate() > 0 {
		frac = k.tubP.rate() / k.ceilP.rate()
	}
	t.add(RowThroughput, "tubscope / ceiling, "+k.group, fmt.Sprintf("%.0f%%", 100*frac),
		fmt.Sprintf("≥ %.0f%%", 100*targetCeilingFraction), verdictAtLeast(100*frac, 100*targetCeilingFraction, " points"))
}
