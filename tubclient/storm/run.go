package storm

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tubscope/tubscope/tubclient"
)

const (
	// orderLead is how far ahead of its first strike a fault order is
	// sent, so every client process has it in time.
	orderLead = 250 * time.Millisecond
	// reapBound is how long client processes get to close their tubs and
	// exit once their stdin closes; then their process groups are killed.
	reapBound  = 30 * time.Second
	stderrMax  = 8 << 10
	checkEvery = 50 * time.Millisecond
)

// Run stages a storm: it checks the target, plans against the open-file
// limit and says so (rep.Planned), probes the target once, starts the
// client processes, waits until every client has called, then strikes
// each round and follows every client until it is back or its window has
// closed. It returns the result so far with any error; every client
// process is gone when it returns.
func Run(ctx context.Context, o Options, rep Reporter) (res Result, err error) {
	if rep == nil {
		rep = NopReporter{}
	}
	start := time.Now()
	defer func() {
		res.Elapsed = time.Since(start)
		rep.Finished(res, err)
	}()
	o, err = o.filled()
	if err != nil {
		return res, err
	}
	f, err := tubclient.ParseFURL(o.FURL)
	if err != nil {
		return res, err
	}
	res.Clients = o.N
	hints, err := CheckTarget(ctx, f, o.OwnTarget, o.lookupOr())
	if err != nil {
		return res, err
	}
	before, soft, hard, err := raiseOpenFiles()
	if err != nil {
		return res, err
	}
	plan, err := makePlan(o, f, hints, before, soft, hard, localPorts())
	res.Plan = plan
	if err != nil {
		return res, err
	}
	rep.Planned(plan)

	ctx, cancel := context.WithTimeoutCause(ctx, o.Timeout, fmt.Errorf("the storm's overall time limit (%s) passed", o.Timeout))
	defer cancel()
	call, note, err := probe(ctx, o, f)
	if err != nil {
		return res, fmt.Errorf("probing the target: %w", err)
	}
	res.Call = call
	rep.Note(note)

	r := &runner{o: o, plan: plan, rep: rep, t: newTally(o), call: call, start: start,
		msgs: make(chan childMsg, 1<<14)}
	defer func() {
		if stopErr := r.stop(); err == nil {
			err = stopErr
		}
		r.t.result(&res)
	}()
	return res, r.run(ctx)
}

// Check validates o and its target without touching the target, so a
// caller can refuse a storm before it sets anything up.
func Check(ctx context.Context, o Options) error {
	o, err := o.filled()
	if err != nil {
		return err
	}
	f, err := tubclient.ParseFURL(o.FURL)
	if err != nil {
		return err
	}
	_, err = CheckTarget(ctx, f, o.OwnTarget, o.lookupOr())
	return err
}

// probe connects to the target once, with a tub that takes no part in the
// storm, to learn whether it has echo (else a bare getReference will be
// each client's success).
func probe(ctx context.Context, o Options, f tubclient.FURL) (call, note string, err error) {
	base, err := dialer(&childConfig{OwnTarget: o.OwnTarget})
	if err != nil {
		return "", "", err
	}
	tub, err := tubclient.New(tubclient.Config{Dial: base.DialContext, NegotiationTimeout: o.NegotiationTimeout,
		KeyExchange: o.KeyExchange, Nickname: "storm probe"})
	if err != nil {
		return "", "", err
	}
	defer tub.Close()
	pctx, cancel := context.WithTimeout(ctx, o.NegotiationTimeout)
	defer cancel()
	t0 := time.Now()
	ref, err := tub.GetReference(pctx, o.FURL)
	if err != nil {
		return "", "", err
	}
	rtt := time.Since(t0)
	const token = "storm probe"
	got, err := ref.Call(pctx, "echo", token)
	var re *tubclient.RemoteError
	switch {
	case err == nil && got == token:
		return "echo", fmt.Sprintf("probe: the target answered in %s and has echo: each client's success is getReference and echo", ms(rtt)), nil
	case err == nil:
		return "", fmt.Sprintf("probe: the target answered in %s; its echo answered %v, not what was sent, so each client's success is a bare getReference", ms(rtt), got), nil
	case errors.As(err, &re):
		return "", fmt.Sprintf("probe: the target answered in %s but has no echo (%s): each client's success is a bare getReference", ms(rtt), re.Type), nil
	}
	return "", "", fmt.Errorf("calling echo: %w", err)
}

// childMsg is one line (or the end) of a client process's output.
type childMsg struct {
	child int
	rep   report
	err   error // a line that is not a report
	ended bool  // the process exited; err says how
}

