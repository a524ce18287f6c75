package flogapp

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tubscope/tubscope/tubclient/internal/tubscopebin"
	"github.com/tubscope/tubscope/tubclient/snapshot"
)

// offerStep is one offer the Foolscap client makes to the Foolscap
// master, and the verdict the master must give it.
type offerStep struct {
	cmd    string
	accept bool
	rule   string
}

// offerSteps provoke every duplicate-connection rule a real Foolscap 21.7
// client can reach: a parallel-attempt duplicate that never heard the
// decision, a reconnect knowing the seqnum, a stale duplicate, a peer
// that last heard a past master, a restart, and a seqnum from the future
// (Foolscap calls it weird, which files an incident).
var offerSteps = []offerStep{
	{"connect", true, "no-existing"},
	{"forget", false, "never-decided"},
	{"reconnect", true, "same-seqnum"},
	{"stale", false, "older-seqnum"},
	{"pastlife", true, "old-master-incarnation"},
	{"newinc", true, "new-incarnation"},
	{"future", false, "newer-seqnum"},
}

// madeOffer is what the client reported about one offer.
type madeOffer struct {
	offerStep
	incarnation, last, current string
}

// scenario is one run of the offers against a Foolscap master, with
// tubscope tailing the master's logport and the client's.
type scenario struct {
	dir                  string
	master, client, tail string // tubids
	logportTub           string // the tub serving the master's logport
	offers               []madeOffer
	masterTail           []snapshot.Event // tail --json of the master's logport
	textTail             []string         // tail --all of the same
	clientTail           []snapshot.Event // tail --json of the client's logport
	saved, flogfile      string           // tail --save-to; FLOGFILE
	flogtoolSaved        string           // flogtool tail --save-to
	incident             string
}

// TestTailFoolscapMaster runs `tubscope tail` against an unmodified
// Foolscap 21.7 master while a Foolscap client provokes every rule it
// can, and checks each verdict in --json and in text, then through
// replay --json of what tubscope tail, flogtool tail and the master's
// FLOGFILE saved and of its incident report. tubscope is the slave on
// its logport connection to the deciding tub, or an outsider whose
// logport connection goes to another tub of the same process, as a
// Tahoe-LAFS node runs its logport.
func TestTailFoolscapMaster(t *testing.T) {
	tubscopebin.Path(t)
	for _, c := range []struct {
		name     string
		separate bool
	}{{"slave", false}, {"outsider", true}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t, 150*time.Second)
			s := runScenario(t, ctx, c.separate)
			checkMasterVerdicts(t, "tail --json", verdictsFor(s.masterTail, s.master, s.client), s.offers)
			checkOwnConnection(t, s, c.separate)
			checkTextTail(t, s)
			checkSlaveView(t, s)
			for _, f := range []struct{ what, path string }{
				{"tail --save-to", s.saved}, {"flogtool tail --save-to", s.flogtoolSaved}, {"FLOGFILE", s.flogfile},
			} {
				checkMasterVerdicts(t, "replay --json of "+f.what, verdictsFor(replayJSON(t, ctx, f.path), s.master, s.client), s.offers)
			}
			// An incident keeps what Foolscap still buffered, up to its
			// trigger and a little after: the weird offer is its last.
			got := verdictsFor(replayJSON(t, ctx, s.incident), s.master, s.client)
			if n := len(got); n == 0 || got[n-1].Rule != "newer-seqnum" || *got[n-1].Accept {
				t.Errorf("replay --json of the incident %s: verdicts %v, want the newer-seqnum rejection last", s.incident, rules(got))
			}
			out, err := exec.CommandContext(ctx, "flogtool", "dump", s.saved).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "peer knows about old seqnum") {
				t.Errorf("flogtool dump of tail's --save-to: %v\n%s", err, out)
			}
			if !c.separate {
				verdicts := 0
				for _, ev := range replayJSON(t, ctx, s.saved) {
					if ev.Kind == snapshot.KindVerdict {
						verdicts++
					}
				}
				checkBadInput(t, ctx, s.saved, verdicts)
			}
		})
	}
}

