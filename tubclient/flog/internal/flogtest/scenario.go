package flogtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/tubscope/tubscope/negotiation"
)

// Expected is one offer a scenario made and the verdict the Foolscap tub
// must have logged for it, in tubscope's rule names.
type Expected struct {
	Peer        string // the tubid on the other side of the decision
	Master      bool   // the Foolscap tub decided (false: it received the decision)
	Incarnation string // the offer's my-incarnation ("" when omitted)
	Last        string // the offer's last-connection ("" when omitted)
	Accept      bool
	Rule        string
	Current     string // current-connection on accept
	// ExistingSeqNum is the held broker's seqnum the offer was weighed
	// against; 0 when there was none.
	ExistingSeqNum uint64
}

func (e Expected) String() string {
	verdict := "reject"
	if e.Accept {
		verdict = "accept"
	}
	return fmt.Sprintf("%s %s inc=%q last=%q existing=%d current=%q", verdict, e.Rule, e.Incarnation, e.Last, e.ExistingSeqNum, e.Current)
}

// MasterRun is what the master scenario left behind.
type MasterRun struct {
	TubID, Incarnation string // the Foolscap master
	Client             string // the raw Go tub's tubid
	FlogFile           string // FLOGFILE=… FLOGLEVEL=10
	TailFile           string // flogtool tail --catch-up --save-to
	Incident           string // the .flog.bz2 the newer-seqnum offer triggered
	Expected           []Expected
}

// SlaveRun is what the slave scenario left behind.
type SlaveRun struct {
	TubID    string // the Foolscap slave
	Master   string // the raw Go master's tubid
	FlogFile string
	Expected []Expected
}

// RunMaster provokes every rule of Foolscap 21.7's duplicate-connection
// check on a real Foolscap master, with flogtool tail saving its logport,
// and returns the files and the verdicts they must show. dir receives
// everything.
func RunMaster(ctx context.Context, dir string) (_ *MasterRun, err error) {
	peerDir := filepath.Join(dir, "master")
	logDir := filepath.Join(dir, "incidents")
	if err := os.MkdirAll(peerDir, 0o700); err != nil {
		return nil, err
	}
	run := &MasterRun{FlogFile: filepath.Join(dir, "master.flog"), TailFile: filepath.Join(dir, "tail.flog")}
	p, err := Start(ctx, Options{Dir: peerDir, LogDir: logDir, FlogFile: run.FlogFile})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			p.Kill()
		}
	}()
	run.TubID, run.Incarnation = p.TubID(), p.Incarnation()
	tail, err := StartTail(ctx, p, run.TailFile)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			tail.Kill()
		}
	}()
	// Values JSON cannot hold, through FLOGFILE and through the logport.
	if _, err := p.Command(ctx, "values"); err != nil {
		return nil, err
	}
	g, err := NewRawTub(run.TubID, false)
	if err != nil {
		return nil, err
	}
	run.Client = g.ID.TubID
	s := &masterSteps{ctx: ctx, p: p, g: g, run: run}
	if err := s.all(); err != nil {
		return nil, err
	}
	if run.Incident, err = p.WaitIncident(ctx); err != nil {
		return nil, err
	}
	if err := tail.Sync(ctx, p); err != nil {
		return nil, err
	}
	if err := tail.Stop(ctx); err != nil {
		return nil, err
	}
	for _, c := range s.open {
		c.Close()
	}
	if err := p.Stop(ctx); err != nil {
		return nil, err
	}
	return run, nil
}

type masterSteps struct {
	ctx  context.Context
	p    *Peer
	g    *RawTub
	run  *MasterRun
	open []*Conn
	held uint64 // the seqnum of the broker the master holds for g
}

func conn(ir string, seq uint64) *negotiation.Connection {
	return &negotiation.Connection{MasterIncarnation: ir, SeqNum: seq}
}

// offer sends one hello and checks the master answered as expected.
func (s *masterSteps) offer(inc string, last *negotiation.Connection, accept bool, rule string) error {
	c, err := s.g.Offer(s.ctx, s.p.Addr(), s.run.TubID, s.g.Hello(inc, last))
	if err != nil {
		return fmt.Errorf("offer for %s: %w", rule, err)
	}
	e := Expected{Peer: s.g.ID.TubID, Master: true, Incarnation: inc, Accept: accept, Rule: rule, ExistingSeqNum: s.held}
	if last != nil {
		e.Last = last.String()
	}
	if got := c.Decision.Error == ""; got != accept {
		return fmt.Errorf("offer for %s: the master answered accept=%v (%q), want %v", rule, got, c.Decision.Error, accept)
	}
	if accept {
		s.open = append(s.open, c)
		if c.Decision.Current == nil {
			return fmt.Errorf("offer for %s: accepted without current-connection", rule)
		}
		e.Current = c.Decision.Current.String()
		s.held = c.Decision.Current.SeqNum
	}
	s.run.Expected = append(s.run.Expected, e)
	return nil
}

func (s *masterSteps) handleOld(seconds int) error {
	_, err := s.p.Command(s.ctx, fmt.Sprint("handle-old ", seconds))
	return err
}

