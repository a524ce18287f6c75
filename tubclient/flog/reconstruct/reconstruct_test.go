package reconstruct

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tubscope/tubscope/negotiation"
	"github.com/tubscope/tubscope/tubclient/flog"
	"github.com/tubscope/tubscope/tubclient/flog/internal/flogtest"
	"github.com/tubscope/tubscope/tubclient/snapshot"
	"go.uber.org/goleak"
)

var runs flogtest.Runs

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { runs.Cleanup() }))
}

func events(t *testing.T, path string) []flog.Event {
	t.Helper()
	r, err := flog.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []flog.Event
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec.Event)
	}
}

// replayAll applies evs and returns the reconstruction and its events.
func replayAll(evs []flog.Event, opts Options) (*Reconstructor, []snapshot.Event) {
	r := New(opts)
	var out []snapshot.Event
	for _, ev := range evs {
		out = append(out, r.Apply(ev)...)
	}
	return r, append(out, r.Flush()...)
}

func decisionsWith(s *snapshot.Snapshot, peer string) []snapshot.Decision {
	var out []snapshot.Decision
	for _, d := range s.Decisions {
		if d.PeerTubID == peer {
			out = append(out, d)
		}
	}
	return out
}

// masterRules is the golden sequence RunMaster provokes, in tubscope's
// rule names: every rule of Foolscap 21.7's duplicate check.
var masterRules = []struct {
	rule   string
	accept bool
}{
	{"no-existing", true},
	{"never-decided", false},
	{"same-seqnum", true},
	{"older-seqnum", false},
	{"old-master-incarnation", true},
	{"new-incarnation", true},
	{"no-incarnation", false},
	{"no-last-connection", false},
	{"handle-old-young", false},
	{"handle-old-aged", true},
	{"same-seqnum", true}, // the two parallel offers: the first decided wins
	{"older-seqnum", false},
	{"newer-seqnum", false},
}

func checkAgainst(t *testing.T, got []snapshot.Decision, want []flogtest.Expected) {
	t.Helper()
	if len(got) != len(want) {
		for _, d := range got {
			t.Logf("got %s %v %s", d.Role, d.Accept, d.Rule)
		}
		t.Fatalf("%d decisions, want %d", len(got), len(want))
	}
	for i, w := range want {
		d := got[i]
		role := snapshot.Slave
		if w.Master {
			role = snapshot.Master
		}
		var exSeq uint64
		if d.Existing != nil {
			exSeq = d.Existing.SeqNum
		}
		if d.Rule != w.Rule || d.Accept != w.Accept || d.Role != role || d.OfferIncarnation != w.Incarnation ||
			d.OfferLast != w.Last || d.Current != w.Current || exSeq != w.ExistingSeqNum || d.Detail == "" {
			t.Errorf("decision %d:\n got  %s %s accept=%v inc=%q last=%q current=%q existing=%d detail=%q\n want %s %v",
				i, d.Role, d.Rule, d.Accept, d.OfferIncarnation, d.OfferLast, d.Current, exSeq, d.Detail, role, w)
		}
	}
}

