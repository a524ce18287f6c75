package bench

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/faultnet"
)

// recoveryPolicies are the master policies rows 2 and 3 compare.
var recoveryPolicies = []string{negotiation.PolicyFoolscap, negotiation.PolicyProbe, negotiation.PolicyAttemptID}

const (
	s1Retry = 100 * time.Millisecond
	s1Bound = 20 * time.Second
	s3Retry = 250 * time.Millisecond
	// s3Timeout is the Go client's negotiation timeout in row 3, which is
	// how long it takes to notice the lost decision.
	s3Timeout = time.Second
	// foolscapTimeout is an unmodified Foolscap client's own negotiation
	// timeout.
	foolscapTimeout = 120 * time.Second
	probeTarget     = 2 * time.Second
)

func (r *runner) samples() int {
	if r.o.Quick {
		return 3
	}
	return 10
}

// s1Result is one policy's silent-restart recoveries.
type s1Result struct {
	times   []time.Duration
	rejects int
	failed  int
	rules   map[string]int
	lastErr error
}

// silentRestarts connects client to furl, then samples times: black-holes
// the client's path, restarts it silently (a new incarnation, same key)
// and times its first dial to its first successful call.
func silentRestarts(ctx context.Context, client *tubclient.Tub, path *faultnet.Path, furl string, samples int, rule func() string) (s1Result, error) {
	res := s1Result{rules: map[string]int{}}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	_, err := callOnce(cctx, client, furl)
	cancel()
	if err != nil {
		return res, fmt.Errorf("first connection: %w", err)
	}
	for range samples {
		path.BlackHoleAll()
		if err := client.Restart(true); err != nil {
			return res, err
		}
		d, rej, err := recoverCall(ctx, client, furl, s1Bound, s1Retry)
		res.rejects += rej
		if err != nil {
			res.failed++
			res.lastErr = err
			continue
		}
		res.times = append(res.times, d)
		if rule != nil {
			res.rules[rule()]++
		}
	}
	return res, nil
}

// lastRule is the rule of master's newest decision about peer.
func lastRule(master *tubclient.Tub, peer string) string {
	ds := master.Snapshot().Decisions
	for i := len(ds) - 1; i >= 0; i-- {
		if ds[i].PeerTubID == peer {
			return ds[i].Rule
		}
	}
	return "?"
}

func (r *runner) s1Line(who string, res s1Result, n int) {
	value := fmt.Sprintf("median %s, max %s (%d/%d)", ms(median(res.times)), ms(maxDuration(res.times)), len(res.times), n)
	verdict := targetMet
	switch {
	case res.failed > 0:
		verdict = fmt.Sprintf("gap: %d of %d never recovered within %s (%v)", res.failed, n, s1Bound, res.lastErr)
	case res.rejects > 0:
		verdict = fmt.Sprintf("gap: %d offers rejected first", res.rejects)
	}
	if len(res.rules) > 0 {
		var rs []string
		for _, p := range sortedKeys(res.rules) {
			rs = append(rs, fmt.Sprintf("%s×%d", p, res.rules[p]))
		}
		who += " [" + strings.Join(rs, " ") + "]"
	}
	r.table.add(RowS1, who, value, "first offer accepted", verdict)
}

