package storm

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tubscope/tubscope/tubclient"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// recorder keeps what a run reported.
type recorder struct {
	NopReporter
	mu       sync.Mutex
	plan     Plan
	notes    []string
	events   map[EventKind]int
	outcomes []Outcome
	progress int
	finished bool
}

func (r *recorder) Planned(p Plan) { r.plan = p }
func (r *recorder) Note(s string)  { r.notes = append(r.notes, s) }
func (r *recorder) Client(e ClientEvent) {
	if r.events == nil {
		r.events = map[EventKind]int{}
	}
	r.events[e.Kind]++
}
func (r *recorder) Progress(Progress)      { r.progress++ }
func (r *recorder) Outcome(o Outcome)      { r.outcomes = append(r.outcomes, o) }
func (r *recorder) Finished(Result, error) { r.finished = true }

// A storm over two client processes against a tubscope queen: every client
// restarts silently at once, and every one is back with no flap.
func TestRunSilentRestart(t *testing.T) {
	q, furl := startQueen(t, "")
	o := testOptions(furl, 40, SilentRestart)
	o.PerProcess = 20
	rec := &recorder{}
	src := NewSource()
	res, err := Run(context.Background(), o, Tee(rec, src))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("recovery %+v", res.Recovery)
	if res.Back != 40 || res.LockedOut != 0 || res.Flaps != 0 || res.Rejects != 0 || res.Recovery.N != 40 || res.Rounds != 1 {
		t.Errorf("result %+v", res)
	}
	if res.Call != "echo" || res.Plan.Children != 2 || !rec.finished || len(rec.outcomes) != 40 {
		t.Errorf("call %q, %d processes, finished %v, %d outcomes", res.Call, res.Plan.Children, rec.finished, len(rec.outcomes))
	}
	if rec.events[EventUp] != 40 || rec.events[EventFault] != 40 || rec.events[EventBack] != 40 {
		t.Errorf("events %v", rec.events)
	}
	back := 0
	for _, p := range src.Snapshot().Peers {
		if strings.HasPrefix(p.LastError, "round 1: back") {
			back++
		}
	}
	if back != 40 {
		t.Errorf("the source shows %d of 40 clients back", back)
	}
	// The queen replaced each client's old connection once.
	replaced := 0
	for _, p := range q.Snapshot().Peers {
		for _, h := range p.History {
			if h.End == snapshot.CloseReplaced {
				replaced++
			}
		}
	}
	if replaced != 40 {
		t.Errorf("the queen replaced %d connections, want 40", replaced)
	}
}

// Two rounds of new keys, struck twenty a second: each round gives every
// client a new tubid, and all come back each time.
func TestRunRoundsAtRate(t *testing.T) {
	_, furl := startQueen(t, "")
	o := testOptions(furl, 6, NewKey)
	o.Rounds, o.Rate = 2, 20
	rec := &recorder{}
	res, err := Run(context.Background(), o, rec)
	if err != nil {
		t.Fatal(err)
	}
	if res.Back != 6 || res.Rounds != 2 || len(res.Outcomes) != 12 || res.Recovery.N != 12 {
		t.Fatalf("result %+v", res)
	}
	for i := range 6 {
		a, b := res.Outcomes[i], res.Outcomes[6+i]
		if a.Client != i || b.Client != i || a.TubID == b.TubID || a.TubID == "" {
			t.Errorf("client %d: round 1 %s, round 2 %s", i, a.TubID, b.TubID)
		}
	}
	if !strings.Contains(strings.Join(rec.plan.Lines(), "\n"), "20 clients a second") {
		t.Error("the plan does not say the rate")
	}
}

// Against Foolscap's rules a lost decision locks the client out, and each
// is counted so, within the window, with the queen's refusals by reason;
// under probe every client comes back.
func TestRunLostDecision(t *testing.T) {
	fast := tubclient.Backoff{Initial: 200 * time.Millisecond, Factor: 2, Max: 400 * time.Millisecond, Jitter: 0.01}
	for _, c := range []struct {
		policy    string
		back, out int
	}{{"foolscap", 0, 4}, {"probe", 4, 0}} {
		t.Run(c.policy, func(t *testing.T) {
			_, furl := startQueen(t, c.policy)
			o := testOptions(furl, 4, LostDecision)
			o.NegotiationTimeout, o.Backoff, o.Window = 500*time.Millisecond, fast, 4*time.Second
			res, err := Run(context.Background(), o, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Back != c.back || res.LockedOut != c.out {
				t.Fatalf("back %d, locked out %d; want %d, %d (%+v)", res.Back, res.LockedOut, c.back, c.out, res)
			}
			if c.out == 0 {
				return
			}
			if len(res.RejectsByReason) != 1 || res.RejectsByReason[0].Reason.Rule != "never-decided" || res.Rejects < 4 {
				t.Errorf("refusals %d: %+v", res.Rejects, res.RejectsByReason)
			}
			for _, o := range res.Outcomes {
				if o.Outcome != OutcomeLockedOut || o.LockedOutFor <= 0 || o.LockedOutFor >= 4*time.Second || o.Rejects == 0 {
					t.Errorf("outcome %+v", o)
				}
			}
		})
	}
}

// Cut short by its overall timeout, a storm still reports every client
// (those not back as locked out until then) and stops its processes.
func TestRunTimeout(t *testing.T) {
	_, furl := startQueen(t, "foolscap")
	o := testOptions(furl, 3, LostDecision)
	o.Timeout = 4 * time.Second
	res, err := Run(context.Background(), o, nil)
	if err == nil || !strings.Contains(err.Error(), "overall time limit (4s)") {
		t.Fatalf("err = %v", err)
	}
	if res.LockedOut != 3 || len(res.Outcomes) != 3 {
		t.Errorf("result %+v", res)
	}
}

// A client process that fails is reported with what it said.
func TestRunChildFails(t *testing.T) {
	_, furl := startQueen(t, "")
	o := testOptions(furl, 2, SilentRestart)
	o.Start = func() *exec.Cmd { return exec.Command("/bin/sh", "-c", "read config; echo no luck today >&2; exit 3") }
	_, err := Run(context.Background(), o, nil)
	if err == nil || !strings.Contains(err.Error(), "no luck today") || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("err = %v", err)
	}
}

// A public target is refused before anything is started or dialled.
func TestRunRefusesPublicTarget(t *testing.T) {
	o := testOptions("pb://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@tcp:8.8.8.8:1/x", 1, SilentRestart)
	o.Start = func() *exec.Cmd { t.Fatal("a process was started"); return nil }
	rec := &recorder{}
	_, err := Run(context.Background(), o, rec)
	if !errors.Is(err, ErrPublicTarget) || rec.plan.N != 0 || !rec.finished {
		t.Errorf("err = %v, planned %+v", err, rec.plan)
	}
	if err := Check(context.Background(), o); !errors.Is(err, ErrPublicTarget) {
		t.Errorf("Check: %v", err)
	}
}
