package replay

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tubscope/tubscope/tubclient/flog"
	"github.com/tubscope/tubscope/tubclient/flog/internal/flogtest"
	"github.com/tubscope/tubscope/tubclient/snapshot"
	"go.uber.org/goleak"
)

var runs flogtest.Runs

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { runs.Cleanup() }))
}

// verdictLine is what tubscope serve --json prints for a verdict.
type verdictLine struct {
	Kind           string    `json:"kind"`
	Time           time.Time `json:"time"`
	Tub            string    `json:"tub"`
	Peer           string    `json:"peer"`
	Role           string    `json:"role"`
	Incarnation    string    `json:"incarnation"`
	LastConnection string    `json:"last_connection"`
	Accept         *bool     `json:"accept"`
	Rule           string    `json:"rule"`
	Detail         string    `json:"detail"`
	Current        string    `json:"current_connection"`
}

func parseLines(t *testing.T, out []byte) []verdictLine {
	t.Helper()
	var lines []verdictLine
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var v verdictLine
		if bytes.Contains(sc.Bytes(), []byte(`"0001-01-01`)) {
			t.Errorf("a zero time written out: %s", sc.Bytes())
		}
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines = append(lines, v)
	}
	return lines
}

func only(lines []verdictLine, peer string) []verdictLine {
	var out []verdictLine
	for _, l := range lines {
		if l.Peer == peer {
			out = append(out, l)
		}
	}
	return out
}

func checkVerdicts(t *testing.T, got []verdictLine, want []flogtest.Expected) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d verdicts, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		kind, role := "decision-received", "slave"
		if w.Master {
			kind, role = "verdict", "master"
		}
		if g.Kind != kind || g.Role != role || g.Rule != w.Rule || g.Accept == nil || *g.Accept != w.Accept ||
			g.LastConnection != w.Last || g.Current != w.Current || g.Detail == "" || g.Time.IsZero() {
			t.Errorf("line %d = %+v, want %s %v", i, g, kind, w)
		}
		if w.Master && g.Incarnation != w.Incarnation {
			t.Errorf("line %d incarnation %q, want %q", i, g.Incarnation, w.Incarnation)
		}
	}
}

// TestWriteJSONFromFoolscapFiles replays each kind of file real Foolscap
// wrote and checks the verdict lines against the offers made.
func TestWriteJSONFromFoolscapFiles(t *testing.T) {
	m, s := runs.Get(t)
	for _, path := range []string{m.TailFile, m.FlogFile} {
		var out, errs bytes.Buffer
		if err := WriteJSON(context.Background(), []string{path}, &out, &errs); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if errs.Len() > 0 {
			t.Errorf("%s: errors %q", path, errs.String())
		}
		lines := parseLines(t, out.Bytes())
		checkVerdicts(t, only(lines, m.Client), m.Expected)
		for _, l := range lines {
			if l.Tub != m.TubID {
				t.Errorf("line from tub %q, want %s", l.Tub, m.TubID)
			}
		}
	}
	var out, errs bytes.Buffer
	if err := WriteJSON(context.Background(), []string{s.FlogFile}, &out, &errs); err != nil {
		t.Fatal(err)
	}
	checkVerdicts(t, only(parseLines(t, out.Bytes()), s.Master), s.Expected)
}

// TestWriteJSONMergesFiles replays the master's three files and the
// slave's together: duplicates count once, and both tubs' verdicts come
// out in time order.
func TestWriteJSONMergesFiles(t *testing.T) {
	m, s := runs.Get(t)
	var out, errs bytes.Buffer
	if err := WriteJSON(context.Background(), []string{m.Incident, m.TailFile, s.FlogFile, m.FlogFile}, &out, &errs); err != nil {
		t.Fatal(err)
	}
	lines := parseLines(t, out.Bytes())
	checkVerdicts(t, only(lines, m.Client), m.Expected)
	checkVerdicts(t, only(lines, s.Master), s.Expected)
	for i := 1; i < len(lines); i++ {
		if lines[i].Time.Before(lines[i-1].Time) {
			t.Errorf("line %d at %v comes after %v", i, lines[i].Time, lines[i-1].Time)
		}
	}
}