// recoveryS1 is row 2.
func (r *runner) recoveryS1(ctx context.Context) error {
	n := r.samples()
	for _, pol := range recoveryPolicies {
		p, err := negotiation.PolicyByName(pol)
		if err != nil {
			return err
		}
		master, furl, err := startMaster(tubclient.Config{Policy: p})
		if err != nil {
			return err
		}
		client, path, err := pathClient(master.TubID(), 10*time.Second)
		if err != nil {
			master.Close()
			return err
		}
		res, err := silentRestarts(ctx, client, path, furl, n, func() string { return lastRule(master, client.TubID()) })
		client.Close()
		master.Close()
		if err != nil {
			return fmt.Errorf("S1 %s: %w", pol, err)
		}
		r.s1Line("tubscope master, "+pol, res, n)
	}
	if r.foolscap != nil {
		r.table.add(RowS1, "Foolscap 21.7 master (pypeer)", "—", "", r.foolscap.Error())
	} else {
		var res s1Result
		err := r.againstFoolscap(ctx, "row 2", 10*time.Second, func(fs *foolscapServer, client *tubclient.Tub, path *faultnet.Path) (err error) {
			res, err = silentRestarts(ctx, client, path, fs.FURL(), n, nil)
			return err
		})
		if err != nil {
			return fmt.Errorf("S1 foolscap: %w", err)
		}
		r.s1Line("Foolscap 21.7 master (pypeer)", res, n)
	}
	r.table.note("row 2: a Go client tub (slave) routed through a fault path; per sample its path is black-holed and it "+
		"restarts silently with the same key (new incarnation, sockets left open); time from its first new dial to its "+
		"first successful ping, %d samples; the master's rules are in brackets.", n)
	return nil
}

// againstFoolscap runs a Foolscap 21.7 server and a Go client tub, slave
// to it, whose connections go through a fault path (negotiation timeout
// negTimeout), for the length of run.
func (r *runner) againstFoolscap(ctx context.Context, row string, negTimeout time.Duration,
	run func(fs *foolscapServer, client *tubclient.Tub, path *faultnet.Path) error) error {
	fs, stop, err := r.startFoolscap(ctx, row)
	if err != nil {
		return err
	}
	defer stop()
	client, path, err := pathClient(fs.TubID(), negTimeout)
	if err != nil {
		return err
	}
	defer client.Close()
	return run(fs, client, path)
}

// pathClient makes a client tub, slave to master, whose connections go
// through a fault path.
func pathClient(master string, negTimeout time.Duration) (*tubclient.Tub, *faultnet.Path, error) {
	id, err := slaveOf(master)
	if err != nil {
		return nil, nil, err
	}
	path := faultnet.NewPath(nil)
	d := &faultnet.Dialer{Path: path}
	t, err := tubclient.New(tubclient.Config{Identity: id, Dial: d.DialContext, NegotiationTimeout: negTimeout})
	if err != nil {
		return nil, nil, err
	}
	return t, path, nil
}

// recoveryS3 is row 3: the master's first decision is lost, the client
// times out and comes back remembering nothing.
func (r *runner) recoveryS3(ctx context.Context) error {
	bound := r.o.lockoutBound()
	for _, pol := range recoveryPolicies {
		p, err := negotiation.PolicyByName(pol)
		if err != nil {
			return err
		}
		master, furl, err := startMaster(tubclient.Config{Policy: p})
		if err != nil {
			return err
		}
		client, _, err := pathClient(master.TubID(), s3Timeout)
		if err != nil {
			master.Close()
			return err
		}
		// The master loses it as it leaves.
		res, setupErr := lostDecision(ctx, master, client, furl, bound, func() string { return lastRule(master, client.TubID()) })
		client.Close()
		master.Close()
		if setupErr != nil {
			return fmt.Errorf("S3 %s: %w", pol, setupErr)
		}
		r.s3Line("tubscope master, "+pol, pol == negotiation.PolicyFoolscap, pol == negotiation.PolicyProbe, res, bound)
	}
	if r.foolscap != nil {
		r.table.add(RowS3, "Foolscap 21.7 master (pypeer)", "—", "", r.foolscap.Error())
	} else {
		var res s3Result
		err := r.againstFoolscap(ctx, "row 3", s3Timeout, func(fs *foolscapServer, client *tubclient.Tub, _ *faultnet.Path) (err error) {
			// Foolscap cannot be told to lose it, so the client loses it as
			// it arrives and leaves the dead socket open, which looks the
			// same from the master's side.
			res, err = lostDecision(ctx, client, client, fs.FURL(), bound, nil)
			return err
		})
		if err != nil {
			return fmt.Errorf("S3 foolscap: %w", err)
		}
		r.s3Line("Foolscap 21.7 master (pypeer)", true, false, res, bound)
	}
	r.table.note("row 3: the tubscope master black-holes the socket just before its first accepting decision "+
		"(LoseNextDecision), and that connection's path is dead both ways, so the client's FIN on giving up never "+
		"reaches the master either. Against the Foolscap master the Go client loses the decision as it arrives and "+
		"leaves its socket open and silent (LoseNextDecision as slave). The Go client (negotiation timeout %s) times "+
		"out, remembers no decision, and retries every %s; time from its first retry's dial to its first successful "+
		"ping. An unmodified Foolscap client would first wait out its own %s negotiation timeout before retrying, "+
		"adding %s to every figure in this row.", s3Timeout, s3Retry, foolscapTimeout, foolscapTimeout)
	return nil
}