// TestMasterRulesFromFoolscapLogs replays what a real Foolscap master
// logged, to FLOGFILE and through its logport to flogtool tail, and checks
// every reconstructed verdict against what the test client offered and
// what the master answered it.
func TestMasterRulesFromFoolscapLogs(t *testing.T) {
	m, _ := runs.Get(t)
	if len(m.Expected) != len(masterRules) {
		t.Fatalf("the scenario made %d offers, the golden table has %d", len(m.Expected), len(masterRules))
	}
	for i, g := range masterRules {
		if m.Expected[i].Rule != g.rule || m.Expected[i].Accept != g.accept {
			t.Fatalf("offer %d was answered %v, golden %s %v", i, m.Expected[i], g.rule, g.accept)
		}
	}
	for _, path := range []string{m.FlogFile, m.TailFile} {
		t.Run(path[strings.LastIndexByte(path, '/')+1:], func(t *testing.T) {
			r, evs := replayAll(events(t, path), Options{})
			s := r.Snapshot(r.Now())
			if s.TubID != m.TubID || s.Incarnation != m.Incarnation || s.IncarnationCount != 1 {
				t.Errorf("tub %s incarnation %s (%d), want %s %s", s.TubID, s.Incarnation, s.IncarnationCount, m.TubID, m.Incarnation)
			}
			checkAgainst(t, decisionsWith(s, m.Client), m.Expected)

			// The verdict events carry the same as the decision log.
			var verdicts []snapshot.Event
			for _, ev := range evs {
				if ev.Kind == snapshot.KindVerdict && ev.PeerTubID == m.Client {
					verdicts = append(verdicts, ev)
				}
			}
			if len(verdicts) != len(m.Expected) {
				t.Fatalf("%d verdict events, want %d", len(verdicts), len(m.Expected))
			}
			for i, ev := range verdicts {
				w := m.Expected[i]
				if ev.Rule != w.Rule || ev.Accept == nil || *ev.Accept != w.Accept || ev.Role != snapshot.Master ||
					ev.LastConnection != w.Last || ev.Incarnation != w.Incarnation || ev.TubID != m.TubID || ev.Time.IsZero() {
					t.Errorf("verdict event %d = %+v, want %v", i, ev, w)
				}
			}

			// The tables end where the master's ended: seqnum 6 held for the
			// client, every earlier connection replaced by the next.
			want := snapshot.MasterEntry{PeerTubID: m.Client, SlaveIncarnation: m.Expected[len(m.Expected)-1].Incarnation, SeqNum: 6}
			if i := slices.IndexFunc(s.MasterTable, func(e snapshot.MasterEntry) bool { return e.PeerTubID == m.Client }); i < 0 ||
				s.MasterTable[i].SlaveIncarnation != want.SlaveIncarnation || s.MasterTable[i].SeqNum != want.SeqNum {
				t.Errorf("master table %+v, want %+v", s.MasterTable, want)
			}
			p := peerOf(t, s, m.Client)
			if len(p.History) != 6 {
				t.Fatalf("history of %d connections, want 6: %+v", len(p.History), p.History)
			}
			for i, h := range p.History[:5] {
				if h.End != snapshot.CloseReplaced || h.ReplacedBy != p.History[i+1].BrokerID || h.SeqNum != uint64(i+1) {
					t.Errorf("connection %d: %+v, want seqnum %d replaced by the next", i, h, i+1)
				}
			}
			if len(p.Incarnations) != 2 {
				t.Errorf("incarnations %+v, want the two the client used", p.Incarnations)
			}
			if s.Policy != negotiation.PolicyHandleOld {
				t.Errorf("policy %q: the log shows handle-old-duplicate-connections in use", s.Policy)
			}
			total := 0
			for _, rc := range s.Activity.Rules {
				total += rc.Count
			}
			if total < len(m.Expected) {
				t.Errorf("activity counts %d decisions, want at least %d", total, len(m.Expected))
			}
		})
	}
}

func peerOf(t *testing.T, s *snapshot.Snapshot, id string) snapshot.Peer {
	t.Helper()
	for _, p := range s.Peers {
		if p.TubID == id {
			return p
		}
	}
	t.Fatalf("no peer %s in %d peers", id, len(s.Peers))
	return snapshot.Peer{}
}

// TestMasterFileEndsWithConnectionsLost checks what only FLOGFILE holds:
// the test closed every connection before the master exited, and each
// "connection to XXXX lost" line closes one, replaced ones first.
func TestMasterFileEndsWithConnectionsLost(t *testing.T) {
	m, _ := runs.Get(t)
	r, _ := replayAll(events(t, m.FlogFile), Options{})
	s := r.Snapshot(r.Now())
	p := peerOf(t, s, m.Client)
	if p.State != snapshot.PeerIdle || p.BrokerID != 0 {
		t.Errorf("peer state %s broker %d, want idle", p.State, p.BrokerID)
	}
	for _, h := range p.History {
		if h.Closed.IsZero() {
			t.Errorf("connection %d (seqnum %d) never closed", h.BrokerID, h.SeqNum)
		}
	}
	if last := p.History[len(p.History)-1]; last.End != snapshot.ClosePeerClosed {
		t.Errorf("the held connection ended %q, want %q", last.End, snapshot.ClosePeerClosed)
	}
	for _, b := range s.Brokers {
		if b.PeerTubID == m.Client {
			t.Errorf("broker %+v still listed", b)
		}
	}
}