func (s *masterSteps) all() error {
	m, i1, i2 := s.run.Incarnation, s.g.Incarnation, NewIncarnation()
	steps := []func() error{
		func() error { return s.offer(i1, conn("none", 0), true, "no-existing") },
		func() error { return s.offer(i1, conn("none", 0), false, "never-decided") },
		func() error { return s.offer(i1, conn(m, 1), true, "same-seqnum") },
		func() error { return s.offer(i1, conn(m, 1), false, "older-seqnum") },
		func() error { return s.offer(i1, conn("0123456789abcdef", 1), true, "old-master-incarnation") },
		func() error { return s.offer(i2, conn(m, 3), true, "new-incarnation") },
		func() error { return s.offer("", conn(m, 4), false, "no-incarnation") },
		func() error { return s.offer(i2, nil, false, "no-last-connection") },
		func() error { return s.handleOld(3600) },
		func() error { return s.offer("", conn(m, 4), false, "handle-old-young") },
		func() error { return s.handleOld(0) },
		// With an incarnation, so the broker it makes can be compared again.
		func() error { return s.offer(i2, nil, true, "handle-old-aged") },
		func() error { return s.handleOld(-1) },
		func() error { return s.parallel(i2, conn(m, s.held)) },
		func() error { return s.offer(i2, conn(m, 99), false, "newer-seqnum") },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// parallel sends two identical offers at once, as two hints of one
// attempt would: their negotiations interleave in the log, the first one
// decided replaces the broker (same-seqnum) and the other is then one
// seqnum behind (older-seqnum).
func (s *masterSteps) parallel(inc string, last *negotiation.Connection) error {
	type result struct {
		c   *Conn
		err error
	}
	results := make([]result, 2)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			c, err := s.g.Offer(s.ctx, s.p.Addr(), s.run.TubID, s.g.Hello(inc, last))
			results[i] = result{c, err}
		})
	}
	wg.Wait()
	var accepted []*Conn
	for _, r := range results {
		if r.err != nil {
			return fmt.Errorf("parallel offer: %w", r.err)
		}
		if r.c.Decision.Error == "" {
			accepted = append(accepted, r.c)
		}
	}
	if len(accepted) != 1 {
		return fmt.Errorf("parallel offers: %d accepted, want exactly 1", len(accepted))
	}
	held := s.held
	cur := accepted[0].Decision.Current
	s.open = append(s.open, accepted[0])
	s.held = cur.SeqNum
	s.run.Expected = append(s.run.Expected,
		Expected{Peer: s.g.ID.TubID, Master: true, Incarnation: inc, Last: last.String(), Accept: true, Rule: "same-seqnum", Current: cur.String(), ExistingSeqNum: held},
		Expected{Peer: s.g.ID.TubID, Master: true, Incarnation: inc, Last: last.String(), Accept: false, Rule: "older-seqnum", ExistingSeqNum: cur.SeqNum})
	return nil
}

// RunSlave has a raw Go master decide three connections to a real
// Foolscap slave (accept, accept replacing the first, reject) and returns
// the slave's FLOGFILE and the decisions it must show.
func RunSlave(ctx context.Context, dir string) (_ *SlaveRun, err error) {
	peerDir := filepath.Join(dir, "slave")
	if err := os.MkdirAll(peerDir, 0o700); err != nil {
		return nil, err
	}
	run := &SlaveRun{FlogFile: filepath.Join(dir, "slave.flog")}
	p, err := Start(ctx, Options{Dir: peerDir, FlogFile: run.FlogFile})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			p.Kill()
		}
	}()
	run.TubID = p.TubID()
	g, err := NewRawTub(run.TubID, true)
	if err != nil {
		return nil, err
	}
	run.Master = g.ID.TubID
	var open []*Conn
	decide := func(d negotiation.Decision, accept bool, rule string) error {
		c, err := g.Decide(ctx, p.Addr(), run.TubID, g.Hello(g.Incarnation, conn("none", 0)), d)
		if err != nil {
			return fmt.Errorf("decision %s: %w", rule, err)
		}
		open = append(open, c)
		e := Expected{Peer: g.ID.TubID, Incarnation: c.PeerHello.Incarnation, Accept: accept, Rule: rule}
		if d.Current != nil {
			e.Current = d.Current.String()
		}
		run.Expected = append(run.Expected, e)
		// Wait until the slave has handled the decision, so the next one
		// cannot overtake it: a PONG comes only once it speaks Banana, and
		// a refused connection is closed.
		return c.Settle(ctx)
	}
	if err := decide(negotiation.AcceptDecision(3, *conn(g.Incarnation, 1)), true, "master-accepted"); err != nil {
		return nil, err
	}
	if err := decide(negotiation.AcceptDecision(3, *conn(g.Incarnation, 2)), true, "master-accepted"); err != nil {
		return nil, err
	}
	if err := decide(negotiation.ErrorDecision("Duplicate connection"), false, "master-rejected"); err != nil {
		return nil, err
	}
	for _, c := range open {
		c.Close()
	}
	if err := p.Stop(ctx); err != nil {
		return nil, err
	}
	return run, nil
}
