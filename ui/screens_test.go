package ui

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/tubscope/tubscope/tubclient/snapshot"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./ui -update to create it)", err)
	}
	if string(want) != got+"\n" {
		t.Errorf("%s differs from the golden file; got:\n%s", path, got)
	}
}

// ticket28 is the demo twelve seconds in: client-5 lost power behind its
// NAT, the queen still holds its silent connection, and client-5's new
// incarnation has just been taken back; client-3 is locked out by a
// first-wins queen in the compare view.
func ticket28(policy string) *snapshot.Snapshot {
	s := &snapshot.Snapshot{
		Version: 12, Source: snapshot.Source{Name: "queen-" + policy, Kind: snapshot.SourceEmbedded},
		TubID: "qnq4x7kd6m2vxa4pwn5rtc7bye6sgf2l", Incarnation: "5f0e2d3c4b5a6978", IncarnationCount: 1,
		Listening: []string{"tcp:127.0.0.1:41234"}, Policy: policy, KeepaliveTimeout: 10 * time.Second,
		Narration: &snapshot.Narration{Step: "3/4 the takeover", Next: "client-2's network flaps", NextAt: t0.Add(6 * time.Second),
			Last:   "client-5 came back with a new incarnation; the queen dropped the connection it still held, which was dead (new-incarnation)",
			LastAt: t0.Add(-2 * time.Second)},
	}
	for i := 1; i <= 5; i++ {
		name := fmt.Sprintf("client-%d", i)
		tub := fmt.Sprintf("c%d%s", i, strings.Repeat("k", 30))
		b := snapshot.Broker{ID: uint64(i), PeerTubID: tub, Nickname: name, Role: snapshot.Master, Side: snapshot.Server, State: snapshot.Live,
			RemoteAddr: fmt.Sprintf("127.0.0.1:%d", 50000+i), PeerIncarnation: fmt.Sprintf("%016x", 0xa000+i), SeqNum: 1,
			Created: t0.Add(-12 * time.Second), LastReceived: t0.Add(-time.Duration(i) * 300 * time.Millisecond)}
		p := snapshot.Peer{TubID: tub, Nickname: name, State: snapshot.PeerLive, BrokerID: b.ID, Connected: b.Created,
			History: []snapshot.ConnectionRecord{{BrokerID: b.ID, Side: snapshot.Server, Role: snapshot.Master, Remote: b.RemoteAddr,
				Opened: b.Created, Attached: b.Created, SeqNum: 1, Rule: "no-existing"}}}
		switch {
		case i == 5 && policy != "first-wins":
			b.ID, b.SeqNum, b.Created, b.PeerIncarnation = 9, 2, t0.Add(-2*time.Second), "00000000000b0005"
			p.BrokerID, p.Connected = 9, b.Created
			p.History[0].Closed, p.History[0].End, p.History[0].ReplacedBy = b.Created, snapshot.CloseReplaced, 9
			p.History[0].Detail = "replaced by a new connection (new-incarnation)"
			p.History = append(p.History, snapshot.ConnectionRecord{BrokerID: 9, Side: snapshot.Server, Role: snapshot.Master, Remote: b.RemoteAddr,
				Opened: b.Created.Add(-3 * time.Millisecond), Attached: b.Created, SeqNum: 2, Rule: "new-incarnation"})
		case i == 5:
			p.State, p.BrokerID, p.LockedOutSince, p.NextAttempt = snapshot.PeerLockedOut, 0, t0.Add(-42*time.Second), t0.Add(4*time.Second)
			p.LastError, p.Attempts, p.Rejects = "the master refused our offer: Duplicate connection", 6, 6
			b.State, b.LastReceived = snapshot.Suspect, t0.Add(-44*time.Second)
			p.BrokerID = b.ID
		}
		s.Brokers = append(s.Brokers, b)
		s.Peers = append(s.Peers, p)
	}
	for i := range 5 {
		s.Decisions = append(s.Decisions, snapshot.Decision{Seq: uint64(i + 1), Time: t0.Add(-12 * time.Second).Add(time.Duration(i) * 40 * time.Millisecond),
			PeerTubID: s.Peers[i].TubID, BrokerID: uint64(i + 1), Role: snapshot.Master, OfferIncarnation: s.Brokers[i].PeerIncarnation,
			OfferLast: "none 0", Accept: true, Rule: "no-existing", Detail: "no established broker for this tubid, so the offer is accepted"})
	}
	last := snapshot.Decision{Seq: 6, Time: t0.Add(-2 * time.Second), PeerTubID: s.Peers[4].TubID, BrokerID: 9, Role: snapshot.Master,
		OfferIncarnation: "00000000000b0005", OfferLast: "5f0e2d3c4b5a6978 1", Accept: true, Rule: "new-incarnation",
		Detail: "offer incarnation 00000000 differs from the broker's 0000a005: the peer restarted", Current: "5f0e2d3c4b5a6978 2",
		Existing: &snapshot.Held{BrokerID: 5, SlaveIncarnation: "000000000000a005", SeqNum: 1, Created: t0.Add(-12 * time.Second), LastReceived: t0.Add(-10 * time.Second)},
		WhatIf:   []snapshot.Alternative{{Policy: "first-wins", Rule: "first-wins", Detail: "a broker with seqnum 1 already exists, and the first connection always wins"}}}
	if policy == "first-wins" {
		last.Accept, last.Rule, last.Detail, last.Current, last.Error = false, "first-wins", last.WhatIf[0].Detail, "", "Duplicate connection"
		last.WhatIf = nil
	}
	s.Decisions = append(s.Decisions, last)
	s.DecisionsTotal = 6
	s.Activity = snapshot.Activity{Bucket: time.Second, Window: time.Minute, End: t0,
		Offers: []int{0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 1, 0}, Rejects: make([]int, 12),
		Rules: []snapshot.RuleCount{{Rule: "no-existing", Accept: true, Count: 5}, {Rule: last.Rule, Accept: last.Accept, Count: 1}}}
	if policy != "first-wins" {
		s.Activity.Reconnect = snapshot.Histogram{Bounds: []time.Duration{time.Millisecond, 10 * time.Millisecond, 100 * time.Millisecond, time.Second},
			Counts: []int{0, 1, 0, 0, 0}, Total: 1, P50: 3 * time.Millisecond, P99: 3 * time.Millisecond, Max: 3 * time.Millisecond}
	} else {
		s.Activity.Rejects[10] = 1
	}
	return s
}