// TestIncidentFile replays the incident the newer-seqnum offer triggered:
// only the recent lines of each level survive, so older verdicts may lack
// their rule, but none may be wrong, and the trigger's verdict is there.
func TestIncidentFile(t *testing.T) {
	m, _ := runs.Get(t)
	r, _ := replayAll(events(t, m.Incident), Options{})
	s := r.Snapshot(r.Now())
	got := decisionsWith(s, m.Client)
	if len(got) == 0 {
		t.Fatal("no decisions for the client")
	}
	last := got[len(got)-1]
	if last.Rule != "newer-seqnum" || last.Accept || last.OfferLast != m.Expected[len(m.Expected)-1].Last || last.Existing == nil || last.Existing.SeqNum != 6 {
		t.Errorf("last decision %+v, want the newer-seqnum rejection against seqnum 6", last)
	}
	// Each decision the incident names must be one of the expected, in
	// order.
	j := 0
	for _, d := range got {
		for j < len(m.Expected) && (m.Expected[j].Rule != d.Rule || m.Expected[j].Accept != d.Accept || m.Expected[j].Last != d.OfferLast) {
			j++
		}
		if j == len(m.Expected) {
			t.Fatalf("decision %s %v last=%q is not among the expected, in order", d.Rule, d.Accept, d.OfferLast)
		}
		j++
	}
	for _, d := range s.Decisions {
		if d.Rule == RuleUnknown && !strings.Contains(d.Detail, "no longer holds") {
			t.Errorf("unknown rule without saying why: %+v", d)
		}
	}
}

// TestSlaveDecisionsFromFoolscapLogs replays a Foolscap slave's log: two
// accepting decisions (the second replacing the first connection) and a
// refusal, as the raw Go master sent them.
func TestSlaveDecisionsFromFoolscapLogs(t *testing.T) {
	_, sr := runs.Get(t)
	r, evs := replayAll(events(t, sr.FlogFile), Options{})
	s := r.Snapshot(r.Now())
	if s.TubID != sr.TubID {
		t.Errorf("tub %s, want %s", s.TubID, sr.TubID)
	}
	got := decisionsWith(s, sr.Master)
	if len(got) != len(sr.Expected) {
		t.Fatalf("%d decisions, want %d", len(got), len(sr.Expected))
	}
	for i, w := range sr.Expected {
		d := got[i]
		if d.Role != snapshot.Slave || d.Rule != w.Rule || d.Accept != w.Accept || d.Current != w.Current || d.OfferIncarnation != s.Incarnation {
			t.Errorf("decision %d = %+v, want %v", i, d, w)
		}
	}
	if !strings.Contains(got[1].Detail, "held so far is dropped") || got[2].Error != "Duplicate connection" {
		t.Errorf("details: %q / error %q", got[1].Detail, got[2].Error)
	}
	received := 0
	for _, ev := range evs {
		if ev.Kind == snapshot.KindDecisionReceived && ev.PeerTubID == sr.Master {
			received++
		}
	}
	if received != 3 {
		t.Errorf("%d decision-received events, want 3", received)
	}
	if len(s.SlaveTable) != 1 || s.SlaveTable[0].SeqNum != 2 || s.SlaveTable[0].PeerTubID != sr.Master {
		t.Errorf("slave table %+v, want the master's seqnum 2", s.SlaveTable)
	}
	p := peerOf(t, s, sr.Master)
	if p.State != snapshot.PeerLockedOut || p.Rejects != 1 || p.LockedOutSince.IsZero() {
		t.Errorf("peer %s rejects %d since %v: the master refused the last offer", p.State, p.Rejects, p.LockedOutSince)
	}
	if len(p.History) != 2 || p.History[0].End != snapshot.CloseReplaced || p.History[0].ReplacedBy != p.History[1].BrokerID {
		t.Errorf("history %+v: the second connection replaces the first", p.History)
	}
}