func runScenario(t *testing.T, ctx context.Context, separate bool) *scenario {
	bin := tubscopebin.Path(t)
	s := &scenario{dir: t.TempDir()}
	// The master has the highest tubid: it decides every connection to it.
	pems, ids := orderedPEMs(t, s.dir, 4)
	s.client, s.tail, s.master = ids[0], ids[1], ids[3]
	s.flogfile = filepath.Join(s.dir, "master.flog")
	s.saved = filepath.Join(s.dir, "tail.flog")
	s.flogtoolSaved = filepath.Join(s.dir, "flogtool-tail.flog")
	furlfile := filepath.Join(s.dir, "logport.furl")
	args := []string{"--pem", pems[3], "--logport-furlfile", furlfile, "--logdir", filepath.Join(s.dir, "incidents")}
	if separate {
		args = append(args, "--separate-logport")
	}
	master := python(t, s.dir, []string{"FLOGFILE=" + s.flogfile, "FLOGLEVEL=10"}, "decider.py", args...)
	ready := master.event(ctx, "ready")
	if ready["tubid"] != s.master {
		t.Fatalf("the master is %v, want %s", ready["tubid"], s.master)
	}
	s.logportTub, _ = ready["logport_tubid"].(string)

	// The target is the FURL file, as an operator names it.
	jtail := startProc(t, s.dir, nil, bin, "tail", "--catch-up", "--json", "--save-to", s.saved, "--key", pems[1], furlfile)
	var h tailHeader
	if err := json.Unmarshal([]byte(jtail.expect(ctx, `{"header"`)), &h); err != nil {
		t.Fatal(err)
	}
	if h.Header.Versions["foolscap"] != "21.7.0" || float64(h.Header.PID) != ready["pid"] || h.Header.TubID != s.logportTub {
		t.Errorf("tail header %+v: want foolscap 21.7.0, pid %v, tub %s", h.Header, ready["pid"], s.logportTub)
	}
	// Foolscap's own tail saves too, to compare with.
	ftail := startProc(t, s.dir, nil, "flogtool", "tail", "--catch-up", "--save-to", s.flogtoolSaved, furlfile)
	ftail.expect(ctx, "Connected")
	ttail := startProc(t, s.dir, nil, bin, "tail", "--all", "--key", pems[2], ready["logport_furl"].(string))
	ttail.expect(ctx, "tubscope tail: connected to the logport of tub "+short(s.logportTub))

	client := python(t, s.dir, nil, "offerer.py", "--pem", pems[0], "--logport-furlfile", filepath.Join(s.dir, "client.furl"), ready["furl"].(string))
	cready := client.event(ctx, "ready")
	ctail := startProc(t, s.dir, nil, bin, "tail", "--json", cready["logport_furl"].(string))
	ctail.expect(ctx, `{"header"`)

	for _, step := range offerSteps {
		client.send(step.cmd)
		l := client.event(ctx, "accepted", "rejected")
		if (l["event"] == "accepted") != step.accept {
			t.Fatalf("%s: the Foolscap master answered %v, want accept=%v", step.cmd, l, step.accept)
		}
		o := madeOffer{offerStep: step}
		o.incarnation, _ = l["incarnation"].(string)
		o.last, _ = l["last_connection"].(string)
		o.current, _ = l["current_connection"].(string)
		s.offers = append(s.offers, o)
	}

	// Every verdict reaches the tails; then ^C unsubscribes and exits 0.
	s.masterTail = readEvents(t, ctx, jtail, func(evs []snapshot.Event) bool {
		return len(verdictsFor(evs, s.master, s.client)) == len(offerSteps)
	})
	if err := jtail.interrupt(ctx); err != nil {
		t.Errorf("tail --json after SIGINT: %v\n%s", err, jtail.stderrText())
	}
	master.event(ctx, "unsubscribed")
	s.textTail = ttail.until(ctx, "REJECT newer-seqnum")
	if err := ttail.interrupt(ctx); err != nil {
		t.Errorf("tail --all after SIGINT: %v", err)
	}
	master.event(ctx, "unsubscribed")
	s.textTail = append(s.textTail, ttail.rest()...)
	// flogtool tail prints the weird offer's line once it has it; its
	// file is complete when it exits on SIGINT.
	ftail.expect(ctx, "offer_master_seqnum")
	ftail.interrupt(ctx)
	s.clientTail = readEvents(t, ctx, ctail, func(evs []snapshot.Event) bool {
		return len(received(evs, s.master)) == len(offerSteps)
	})
	if err := ctail.interrupt(ctx); err != nil {
		t.Errorf("tail of the client after SIGINT: %v", err)
	}

	// The newer-seqnum offer is weird: the incident reporter files it
	// once its trailing window closes, which enough noise does at once.
	master.send("noise 120")
	master.event(ctx, "ok")
	for s.incident == "" {
		master.send("incidents")
		files, _ := master.event(ctx, "ok")["files"].([]any)
		if len(files) > 0 {
			s.incident = files[0].(string)
			break
		}
		select {
		case <-time.After(50 * time.Millisecond): // the reporter renames its file a reactor turn later
		case <-ctx.Done():
			t.Fatal("no incident file")
		}
	}
	client.send("quit")
	master.send("quit")
	if err := master.wait(); err != nil {
		t.Fatalf("the master did not exit cleanly (FLOGFILE may be cut short): %v\n%s", err, master.stderrText())
	}
	return s
}

