package storm

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/tubscope/tubscope/tubclient"
)

// childPipe runs RunChild in process, fed through a pipe; reports come
// back decoded.
type childPipe struct {
	in      *io.PipeWriter
	reports chan report
	done    chan error
}

func startChildInProcess(t *testing.T, cfg childConfig) *childPipe {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	p := &childPipe{in: inW, reports: make(chan report, 1024), done: make(chan error, 1)}
	go func() {
		err := RunChild(context.Background(), inR, outW)
		outW.Close()
		inR.Close()
		p.done <- err
	}()
	go func() {
		defer close(p.reports)
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			var r report
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Errorf("child wrote %q: %v", sc.Text(), err)
				continue
			}
			p.reports <- r
		}
	}()
	p.send(t, order{Config: &cfg})
	return p
}

func (p *childPipe) send(t *testing.T, o order) {
	t.Helper()
	b, _ := json.Marshal(o)
	if _, err := p.in.Write(append(b, '\n')); err != nil {
		t.Fatal(err)
	}
}

// until collects reports until one of kind k has come n times.
func (p *childPipe) until(t *testing.T, k string, n int) []report {
	t.Helper()
	var got []report
	timer := time.NewTimer(time.Minute)
	defer timer.Stop()
	for seen := 0; seen < n; {
		select {
		case r, ok := <-p.reports:
			if !ok {
				t.Fatalf("the child ended after %+v", got)
			}
			got = append(got, r)
			if r.K == k {
				seen++
			}
		case <-timer.C:
			t.Fatalf("no %d %q reports within a minute: %+v", n, k, got)
		}
	}
	return got
}

func (p *childPipe) end(t *testing.T) error {
	t.Helper()
	p.in.Close()
	for range p.reports {
	}
	return <-p.done
}

func childConfigFor(furl string, n int, fault Fault) childConfig {
	return childConfig{FURL: furl, First: 10, Count: n, Fault: fault, Call: "echo", NegotiationTimeout: 2 * time.Second,
		Down: time.Second, Setup: time.Minute, KeyExchange: "p256", Slaves: true}
}

// A client process connects its clients as the queen's slaves, reports
// them up and ready, strikes each on a fault order and reports it back,
// and closes every tub once its input ends.
func TestRunChildSilentRestart(t *testing.T) {
	q, furl := startQueen(t, "")
	p := startChildInProcess(t, childConfigFor(furl, 3, SilentRestart))
	got := p.until(t, repReady, 1)
	ups := 0
	for _, r := range got {
		if r.K == repUp {
			ups++
			if r.C < 10 || r.C > 12 || r.TubID == "" || r.TubID > q.TubID() {
				t.Errorf("up report %+v: want clients 10-12, slaves of %s", r, q.TubID())
			}
		}
	}
	if ups != 3 || got[len(got)-1].N != 3 {
		t.Fatalf("reports %+v", got)
	}
	p.send(t, order{Fault: &faultOrder{Round: 1, At: time.Now().UnixNano()}})
	got = p.until(t, repBack, 3)
	faults := map[int]string{}
	for _, r := range got {
		switch r.K {
		case repFault:
			faults[r.C] = r.TubID
		case repBack:
			if faults[r.C] == "" || r.R != 1 || r.TubID != faults[r.C] {
				t.Errorf("back %+v before its fault (%v)", r, faults)
			}
		case repFail:
			t.Errorf("a silent restart failed: %+v", r)
		}
	}
	sub := q.Subscribe(1024)
	defer sub.Close()
	if err := p.end(t); err != nil {
		t.Fatal(err)
	}
	// Closing the tubs sent FINs; the queen drops each broker as it reads one.
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	for len(q.Snapshot().Brokers) > 0 {
		select {
		case <-sub.Changed():
			sub.Drain(0)
		case <-timer.C:
			t.Fatalf("the queen still holds %d brokers 10s after the clients closed", len(q.Snapshot().Brokers))
		}
	}
}