// TestInterleavedNegotiations shuffles the real master log so that its
// negotiations interleave differently (each keeps its own order, as
// parallel negotiations do): grouping by parent gives the same verdicts.
func TestInterleavedNegotiations(t *testing.T) {
	m, _ := runs.Get(t)
	evs := events(t, m.FlogFile)
	r0, _ := replayAll(evs, Options{})
	want := summarize(decisionsWith(r0.Snapshot(r0.Now()), m.Client))

	// Group the events by their negotiation's root: follow parents up to a
	// line without one.
	parent := map[int64]int64{}
	for _, ev := range evs {
		if p, ok := ev.Parent(); ok {
			parent[ev.Num()] = p
		}
	}
	root := func(n int64) int64 {
		for {
			p, ok := parent[n]
			if !ok {
				return n
			}
			n = p
		}
	}
	streams := map[int64][]flog.Event{}
	var order []int64
	for _, ev := range evs {
		k := root(ev.Num())
		if _, ok := streams[k]; !ok {
			order = append(order, k)
		}
		streams[k] = append(streams[k], ev)
	}
	if len(order) < 10 {
		t.Fatalf("only %d negotiation trees", len(order))
	}
	for seed := range uint64(5) {
		rng := rand.New(rand.NewPCG(seed, 42))
		// Merge neighbouring trees at random, a window of three at a time,
		// so each offer's decision still follows the one before it.
		var mixed []flog.Event
		for w := 0; w < len(order); w += 3 {
			win := order[w:min(w+3, len(order))]
			pos := make([]int, len(win))
			for {
				var live []int
				for i, k := range win {
					if pos[i] < len(streams[k]) {
						live = append(live, i)
					}
				}
				if len(live) == 0 {
					break
				}
				i := live[rng.IntN(len(live))]
				mixed = append(mixed, streams[win[i]][pos[i]])
				pos[i]++
			}
		}
		r, _ := replayAll(mixed, Options{})
		got := summarize(decisionsWith(r.Snapshot(r.Now()), m.Client))
		slices.Sort(got)
		w := slices.Clone(want)
		slices.Sort(w)
		if !slices.Equal(got, w) {
			t.Errorf("seed %d: verdicts\n%v\nwant\n%v", seed, got, w)
		}
	}
}

func summarize(ds []snapshot.Decision) []string {
	var out []string
	for _, d := range ds {
		out = append(out, fmt.Sprintf("%s %v %s %s", d.Rule, d.Accept, d.OfferLast, d.Current))
	}
	return out
}

// TestDuplicatesDropped replays one process's log twice over (FLOGFILE
// and its tail save): every event counts once.
func TestDuplicatesDropped(t *testing.T) {
	m, _ := runs.Get(t)
	flogEvs, tailEvs := events(t, m.FlogFile), events(t, m.TailFile)
	r, _ := replayAll(append(slices.Clone(flogEvs), tailEvs...), Options{})
	if st := r.Stats(); st.Duplicates != uint64(len(tailEvs)) {
		t.Errorf("%d duplicates, want all %d tail events", st.Duplicates, len(tailEvs))
	}
	if got := decisionsWith(r.Snapshot(r.Now()), m.Client); len(got) != len(m.Expected) {
		t.Errorf("%d decisions, want %d", len(got), len(m.Expected))
	}
}

// TestUnmappedKeptVisible checks that lines the reconstruction cannot
// place are counted and listed: the test's own marks, noise and values,
// and a loss naming no known peer.
func TestUnmappedKeptVisible(t *testing.T) {
	m, _ := runs.Get(t)
	evs := events(t, m.FlogFile)
	app := 0
	for _, ev := range evs {
		if strings.HasPrefix(ev.Facility(), "flogtest.") {
			app++
		}
	}
	stray, err := flog.NewEvent(flog.Dict{{Key: "num", Value: int64(1 << 40)}, {Key: "time", Value: evs[len(evs)-1].Seconds()},
		{Key: "facility", Value: "foolscap.connection"}, {Key: "message", Value: "connection to zzzz lost"},
		{Key: "incarnation", Value: flog.List{evs[0].Incarnation(), nil}}})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := replayAll(append(evs, stray), Options{MaxUnmapped: 8})
	total, recent := r.Unmapped()
	if total != uint64(app+1) || r.Stats().Unmapped != total {
		t.Errorf("%d unmapped, want the %d application events and the stray loss", total, app+1)
	}
	if len(recent) != 8 || recent[7].Num() != stray.Num() {
		t.Errorf("recent unmapped: %d, the newest is #%d", len(recent), recent[len(recent)-1].Num())
	}
	if st := r.Stats(); st.Mapped+st.Unmapped != st.Applied {
		t.Errorf("stats %+v: mapped and unmapped should add up", st)
	}
}