// readEvents reads tail --json lines until done holds for the events so
// far.
func readEvents(t *testing.T, ctx context.Context, p *proc, done func([]snapshot.Event) bool) []snapshot.Event {
	t.Helper()
	var evs []snapshot.Event
	for !done(evs) {
		l, ok := p.next(ctx)
		if !ok {
			t.Fatalf("%s ended: %v\n%s", p.name, p.wait(), p.stderrText())
		}
		if strings.Contains(l, "0001-01-01") {
			t.Errorf("a zero time written out: %s", l)
		}
		var ev snapshot.Event
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("not a JSON event: %s: %v", l, err)
		}
		if ev.Kind == "" {
			continue // the header
		}
		evs = append(evs, ev)
	}
	return evs
}

func verdictsFor(evs []snapshot.Event, tub, peer string) []snapshot.Event {
	var out []snapshot.Event
	for _, ev := range evs {
		if ev.Kind == snapshot.KindVerdict && ev.TubID == tub && ev.PeerTubID == peer {
			out = append(out, ev)
		}
	}
	return out
}

func received(evs []snapshot.Event, master string) []snapshot.Event {
	var out []snapshot.Event
	for _, ev := range evs {
		if ev.Kind == snapshot.KindDecisionReceived && ev.PeerTubID == master {
			out = append(out, ev)
		}
	}
	return out
}

func rules(evs []snapshot.Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, fmt.Sprintf("%s/%v", ev.Rule, ev.Accept != nil && *ev.Accept))
	}
	return out
}

// checkMasterVerdicts compares the master's verdicts with the offers, in
// order: rule, verdict and the offer's own values.
func checkMasterVerdicts(t *testing.T, what string, got []snapshot.Event, offers []madeOffer) {
	t.Helper()
	if len(got) != len(offers) {
		t.Errorf("%s: verdicts %v, want %d", what, rules(got), len(offers))
		return
	}
	for i, o := range offers {
		g := got[i]
		if g.Rule != o.rule || g.Accept == nil || *g.Accept != o.accept || g.Role != snapshot.Master ||
			g.Incarnation != o.incarnation || g.LastConnection != o.last || g.Detail == "" || g.Time.IsZero() {
			t.Errorf("%s: verdict %d = %s %v inc %q last %q detail %q; the %s offer made inc %q last %q, want %s %v",
				what, i, g.Rule, g.Accept != nil && *g.Accept, g.Incarnation, g.LastConnection, g.Detail,
				o.cmd, o.incarnation, o.last, o.rule, o.accept)
		}
		if o.accept && g.Current != o.current {
			t.Errorf("%s: verdict %d sent current-connection %q; the client got %q", what, i, g.Current, o.current)
		}
	}
}

// checkOwnConnection: as the slave of the deciding tub, tail's own
// logport connection is one of that tub's verdicts (a first connection:
// no-existing); as an outsider, the deciding tub never sees tail at all.
func checkOwnConnection(t *testing.T, s *scenario, separate bool) {
	t.Helper()
	own := verdictsFor(s.masterTail, s.master, s.tail)
	if !separate {
		if len(own) != 1 || own[0].Rule != "no-existing" || !*own[0].Accept {
			t.Errorf("the master's verdicts on tail's own connection: %v, want one no-existing accept", rules(own))
		}
		return
	}
	if len(own) != 0 {
		t.Errorf("the deciding tub judged the outsider's connection: %v", rules(own))
	}
	seen := false
	for _, ev := range s.masterTail {
		if ev.TubID == s.logportTub && ev.PeerTubID == s.tail &&
			(ev.Kind == snapshot.KindVerdict || ev.Kind == snapshot.KindDecisionReceived) {
			seen = true
		}
	}
	if !seen {
		t.Errorf("no decision of the logport's own tub %s on tail's connection", short(s.logportTub))
	}
}

// checkTextTail: one line per decision in the decision log's words, and
// with --all every raw event as Foolscap words it.
func checkTextTail(t *testing.T, s *scenario) {
	t.Helper()
	text := strings.Join(s.textTail, "\n")
	for _, o := range s.offers {
		verdict := "✗ REJECT"
		if o.accept {
			verdict = "✓ ACCEPT"
		}
		want := fmt.Sprintf("[%s] %s master inc %-8s last %-17s %s %s: ", short(s.master), short(s.client),
			short(o.incarnation), lastConnection(o.last), verdict, o.rule)
		if !strings.Contains(text, want) {
			t.Errorf("tail's text has no line with %q:\n%s", want, text)
		}
	}
	for _, raw := range []string{"peer knows about old seqnum", "peer doesn't remember talking to us", "got offer for an existing connection"} {
		if !strings.Contains(text, raw) {
			t.Errorf("tail --all did not print Foolscap's %q", raw)
		}
	}
	if !strings.Contains(text, short(s.client)+" replaced connection #") || !strings.Contains(text, short(s.client)+" attached connection #") {
		t.Errorf("tail's text shows no connection attached and replaced:\n%s", text)
	}
}