// s3Result is one S3 run: the recovery time from the first retry, the
// rejections before it, the master's rule, or the last error when it never
// recovered within the bound.
type s3Result struct {
	d       time.Duration
	rejects int
	rule    string
	err     error
}

// s3Line adds one master's S3 outcome. A lockout is the expected result for
// Foolscap 21.7's rules; everything else must take the first retry.
func (r *runner) s3Line(who string, lockout, probe bool, res s3Result, bound time.Duration) {
	target := "first retry accepted"
	switch {
	case lockout:
		target = "keeps rejecting (21.7 lockout)"
	case probe:
		target = fmt.Sprintf("first retry accepted ≤ %s", probeTarget)
	}
	var value, verdict string
	if res.err != nil {
		value = fmt.Sprintf("rejected for >%s (%d offers), gave up", bound.Round(time.Second), res.rejects)
		if !rejected(res.err) {
			value = fmt.Sprintf("no success for >%s (%d rejected; last: %v)", bound.Round(time.Second), res.rejects, res.err)
		}
		if lockout && rejected(res.err) {
			verdict = targetMet
		} else {
			verdict = "gap: never recovered"
		}
	} else {
		value = fmt.Sprintf("%s after %d rejects", ms(res.d), res.rejects)
		if res.rule != "" {
			value += " [" + res.rule + "]"
		}
		switch {
		case lockout:
			verdict = "gap: accepted, the lockout was not reproduced"
		case res.rejects > 0:
			verdict = fmt.Sprintf("gap: %d rejects first", res.rejects)
		case probe && res.d > probeTarget:
			verdict = fmt.Sprintf("gap: %s over %s", ms(res.d-probeTarget), probeTarget)
		default:
			verdict = targetMet
		}
	}
	r.table.add(RowS3, who, value, target, verdict)
}

// lostDecision runs one S3 scenario: loser (the master or the client)
// loses the first accepting decision between them, then the client retries
// until a call succeeds or bound passes. rule, when set, names the master's
// rule for the retry it took. setupErr is set when the scenario itself
// could not be staged.
func lostDecision(ctx context.Context, loser, client *tubclient.Tub, furl string, bound time.Duration, rule func() string) (res s3Result, setupErr error) {
	f, err := tubclient.ParseFURL(furl)
	if err != nil {
		return res, err
	}
	peer := f.TubID
	if loser != client {
		peer = client.TubID()
	}
	if err := loser.LoseNextDecision(peer); err != nil {
		return res, err
	}
	fctx, cancel := context.WithTimeout(ctx, 10*s3Timeout)
	_, err = callOnce(fctx, client, furl)
	cancel()
	if err == nil {
		return res, errors.New("the first decision arrived although it was to be lost")
	}
	res.d, res.rejects, res.err = recoverCall(ctx, client, furl, bound, s3Retry)
	if res.err == nil && rule != nil {
		res.rule = rule()
	}
	return res, nil
}