// TestWhatIfOnRealOffers checks the other policies' verdicts on the
// offers the real master decided.
func TestWhatIfOnRealOffers(t *testing.T) {
	m, _ := runs.Get(t)
	r, _ := replayAll(events(t, m.FlogFile), Options{})
	ds := decisionsWith(r.Snapshot(r.Now()), m.Client)
	alt := func(d snapshot.Decision, policy string) *snapshot.Alternative {
		for i := range d.WhatIf {
			if d.WhatIf[i].Policy == policy {
				return &d.WhatIf[i]
			}
		}
		return nil
	}
	if len(ds[0].WhatIf) != 0 {
		t.Errorf("nothing was held for the first offer, yet %+v", ds[0].WhatIf)
	}
	nd := ds[1] // never-decided
	if a := alt(nd, negotiation.PolicyProbe); a == nil || a.Rule != string(negotiation.RuleProbePending) || !strings.HasPrefix(a.Detail, "probe would have probed") {
		t.Errorf("never-decided: probe alternative %+v", a)
	}
	if a := alt(nd, negotiation.PolicyNewestWins); a == nil || !a.Accept || !strings.HasPrefix(a.Detail, "newest-wins would have accepted: ") {
		t.Errorf("never-decided: newest-wins alternative %+v", a)
	}
	if a := alt(ds[3], negotiation.PolicyAttemptID); a == nil || !a.Accept || a.Rule != string(negotiation.RuleOlderSeqNum) {
		t.Errorf("older-seqnum: attempt-id alternative %+v (0.2.0 accepted an older seqnum)", a)
	}
	if a := alt(ds[2], negotiation.PolicyAge); a == nil || a.Accept || a.Rule != string(negotiation.RuleAgeActive) {
		t.Errorf("same-seqnum: age alternative %+v (a broker under a minute old is not silent a minute)", a)
	}
	if a := alt(ds[9], negotiation.PolicyFoolscap); a == nil || a.Accept || a.Rule != string(negotiation.RuleNoLastConnection) {
		t.Errorf("handle-old-aged: foolscap alternative %+v", a)
	}
	for _, d := range ds {
		for _, a := range d.WhatIf {
			if a.Accept == d.Accept && a.Rule != string(negotiation.RuleProbePending) && a.Policy != negotiation.PolicyDropBoth {
				t.Errorf("%s: alternative %+v agrees with the verdict", d.Rule, a)
			}
		}
	}
}

// TestWhatIfWithKnownSilence weighs probe and age on a held broker whose
// last byte is known: silent past the keepalive, probe and age accept.
func TestWhatIfWithKnownSilence(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := New(Options{})
	ts := r.tub("abcdefghijklmnopqrstuvwxyz234567")
	offer := negotiation.Hello{TubID: "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", Incarnation: "1111111111111111",
		LastConnection: &negotiation.Connection{MasterIncarnation: "none"}}
	n := &nego{local: ts.tubID, localInc: "2222222222222222", peer: offer.TubID, offer: &offer, age: -1, threshold: -1,
		existing: &negotiation.Connection{MasterIncarnation: offer.Incarnation, SeqNum: 3}}
	for _, tc := range []struct {
		silent      time.Duration
		probeAccept bool
		ageAccept   bool
		probeSays   string
	}{
		{340 * time.Second, true, true, "probe would have accepted: the held connection had been silent for 5m40s"},
		{10 * time.Second, false, false, ""},
	} {
		d := snapshot.Decision{Accept: false, Rule: string(negotiation.RuleNeverDecided),
			Existing: &snapshot.Held{SeqNum: 3, Created: at.Add(-time.Hour), LastReceived: at.Add(-tc.silent)}}
		p := ts.peer(r, offer.TubID, at)
		p.broker = &snapshot.Broker{ID: 9, SeqNum: 3, Created: at.Add(-time.Hour)}
		alts := r.whatIf(n, d, ts, at)
		var probe, age *snapshot.Alternative
		for i := range alts {
			switch alts[i].Policy {
			case negotiation.PolicyProbe:
				probe = &alts[i]
			case negotiation.PolicyAge:
				age = &alts[i]
			}
		}
		if tc.probeAccept {
			if probe == nil || !probe.Accept || probe.Detail != tc.probeSays {
				t.Errorf("silent %s: probe %+v, want %q", tc.silent, probe, tc.probeSays)
			}
			if age == nil || !age.Accept || age.Rule != string(negotiation.RuleAgeSilent) {
				t.Errorf("silent %s: age %+v", tc.silent, age)
			}
		} else if probe != nil || age != nil {
			t.Errorf("heard %s ago: probe %+v age %+v, both keep the broker as Foolscap did", tc.silent, probe, age)
		}
	}
}