// TestWriteJSONBadInput damages a real file and adds one that is not a
// flogfile: every bad line is reported as file:line, the good lines all
// replayed, and the bad file named in the error.
func TestWriteJSONBadInput(t *testing.T) {
	m, _ := runs.Get(t)
	data, err := os.ReadFile(m.TailFile)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	var damaged []byte
	for i, l := range lines {
		damaged = append(damaged, l...)
		if i == 5 || i == 40 {
			damaged = append(damaged, "{\"from\": \"x\", \"d\": {NaN}}\n"...)
		}
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "damaged.flog")
	notFlog := filepath.Join(dir, "notes.txt")
	os.WriteFile(bad, damaged, 0o600)
	os.WriteFile(notFlog, []byte("hello\n"), 0o600)
	var out, errs bytes.Buffer
	err = WriteJSON(context.Background(), []string{bad, notFlog}, &out, &errs)
	if err == nil || !strings.Contains(err.Error(), notFlog) || !errors.Is(err, flog.ErrNotFlog) {
		t.Errorf("error %v, want %s named as not a flogfile", err, notFlog)
	}
	reported := strings.Split(strings.TrimSpace(errs.String()), "\n")
	// The file that cannot be opened is reported first. The first bad
	// line follows file line 6, so it is line 7; the second follows
	// original line 41, which is now line 43 (the first moved it down).
	want := []string{notFlog + ": ", bad + ":7: ", bad + ":43: "}
	if len(reported) != len(want) {
		t.Fatalf("errors %q, want %d", reported, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(reported[i], w) {
			t.Errorf("error %q, want it to start %q", reported[i], w)
		}
	}
	checkVerdicts(t, only(parseLines(t, out.Bytes()), m.Client), m.Expected)
}

func TestWriteJSONCancelled(t *testing.T) {
	m, _ := runs.Get(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errs bytes.Buffer
	if err := WriteJSON(ctx, []string{m.FlogFile}, &out, &errs); !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

// TestPlayerStepsThroughDecisions steps a paused player from offer to
// offer through the tail save; each step stops the cursor on the next
// decision and publishes it.
func TestPlayerStepsThroughDecisions(t *testing.T) {
	m, _ := runs.Get(t)
	synctest.Test(t, func(t *testing.T) {
		p, err := Open([]string{m.TailFile}, Options{Paused: true})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		sub := p.Subscribe(1024)
		defer sub.Close()
		s0 := p.Snapshot()
		if s0.Source.Kind != snapshot.SourceReplay || s0.Source.Replay == nil || s0.Source.Replay.Playing || s0.Source.ReadOnly == "" {
			t.Fatalf("initial source %+v", s0.Source)
		}
		var ruled []string
		var last uint64 = s0.Version
		for {
			if err := p.Step(); err != nil {
				t.Fatal(err)
			}
			s := p.Snapshot()
			if s.Version <= last {
				t.Fatalf("version %d after %d", s.Version, last)
			}
			last = s.Version
			cur := s.Source.Replay
			if cur.Done {
				break
			}
			d := s.Decisions[len(s.Decisions)-1]
			if !cur.At.Equal(d.Time) || cur.Playing {
				t.Fatalf("cursor %v playing=%v, want paused on the decision at %v", cur.At, cur.Playing, d.Time)
			}
			if d.PeerTubID == m.Client {
				ruled = append(ruled, d.Rule)
			}
		}
		var want []string
		for _, e := range m.Expected {
			want = append(want, e.Rule)
		}
		if strings.Join(ruled, " ") != strings.Join(want, " ") {
			t.Errorf("stepped through\n %v\nwant\n %v", ruled, want)
		}
		var verdicts int
		for _, ev := range sub.Drain(0) {
			if ev.Kind == snapshot.KindVerdict && ev.PeerTubID == m.Client {
				verdicts++
			}
		}
		if verdicts != len(m.Expected) || sub.Dropped() != 0 {
			t.Errorf("%d verdict events (%d dropped), want %d", verdicts, sub.Dropped(), len(m.Expected))
		}
	})
}

// TestPlayerPlaysInLogTime plays the master's file at 1× in a synctest
// bubble: it takes as long as the log spans, and twice as fast at 2×.
func TestPlayerPlaysInLogTime(t *testing.T) {
	m, _ := runs.Get(t)
	for _, speed := range []float64{1, 2} {
		synctest.Test(t, func(t *testing.T) {
			p, err := Open([]string{m.FlogFile}, Options{Speed: speed})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			cur := p.Snapshot().Source.Replay
			if !cur.Playing || cur.Speed != speed {
				t.Fatalf("cursor %+v", cur)
			}
			start := time.Now()
			if err := p.Wait(context.Background()); err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			s := p.Snapshot()
			span := s.Source.Replay.End.Sub(s.Source.Replay.Start)
			want := time.Duration(float64(span) / speed)
			if took < want-time.Millisecond || took > want+50*time.Millisecond {
				t.Errorf("speed %v: played %v of log in %v, want about %v", speed, span, took, want)
			}
			if !s.Source.Replay.Done || s.Source.Replay.Playing || s.Source.Replay.Applied != s.Source.Replay.Read ||
				!s.Source.Replay.At.Equal(s.Source.Replay.End) {
				t.Errorf("cursor at the end: %+v", s.Source.Replay)
			}
			if got := len(decisionsOf(s, m.Client)); got != len(m.Expected) {
				t.Errorf("%d decisions, want %d", got, len(m.Expected))
			}
			if tubs, err := p.Tubs(); err != nil || len(tubs) != 1 || tubs[0].TubID != m.TubID || tubs[0].Decisions == 0 {
				t.Errorf("Tubs() = %+v, %v", tubs, err)
			}
		})
	}
}

func decisionsOf(s *snapshot.Snapshot, peer string) []snapshot.Decision {
	var out []snapshot.Decision
	for _, d := range s.Decisions {
		if d.PeerTubID == peer {
			out = append(out, d)
		}
	}
	return out
}

// TestPlayerControls pauses, toggles and changes speed while playing: the
// cursor stops and moves as told.
func TestPlayerControls(t *testing.T) {
	m, _ := runs.Get(t)
	synctest.Test(t, func(t *testing.T) {
		// No skipping of quiet stretches: at 1/64 every gap is one.
		p, err := Open([]string{m.FlogFile}, Options{Speed: MinSpeed, MaxIdle: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		at := func() time.Time { return p.Snapshot().Source.Replay.At }
		t0 := at()
		time.Sleep(time.Second)
		synctest.Wait()
		p.Pause()
		t1 := at()
		if d := t1.Sub(t0); d < time.Second/64-time.Millisecond || d > time.Second/64+time.Millisecond {
			t.Errorf("a second at 1/64 moved the cursor %v", d)
		}
		time.Sleep(time.Second)
		if !at().Equal(t1) {
			t.Error("the cursor moved while paused")
		}
		p.Toggle() // play
		p.SpeedUp()
		if s := p.Snapshot().Source.Replay.Speed; s != 2*MinSpeed {
			t.Errorf("speed %v after SpeedUp, want %v", s, 2*MinSpeed)
		}
		time.Sleep(time.Second)
		p.Toggle() // pause
		if d := at().Sub(t1); d < time.Second/32-time.Millisecond || d > time.Second/32+time.Millisecond {
			t.Errorf("a second at 1/32 moved the cursor %v", d)
		}
		for range 30 {
			p.SpeedUp()
		}
		p.SpeedDown()
		if s := p.Snapshot().Source.Replay.Speed; s != MaxSpeed/2 {
			t.Errorf("speed %v, want the cap halved %v", s, MaxSpeed/2)
		}
		if err := p.SetSpeed(-1); err == nil {
			t.Error("SetSpeed(-1) accepted")
		}
		if err := p.JumpToTrigger(); !errors.Is(err, ErrNoTrigger) {
			t.Errorf("JumpToTrigger on FLOGFILE: %v", err)
		}
		p.Close()
		if err := p.Play(); !errors.Is(err, ErrClosed) {
			t.Errorf("Play after Close: %v", err)
		}
	})
}

// TestPlayerJumpsToTrigger opens the incident with the tail save (which
// holds more history): the cursor lands on the trigger, the newer-seqnum
// rejection is the last decision, and a second jump after playing to the
// end starts again from the beginning.
func TestPlayerJumpsToTrigger(t *testing.T) {
	m, _ := runs.Get(t)
	synctest.Test(t, func(t *testing.T) {
		p, err := Open([]string{m.TailFile, m.Incident}, Options{Paused: true})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		check := func(when string) {
			if err := p.JumpToTrigger(); err != nil {
				t.Fatal(err)
			}
			s := p.Snapshot()
			cur := s.Source.Replay
			if cur.Trigger.IsZero() || !cur.At.Equal(cur.Trigger) || cur.Playing {
				t.Errorf("%s: cursor %v, trigger %v, playing %v", when, cur.At, cur.Trigger, cur.Playing)
			}
			ds := decisionsOf(s, m.Client)
			if len(ds) != len(m.Expected) || ds[len(ds)-1].Rule != "newer-seqnum" {
				t.Errorf("%s: %d decisions, the last %+v", when, len(ds), ds[len(ds)-1])
			}
		}
		check("first jump")
		p.Play()
		if err := p.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		check("after the end")
	})
}

// TestPlayerSkipsQuietStretches plays a log with an hour of silence in
// the middle: at 1× it takes seconds, not an hour.
func TestPlayerSkipsQuietStretches(t *testing.T) {
	base := 1796633079.0
	var evs []flog.Event
	for i, at := range []float64{base, base + 0.5, base + 3600, base + 3600.5} {
		ev, err := flog.NewEvent(flog.Dict{{Key: "num", Value: int64(i)}, {Key: "time", Value: at},
			{Key: "message", Value: "tick"}, {Key: "incarnation", Value: flog.List{"0123456789abcdef", nil}}})
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	path := filepath.Join(t.TempDir(), "quiet.flog")
	f, _ := os.Create(path)
	w, _ := flog.NewWriter(f, flog.HeaderLogFileObserver, nil)
	for _, ev := range evs {
		w.Write("local", ev.Seconds(), ev)
	}
	w.Flush()
	f.Close()
	synctest.Test(t, func(t *testing.T) {
		p, err := Open([]string{path}, Options{MaxIdle: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		start := time.Now()
		p.Wait(context.Background())
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("played for %v", took)
		}
		if cur := p.Snapshot().Source.Replay; cur.Applied != 4 || !cur.End.Equal(flog.SecondsToTime(base+3600.5)) {
			t.Errorf("cursor %+v", cur)
		}
	})
}

// TestPlayerReportsBadLines replays a damaged file: the errors name
// file:line, reach subscribers and the source status, and every good
// event is still applied.
func TestPlayerReportsBadLines(t *testing.T) {
	m, _ := runs.Get(t)
	data, _ := os.ReadFile(m.TailFile)
	bad := filepath.Join(t.TempDir(), "bad.flog")
	damaged := bytes.Replace(data, []byte("\n"), []byte("\n{broken\n"), 3)
	os.WriteFile(bad, damaged, 0o600)
	_, good := readEvents(t, m.TailFile)
	synctest.Test(t, func(t *testing.T) {
		sub := (*Subscription)(nil)
		p, err := Open([]string{bad}, Options{Speed: MaxSpeed})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		sub = p.Subscribe(4096)
		defer sub.Close()
		p.Wait(context.Background())
		total, errs := p.Errors()
		// Two of the three breaks fall before the first event is read
		// ahead, while opening; all three are kept.
		if total != 3 || len(errs) != 3 {
			t.Fatalf("%d errors: %v", total, errs)
		}
		for i, want := range []string{bad + ":2: ", bad + ":4: ", bad + ":6: "} {
			if !strings.HasPrefix(errs[i].Error(), want) {
				t.Errorf("error %q, want %q", errs[i], want)
			}
		}
		s := p.Snapshot()
		if s.Source.Replay.Applied != len(good) || !strings.HasPrefix(s.Source.Status, bad+":6: ") {
			t.Errorf("applied %d of %d, status %q", s.Source.Replay.Applied, len(good), s.Source.Status)
		}
	})
}