// childProc is one client process.
type childProc struct {
	i      int
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *capBuffer
	first  int
	n      int
	ready  bool
	exited chan struct{} // closed once reaped
	killMu sync.Mutex
}

type runner struct {
	o        Options
	plan     Plan
	rep      Reporter
	t        *tally
	call     string
	start    time.Time
	children []*childProc
	msgs     chan childMsg
	readers  sync.WaitGroup
	stopped  bool
}

func (r *runner) run(ctx context.Context) error {
	if err := r.startChildren(); err != nil {
		return err
	}
	pids := make([]string, len(r.children))
	for i, c := range r.children {
		pids[i] = fmt.Sprint(c.cmd.Process.Pid)
	}
	r.rep.Note(fmt.Sprintf("started %s (pid %s); connecting %d clients",
		plural(len(r.children), "client process"), strings.Join(pids, ", "), r.o.N))
	if err := r.setup(ctx); err != nil {
		return err
	}
	r.rep.Note(fmt.Sprintf("all %d clients connected and called in %s; the storm begins", r.o.N, time.Since(r.start).Round(time.Millisecond)))
	for round := 1; round <= r.o.Rounds; round++ {
		if err := r.round(ctx, round); err != nil {
			return err
		}
	}
	return nil
}

// startChildren starts the client processes and sends each its share.
func (r *runner) startChildren() error {
	first := 0
	for i, n := range r.plan.Sizes {
		c := &childProc{i: i, first: first, n: n, stderr: &capBuffer{max: stderrMax}, exited: make(chan struct{})}
		first += n
		c.cmd = r.o.Start()
		c.cmd.SysProcAttr = childAttr()
		c.cmd.Stderr = c.stderr
		var err error
		if c.stdin, err = c.cmd.StdinPipe(); err != nil {
			return err
		}
		stdout, err := c.cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := c.cmd.Start(); err != nil {
			return fmt.Errorf("starting client process %d: %w", i+1, err)
		}
		r.children = append(r.children, c)
		r.readers.Add(1)
		go r.read(c, stdout)
		cfg := childConfig{FURL: r.o.FURL, First: c.first, Count: n, Fault: r.o.Fault, Call: r.call,
			NegotiationTimeout: r.o.NegotiationTimeout, Down: r.o.Down, Setup: r.o.setupBound(),
			KeyExchange: string(r.o.KeyExchange), Backoff: r.o.Backoff, Slaves: !r.o.AnyRole, OwnTarget: r.o.OwnTarget,
			SourceAddr: r.plan.sourceAddr(i)}
		if err := c.send(order{Config: &cfg}); err != nil {
			return fmt.Errorf("configuring client process %d: %w", i+1, err)
		}
	}
	return nil
}

// read passes a client process's reports on, then reaps it.
func (r *runner) read(c *childProc, stdout io.Reader) {
	defer r.readers.Done()
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	bad := false
	for sc.Scan() {
		var rep report
		if err := json.Unmarshal(sc.Bytes(), &rep); err != nil || rep.K == "" {
			if !bad {
				r.msgs <- childMsg{child: c.i, err: fmt.Errorf("client process %d wrote %q, not a report", c.i+1, clip(sc.Text()))}
			}
			bad = true
			continue
		}
		if !bad {
			r.msgs <- childMsg{child: c.i, rep: rep}
		}
	}
	if err := sc.Err(); err != nil {
		r.msgs <- childMsg{child: c.i, err: fmt.Errorf("client process %d: reading its reports: %w", c.i+1, err)}
		io.Copy(io.Discard, stdout) // a child blocked on a full pipe would never exit
	}
	err := c.cmd.Wait()
	close(c.exited)
	r.msgs <- childMsg{child: c.i, ended: true, err: err}
}

func (c *childProc) send(o order) error {
	b, err := json.Marshal(o)
	if err != nil {
		return err
	}
	_, err = c.stdin.Write(append(b, '\n'))
	return err
}

// kill ends the process's group, unless the process is already reaped
// (its id may then belong to someone else).
func (c *childProc) kill() {
	c.killMu.Lock()
	defer c.killMu.Unlock()
	select {
	case <-c.exited:
	default:
		syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	}
}