// A lost decision against the foolscap policy: the retry, which remembers
// no decision, is refused, and the report says so.
func TestRunChildLostDecision(t *testing.T) {
	_, furl := startQueen(t, "foolscap")
	cfg := childConfigFor(furl, 1, LostDecision)
	cfg.NegotiationTimeout = 500 * time.Millisecond
	cfg.Backoff = tubclient.Backoff{Initial: 100 * time.Millisecond, Factor: 2, Max: 200 * time.Millisecond, Jitter: 0.01}
	p := startChildInProcess(t, cfg)
	p.until(t, repReady, 1)
	p.send(t, order{Fault: &faultOrder{Round: 1, At: time.Now().UnixNano()}})
	var refused report
	for _, r := range p.until(t, repFail, 2) {
		if r.K == repFail && r.Refused {
			refused = r
		}
	}
	if refused.Reason != duplicateText || refused.Offer != "offer remembered no decision" || refused.Rule != "never-decided" ||
		refused.Next == 0 || !strings.Contains(refused.Err, "Duplicate connection") || refused.Sent == nil || refused.Sent.Last != "none 0" {
		t.Errorf("refusal %+v", refused)
	}
	if err := p.end(t); err != nil {
		t.Fatal(err)
	}
}

// A configuration or an order that is not one ends the process with a
// message naming the command.
func TestRunChildBadInput(t *testing.T) {
	for _, in := range []string{"", "junk\n", `{"fault":{"round":1}}` + "\n", `{"config":{"furl":"pb://x"}}` + "\n"} {
		err := RunChild(context.Background(), strings.NewReader(in), io.Discard)
		if err == nil || !strings.Contains(err.Error(), ChildCommand) {
			t.Errorf("input %q: %v", in, err)
		}
	}
	_, furl := startQueen(t, "")
	cfg := childConfigFor(furl, 1, Flap)
	b, _ := json.Marshal(order{Config: &cfg})
	in := string(b) + "\nnot an order\n"
	err := RunChild(context.Background(), strings.NewReader(in), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not a fault order") {
		t.Errorf("bad order: %v", err)
	}
}

// A flap: the held connection goes silent, the attempt on it times out and
// is given up, new dials fail while the path is down, and once it is back
// a new connection brings the client back.
func TestRunChildFlap(t *testing.T) {
	_, furl := startQueen(t, "")
	cfg := childConfigFor(furl, 1, Flap)
	cfg.NegotiationTimeout, cfg.Down = 300*time.Millisecond, time.Second
	cfg.Backoff = tubclient.Backoff{Initial: 100 * time.Millisecond, Factor: 1, Max: time.Second, Jitter: -1}
	p := startChildInProcess(t, cfg)
	p.until(t, repReady, 1)
	p.send(t, order{Fault: &faultOrder{Round: 1, At: time.Now().UnixNano()}})
	got := p.until(t, repBack, 1)
	var kinds []string
	for _, r := range got {
		kinds = append(kinds, r.K+":"+r.Reason)
	}
	n := len(kinds)
	if n < 4 || kinds[0] != "fault:" || kinds[1] != "fail:attempt timed out" || kinds[n-1] != "back:" ||
		strings.Count(strings.Join(kinds[2:n-1], " "), "fail:negotiation timed out") != n-3 {
		t.Errorf("reports %q", kinds)
	}
	if err := p.end(t); err != nil {
		t.Fatal(err)
	}
}

// A clone: the twin, with the client's key in another tub, connects first
// and is taken; the client's own offer then meets the queen's clone limit,
// which it sees only as "Duplicate connection".
func TestRunChildClone(t *testing.T) {
	_, furl := startQueen(t, "foolscap")
	cfg := childConfigFor(furl, 1, Clone)
	cfg.Backoff = tubclient.Backoff{Initial: 100 * time.Millisecond, Factor: 1, Max: time.Second, Jitter: -1}
	p := startChildInProcess(t, cfg)
	up := p.until(t, repReady, 1)[0]
	p.send(t, order{Fault: &faultOrder{Round: 1, At: time.Now().UnixNano()}})
	var twinBack, refused bool
	for _, r := range p.until(t, repFail, 1) {
		switch {
		case r.K == repBack && r.Twin && r.TubID == up.TubID:
			twinBack = true
		case r.K == repFail && !r.Twin && r.Refused && r.Reason == duplicateText:
			refused = true
		}
	}
	if !twinBack || !refused {
		t.Errorf("twin back %v, client refused %v", twinBack, refused)
	}
	if err := p.end(t); err != nil {
		t.Fatal(err)
	}
}