func stormScreen() *snapshot.Snapshot {
	s := stormSnapshot(61, 400)
	s.Source.Name = "queen"
	s.Activity.Window = time.Minute
	s.Activity.Rules = []snapshot.RuleCount{{Rule: "new-incarnation", Accept: true, Count: 343}, {Rule: "never-decided", Count: 57}}
	s.Activity.Offenders = []snapshot.Offender{{PeerTubID: s.Peers[0].TubID, Offers: 12, Rejects: 11}, {PeerTubID: s.Peers[5].TubID, Offers: 9, Rejects: 8}}
	s.Activity.Reconnect = snapshot.Histogram{Bounds: []time.Duration{time.Millisecond, 10 * time.Millisecond, 100 * time.Millisecond, time.Second},
		Counts: []int{2, 40, 12, 5, 3}, Total: 62, P50: 4 * time.Millisecond, P99: 1100 * time.Millisecond, Max: 3 * time.Second}
	return s
}

// TestScreensGolden renders whole frames: the demo's story, the storm,
// the compare view, a locked-out peer's detail, help and ASCII mode, at
// the three sizes operators use.
func TestScreensGolden(t *testing.T) {
	sizes := [][2]int{{80, 24}, {120, 40}, {200, 60}}
	screens := []struct {
		name    string
		engines func() []*fakeEngine
		opts    Options
		env     func(string) string
		keys    []string
	}{
		{"demo", func() []*fakeEngine { return []*fakeEngine{demoOf(ticket28("foolscap"))} }, Options{}, utf8Env, nil},
		{"storm", func() []*fakeEngine { return []*fakeEngine{newFakeEngine(stormScreen())} }, Options{}, utf8Env, nil},
		{"compare", func() []*fakeEngine {
			return []*fakeEngine{demoOf(ticket28("first-wins")), demoOf(ticket28("foolscap"))}
		}, Options{Compare: true}, utf8Env, nil},
		{"detail_lockedout", func() []*fakeEngine { return []*fakeEngine{newFakeEngine(ticket28("first-wins"))} }, Options{}, utf8Env, []string{"G", "enter"}},
		{"log_expanded", func() []*fakeEngine { return []*fakeEngine{newFakeEngine(ticket28("foolscap"))} }, Options{}, utf8Env, []string{"tab", "enter"}},
		{"help", func() []*fakeEngine { return []*fakeEngine{demoOf(ticket28("foolscap"))} }, Options{}, utf8Env, []string{"?"}},
		{"ascii", func() []*fakeEngine { return []*fakeEngine{newFakeEngine(ticket28("first-wins"))} }, Options{}, func(string) string { return "" }, nil},
		{"confirm", func() []*fakeEngine { return []*fakeEngine{newFakeEngine(ticket28("foolscap"))} }, Options{}, utf8Env, []string{"x"}},
	}
	for _, sc := range screens {
		for _, sz := range sizes {
			h := newMulti(t, sc.engines(), sc.opts, sc.env)
			h.send(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
			h.press(sc.keys...)
			got := h.m.View()
			if n := strings.Count(got, "\n") + 1; n != sz[1] {
				t.Errorf("%s %v: %d lines", sc.name, sz, n)
			}
			golden(t, fmt.Sprintf("screen_%s_%dx%d", sc.name, sz[0], sz[1]), got)
		}
	}
}

func demoOf(s *snapshot.Snapshot) *fakeEngine {
	e := newFakeEngine(s)
	e.clients, e.demo = []string{"client-1", "client-2", "client-3", "client-4", "client-5"}, true
	return e
}

func TestFoldAndPreviousMatch(t *testing.T) {
	s := testSnapshot(0, 12)
	for i := 5; i < 10; i++ {
		s.Decisions[i].Rule, s.Decisions[i].Accept = "new-incarnation", true
	}
	h := newHarness(t, newFakeEngine(s), Options{})
	h.press("tab")
	grouped := len(h.m.src().lines)
	h.press("z")
	if n := len(h.m.src().lines); n != 12 || n == grouped {
		t.Fatalf("z: %d lines, want every decision (12)", n)
	}
	h.press("z")
	if len(h.m.src().lines) != grouped {
		t.Fatal("z twice did not fold again")
	}
	h.press("s")
	h.typeText("decision 1")
	h.press("enter") // the newest match: decision 12
	first, _ := h.m.logLine()
	h.press("N")
	second, _ := h.m.logLine()
	h.press("n")
	back, _ := h.m.logLine()
	if first.Seq == second.Seq || back.Seq != first.Seq {
		t.Fatalf("N then n: %d → %d → %d", first.Seq, second.Seq, back.Seq)
	}
	h.press("right")
	if h.m.focus != paneTable {
		t.Fatal("→ did not jump to the peer")
	}
}