// handle takes one message; an error ends the run.
func (r *runner) handle(m childMsg) error {
	c := r.children[m.child]
	switch {
	case m.ended:
		if r.stopped {
			return nil
		}
		return fmt.Errorf("client process %d (pid %d) exited early (%v): %s", c.i+1, c.cmd.Process.Pid, m.err, c.stderr)
	case m.err != nil:
		return m.err
	case m.rep.K == repReady:
		if m.rep.N != c.n {
			return fmt.Errorf("client process %d is ready with %d clients, not %d", c.i+1, m.rep.N, c.n)
		}
		c.ready = true
		return nil
	}
	if m.rep.C < c.first || m.rep.C >= c.first+c.n {
		return fmt.Errorf("client process %d reported client %d, outside its %d+%d", c.i+1, m.rep.C, c.first, c.n)
	}
	ev, err := r.t.apply(m.rep)
	if err != nil {
		return fmt.Errorf("client process %d: %w", c.i+1, err)
	}
	r.rep.Client(ev)
	return nil
}

// wait handles messages until done says so, reporting progress once a
// second; it returns done's error, a message's, or the context's cause.
func (r *runner) wait(ctx context.Context, setup bool, done func(now time.Time) bool) error {
	check := time.NewTicker(checkEvery)
	defer check.Stop()
	next := time.Now().Add(time.Second)
	for {
		select {
		case m := <-r.msgs:
			if err := r.handle(m); err != nil {
				return err
			}
			continue
		case <-check.C:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		now := time.Now()
		if !now.Before(next) {
			p := r.t.progress(now, setup)
			p.Elapsed = now.Sub(r.start)
			r.rep.Progress(p)
			next = next.Add(time.Second)
		}
		if done(now) {
			return nil
		}
	}
}

// setup waits for every client process to be ready. The processes give
// up on a client that cannot connect within the setup bound themselves;
// this bound, a little longer, is a backstop.
func (r *runner) setup(ctx context.Context) error {
	bound := time.Now().Add(r.o.setupBound() + 30*time.Second)
	late := false
	err := r.wait(ctx, true, func(now time.Time) bool {
		if now.After(bound) {
			late = true
			return true
		}
		for _, c := range r.children {
			if !c.ready {
				return false
			}
		}
		return true
	})
	if err == nil && late {
		err = fmt.Errorf("the clients were not all connected within %s", r.o.setupBound()+30*time.Second)
	}
	if err != nil {
		p := r.t.progress(time.Now(), true)
		return fmt.Errorf("setting up (%d of %d clients connected): %w", p.Up, r.o.N, err)
	}
	return nil
}

// round strikes every client and follows them until the round is over.
// Cut short, it still reports every client's outcome as of then.
func (r *runner) round(ctx context.Context, n int) error {
	at := time.Now().Add(orderLead)
	r.t.startRound(n, at)
	fo := faultOrder{Round: n, At: at.UnixNano(), Rate: r.o.Rate}
	for _, c := range r.children {
		if err := c.send(order{Fault: &fo}); err != nil {
			return fmt.Errorf("sending round %d to client process %d: %w", n, c.i+1, err)
		}
	}
	err := r.wait(ctx, false, r.t.roundOver)
	for _, o := range r.t.finishRound(time.Now()) {
		r.rep.Outcome(o)
	}
	return err
}

// stop ends every client process: its stdin closes, so it closes its tubs
// (its connections end with a FIN, as a process's would) and exits; a
// process still running reapBound later has its group killed.
func (r *runner) stop() error {
	r.stopped = true
	if len(r.children) > 0 {
		r.rep.Note(fmt.Sprintf("closing the clients' tubs and %s", plural(len(r.children), "client process")))
	}
	for _, c := range r.children {
		c.stdin.Close()
	}
	done := make(chan struct{})
	go func() {
		r.readers.Wait()
		close(done)
	}()
	timer := time.NewTimer(reapBound)
	defer timer.Stop()
	var errs []error
	note := func(m childMsg) {
		if m.ended && m.err != nil {
			errs = append(errs, fmt.Errorf("client process %d: %v: %s", m.child+1, m.err, r.children[m.child].stderr))
		}
	}
wait:
	for {
		select {
		case m := <-r.msgs:
			note(m)
		case <-timer.C:
			for _, c := range r.children {
				c.kill()
			}
			errs = append(errs, fmt.Errorf("client processes still running %s after their input closed were killed", reapBound))
		case <-done:
			break wait
		}
	}
	for {
		select {
		case m := <-r.msgs:
			note(m)
		default:
			return errors.Join(errs...)
		}
	}
}

// capBuffer keeps the first max bytes written to it.
type capBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *capBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(len(p), room)]...)
	}
	return len(p), nil
}

func (b *capBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := strings.TrimSpace(string(b.buf))
	if s == "" {
		return "(no output)"
	}
	return s
}