// checkSlaveView: the client's logport shows each decision as received:
// the master's accepts and refusals in the same order.
func checkSlaveView(t *testing.T, s *scenario) {
	t.Helper()
	got := received(s.clientTail, s.master)
	if len(got) != len(s.offers) {
		t.Fatalf("the client's view: %v, want %d decisions received", rules(got), len(s.offers))
	}
	for i, o := range s.offers {
		g := got[i]
		rule := "master-rejected"
		if o.accept {
			rule = "master-accepted"
		}
		if g.Rule != rule || g.Accept == nil || *g.Accept != o.accept || g.Role != snapshot.Slave || g.TubID != s.client {
			t.Errorf("the client's decision %d (%s) = %s %v role %s tub %s, want %s", i, o.cmd, g.Rule, g.Accept != nil && *g.Accept,
				g.Role, short(g.TubID), rule)
		}
		if o.accept && g.Current != o.current {
			t.Errorf("the client's decision %d: current-connection %q, the client holds %q", i, g.Current, o.current)
		}
	}
}

// replayJSON runs `tubscope replay --json` on files and parses its lines.
func replayJSON(t *testing.T, ctx context.Context, files ...string) []snapshot.Event {
	t.Helper()
	out, errOut, err := runTubscope(t, ctx, append([]string{"replay", "--json"}, files...)...)
	if err != nil {
		t.Fatalf("replay --json %v: %v\n%s", files, err, errOut)
	}
	var evs []snapshot.Event
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<22)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "0001-01-01") {
			t.Errorf("replay --json wrote a zero time: %s", sc.Text())
		}
		var ev snapshot.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("replay --json line %q: %v", sc.Text(), err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// checkBadInput: a bad line in a saved file is reported by file and
// line and the replay goes on; a truncated bz2 and a file that is no log
// at all are errors naming the file.
func checkBadInput(t *testing.T, ctx context.Context, saved string, verdicts int) {
	t.Helper()
	dir := t.TempDir()
	data, err := os.ReadFile(saved)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	bad := filepath.Join(dir, "bad.flog")
	os.WriteFile(bad, []byte(strings.Join(lines[:5], "")+`{"from": "x", "d": {nonsense`+"\n"+strings.Join(lines[5:], "")), 0o600)
	out, errOut, err := runTubscope(t, ctx, "replay", "--json", bad)
	if err != nil || !strings.Contains(errOut, bad+":6:") {
		t.Errorf("replay --json of a file with a bad line 6: %v, stderr %q", err, errOut)
	}
	if n := strings.Count(out, `"kind":"verdict"`); n != verdicts {
		t.Errorf("replay --json went on past the bad line to %d verdicts, want %d", n, verdicts)
	}

	notFlog := filepath.Join(dir, "notes.txt")
	os.WriteFile(notFlog, []byte("hello\n"), 0o600)
	if _, errOut, err := runTubscope(t, ctx, "replay", "--json", notFlog); err == nil || !strings.Contains(errOut, "not a foolscap flogfile") {
		t.Errorf("replay --json of a text file: %v, stderr %q", err, errOut)
	}
	compressed := filepath.Join(dir, "tail.flog")
	os.WriteFile(compressed, data, 0o600)
	if out, err := exec.CommandContext(ctx, "bzip2", compressed).CombinedOutput(); err != nil {
		t.Fatalf("bzip2: %v %s", err, out)
	}
	if out, _, err := runTubscope(t, ctx, "replay", "--json", compressed+".bz2"); err != nil || strings.Count(out, `"kind":"verdict"`) != verdicts {
		t.Errorf("replay --json of the file bzip2ed: %v, %d verdicts", err, strings.Count(out, `"kind":"verdict"`))
	}
	bz, _ := os.ReadFile(compressed + ".bz2")
	truncated := filepath.Join(dir, "cut.flog.bz2")
	os.WriteFile(truncated, bz[:len(bz)/2], 0o600)
	if _, errOut, err := runTubscope(t, ctx, "replay", "--json", truncated); err == nil || !strings.Contains(errOut, truncated) {
		t.Errorf("replay --json of a truncated bz2: %v, stderr %q", err, errOut)
	}
}