// TestBoundedOnLongStreams feeds the real master log over and over, each
// copy from another peer an hour later, with negotiations left unfinished
// between them: every table stays within its cap.
func TestBoundedOnLongStreams(t *testing.T) {
	m, _ := runs.Get(t)
	template := events(t, m.FlogFile)
	opts := Options{MaxPeers: 50, MaxDecisions: 40, MaxPending: 64, MaxHistory: 4, MaxUnmapped: 16, DedupeWindow: 1000}
	r := New(opts)
	const copies = 150
	for c := range copies {
		peer := fakeTubID(c)
		shift := float64(c) * 3600
		for _, ev := range template {
			out := rewrite(t, ev, int64(c)*100000, shift, m.Client, peer)
			r.Apply(out)
		}
		// A negotiation that never finishes: its root and one line.
		for k := range 3 {
			root := int64(c)*100000 + 90000 + int64(k)*2
			r.Apply(mkEvent(t, template[0].Incarnation(), root, template[0].Seconds()+shift+1, "foolscap.negotiation", "Negotiation started", -1))
			r.Apply(mkEvent(t, template[0].Incarnation(), root+1, template[0].Seconds()+shift+1, "foolscap.negotiation", "initServer", root))
		}
		if st := r.Stats(); st.Pending > opts.MaxPending+10 {
			t.Fatalf("copy %d: %d negotiations pending, cap %d", c, st.Pending, opts.MaxPending)
		}
	}
	s := r.Snapshot(r.Now())
	st := r.Stats()
	if len(s.Peers) > opts.MaxPeers || len(s.Decisions) > opts.MaxDecisions || st.Evicted == 0 {
		t.Errorf("%d peers (cap %d, %d evicted), %d decisions kept (cap %d)", len(s.Peers), opts.MaxPeers, st.Evicted, len(s.Decisions), opts.MaxDecisions)
	}
	if s.DecisionsTotal < uint64(copies*len(masterRules)) {
		t.Errorf("decisions total %d, want at least %d", s.DecisionsTotal, copies*len(masterRules))
	}
	for _, p := range s.Peers {
		if len(p.History) > opts.MaxHistory {
			t.Errorf("peer %s keeps %d connections, cap %d", p.TubID, len(p.History), opts.MaxHistory)
		}
	}
	if st.Expired < copies {
		t.Errorf("%d negotiations expired, want the %d left unfinished", st.Expired, copies*3)
	}
	if _, recent := r.Unmapped(); len(recent) > opts.MaxUnmapped {
		t.Errorf("%d unmapped kept, cap %d", len(recent), opts.MaxUnmapped)
	}
	if len(r.seen.byInc) != 1 || len(r.nodes) > 4*opts.MaxPending || len(r.live) > opts.MaxPending+10 {
		t.Errorf("dedupe windows %d, %d parent nodes, %d live", len(r.seen.byInc), len(r.nodes), len(r.live))
	}
}

func fakeTubID(i int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	b := []byte(strings.Repeat("a", 32))
	for j := 0; i > 0; j++ {
		b[31-j] = alphabet[i%32]
		i /= 32
	}
	return string(b)
}

// rewrite renumbers an event, moves it in time and swaps one tubid for
// another wherever it appears.
func rewrite(t *testing.T, ev flog.Event, numShift int64, timeShift float64, from, to string) flog.Event {
	t.Helper()
	fields := make(flog.Dict, len(ev.Fields()))
	copy(fields, ev.Fields())
	for i, f := range fields {
		switch f.Key {
		case "num", "parent":
			fields[i].Value = f.Value.(int64) + numShift
		case "time":
			fields[i].Value = f.Value.(float64) + timeShift
		default:
			if s, ok := f.Value.(string); ok && strings.Contains(s, from[:4]) {
				s = strings.ReplaceAll(s, from, to)
				fields[i].Value = strings.ReplaceAll(s, "connection to "+from[:4], "connection to "+to[:4])
			}
		}
	}
	out, err := flog.NewEvent(fields)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mkEvent(t *testing.T, inc string, num int64, at float64, facility, msg string, parent int64) flog.Event {
	t.Helper()
	fields := flog.Dict{{Key: "num", Value: num}, {Key: "time", Value: at}, {Key: "level", Value: int64(20)},
		{Key: "facility", Value: facility}, {Key: "message", Value: msg}, {Key: "incarnation", Value: flog.List{inc, nil}}}
	if parent >= 0 {
		fields = append(fields, flog.Field{Key: "parent", Value: parent})
	}
	ev, err := flog.NewEvent(fields)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}
