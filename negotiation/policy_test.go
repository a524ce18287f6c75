package negotiation

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	peerTubID = "c72iyzvqhni2vdbivj26omg7z4ztwemy"
	myIR      = "a6e062d03506634c"
	slaveIR   = "9226ecb833fae91a"
	otherIR   = "0f0f0f0f0f0f0f0f"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// in builds an offer from slave incarnation ir remembering lc, against a
// broker created at t0 with seqnum 3, last heard at t0+10s, evaluated at
// t0+90s. lc "" means no last-connection.
func in(ir, lc, attempt string, existing bool) Input {
	o := Hello{TubID: peerTubID, Incarnation: ir, AttemptID: attempt, BananaMin: 3, BananaMax: 3}
	if lc != "" {
		c, err := ParseConnection(lc)
		if err != nil {
			panic(err)
		}
		o.LastConnection = &c
	}
	input := Input{Offer: o, MyIncarnation: myIR, Now: t0.Add(90 * time.Second)}
	if existing {
		input.Existing = &Existing{SlaveIncarnation: slaveIR, SeqNum: 3, AttemptID: "1111111111111111",
			Created: t0, LastReceived: t0.Add(10 * time.Second)}
	}
	return input
}

func withExisting(i Input, edit func(*Existing)) Input {
	e := *i.Existing
	edit(&e)
	i.Existing = &e
	return i
}

type policyRow struct {
	policy Policy
	in     Input
	accept bool
	rule   Rule
	drop   bool
	probe  bool
	detail []string // substrings the one-sentence detail must name
}

func policyRows() []policyRow {
	none := "none 0"
	mine := func(seq string) string { return myIR + " " + seq }
	return []policyRow{
		// Foolscap 21.7, steps 1-7 in order.
		{Foolscap{}, in(slaveIR, mine("3"), "", false), true, RuleNoExisting, false, false, []string{peerTubID}},
		{Foolscap{}, in("", mine("3"), "", true), false, RuleNoIncarnation, false, false, []string{slaveIR}},
		{Foolscap{}, in(slaveIR, "", "", true), false, RuleNoLastConnection, false, false, []string{slaveIR, "no last-connection"}},
		{Foolscap{HandleOld: time.Minute}, in("", "", "", true), true, RuleHandleOldAged, false, false, []string{"1m30s", "1m0s"}},
		{Foolscap{HandleOld: 2 * time.Minute}, in(slaveIR, "", "", true), false, RuleHandleOldYoung, false, false, []string{"1m30s", "2m0s"}},
		{Foolscap{}, in(otherIR, mine("3"), "", true), true, RuleNewIncarnation, false, false,
			[]string{"offer incarnation 0f0f0f0f0f0f0f0f differs from the broker's 9226ecb833fae91a: the peer restarted"}},
		{Foolscap{}, in(slaveIR, none, "", true), false, RuleNeverDecided, false, false, []string{"none 0", "seqnum 3"}},
		{Foolscap{}, in(slaveIR, otherIR+" 3", "", true), true, RuleOldMasterIncarnation, false, false, []string{otherIR, myIR}},
		{Foolscap{}, in(slaveIR, mine("3"), "", true), true, RuleSameSeqNum, false, false, []string{"seqnum 3 equals the broker's 3"}},
		{Foolscap{}, in(slaveIR, mine("2"), "", true), false, RuleOlderSeqNum, false, false, []string{"seqnum 2", "broker's 3"}},
		{Foolscap{}, in(slaveIR, mine("99"), "", true), false, RuleNewerSeqNum, false, false, []string{"seqnum 99", "broker's 3"}},

		// handle-old: Foolscap with the 60 s default threshold.
		{HandleOld{}, in(slaveIR, mine("3"), "", false), true, RuleNoExisting, false, false, []string{peerTubID}},
		{HandleOld{}, in("", "", "", true), true, RuleHandleOldAged, false, false, []string{"1m30s", "1m0s"}},
		{HandleOld{Threshold: 5 * time.Minute}, in(slaveIR, "", "", true), false, RuleHandleOldYoung, false, false, []string{"1m30s", "5m0s"}},
		{HandleOld{}, in(otherIR, mine("3"), "", true), true, RuleNewIncarnation, false, false, []string{otherIR, slaveIR}},
		{HandleOld{}, in(slaveIR, none, "", true), false, RuleNeverDecided, false, false, []string{"none 0"}},
		{HandleOld{}, in(slaveIR, otherIR+" 3", "", true), true, RuleOldMasterIncarnation, false, false, []string{otherIR, myIR}},
		{HandleOld{}, in(slaveIR, mine("3"), "", true), true, RuleSameSeqNum, false, false, []string{"seqnum 3"}},
		{HandleOld{}, in(slaveIR, mine("1"), "", true), false, RuleOlderSeqNum, false, false, []string{"seqnum 1"}},
		{HandleOld{}, in(slaveIR, mine("4"), "", true), false, RuleNewerSeqNum, false, false, []string{"seqnum 4"}},

		// attempt-id: Foolscap 0.2.0/0.2.1.
		{AttemptID{}, in(slaveIR, none, "2222222222222222", false), true, RuleNoExisting, false, false, []string{peerTubID}},
		{AttemptID{}, in("", none, "2222222222222222", true), false, RuleNoIncarnation, false, false, []string{slaveIR}},
		{AttemptID{}, in(slaveIR, "", "2222222222222222", true), false, RuleNoLastConnection, false, false, []string{slaveIR}},
		{AttemptID{}, in(otherIR, none, "1111111111111111", true), true, RuleNewIncarnation, false, false, []string{otherIR, slaveIR}},
		{AttemptID{}, in(slaveIR, none, "1111111111111111", true), false, RuleSameAttempt, false, false, []string{"1111111111111111"}},
		{AttemptID{}, in(slaveIR, none, "2222222222222222", true), true, RuleLostDecision, false, false, []string{"2222222222222222", "1111111111111111"}},
		{AttemptID{}, in(slaveIR, none, "", true), false, RuleNeverDecided, false, false, []string{"none 0", `offer ""`, `broker "1111111111111111"`}},
		{AttemptID{}, withExisting(in(slaveIR, none, "2222222222222222", true), func(e *Existing) { e.AttemptID = "" }), false, RuleNeverDecided, false, false, []string{`offer "2222222222222222"`, `broker ""`}},
		{AttemptID{}, in(slaveIR, otherIR+" 3", "2222222222222222", true), true, RuleOldMasterIncarnation, false, false, []string{otherIR, myIR}},
		{AttemptID{}, in(slaveIR, mine("3"), "2222222222222222", true), true, RuleSameSeqNum, false, false, []string{"seqnum 3"}},
		{AttemptID{}, in(slaveIR, mine("2"), "2222222222222222", true), true, RuleOlderSeqNum, false, false, []string{"seqnum 2", "broker's 3"}},
		{AttemptID{}, in(slaveIR, mine("7"), "2222222222222222", true), false, RuleNewerSeqNum, false, false, []string{"seqnum 7", "broker's 3"}},

		// first-wins: Foolscap 0.1.7 and earlier.
		{FirstWins{}, in(slaveIR, mine("3"), "", false), true, RuleNoExisting, false, false, []string{peerTubID}},
		{FirstWins{}, in(otherIR, mine("3"), "", true), false, RuleFirstWins, false, false, []string{"seqnum 3", peerTubID}},

		// newest-wins.
		{NewestWins{}, in(slaveIR, none, "", false), true, RuleNoExisting, false, false, []string{peerTubID}},
		{NewestWins{}, in(slaveIR, none, "", true), true, RuleNewestWins, false, false, []string{"seqnum 3", peerTubID}},

		// drop-both.
		{DropBoth{}, in(slaveIR, none, "", false), true, RuleNoExisting, false, false, []string{peerTubID}},
		{DropBoth{}, in(slaveIR, none, "", true), false, RuleDropBoth, true, false, []string{"seqnum 3", peerTubID}},

		// age: silence measured from the last received byte.
		{Age{}, in(slaveIR, none, "", false), true, RuleNoExisting, false, false, []string{peerTubID}},
		{Age{}, in(slaveIR, none, "", true), true, RuleAgeSilent, false, false, []string{"1m20s", "1m0s"}},
		{Age{Threshold: 2 * time.Minute}, in(slaveIR, none, "", true), false, RuleAgeActive, false, false, []string{"1m20s", "2m0s"}},

		// probe: Foolscap's accepts stand, its rejections become probes.
		{Probe{}, in(slaveIR, none, "", false), true, RuleNoExisting, false, false, []string{peerTubID}},
		{Probe{}, in(otherIR, mine("3"), "", true), true, RuleNewIncarnation, false, false, []string{otherIR}},
		{Probe{}, in(slaveIR, otherIR+" 3", "", true), true, RuleOldMasterIncarnation, false, false, []string{otherIR}},
		{Probe{}, in(slaveIR, mine("3"), "", true), true, RuleSameSeqNum, false, false, []string{"seqnum 3"}},
		{Probe{}, in(slaveIR, none, "", true), false, RuleProbePending, false, true, []string{string(RuleNeverDecided), "none 0", "seqnum 3"}},
		{Probe{}, in(slaveIR, mine("1"), "", true), false, RuleProbePending, false, true, []string{string(RuleOlderSeqNum), "seqnum 1"}},
		{Probe{}, in(slaveIR, mine("5"), "", true), false, RuleProbePending, false, true, []string{string(RuleNewerSeqNum)}},
		{Probe{}, in("", mine("3"), "", true), false, RuleProbePending, false, true, []string{string(RuleNoIncarnation)}},
		{Probe{}, in(slaveIR, "", "", true), false, RuleProbePending, false, true, []string{string(RuleNoLastConnection)}},
	}
}

// checkDetail asserts the detail is one sentence naming the given values.
func checkDetail(t *testing.T, v Verdict, want []string) {
	t.Helper()
	if v.Detail == "" || strings.Contains(v.Detail, ". ") || strings.HasSuffix(v.Detail, ".") || strings.Contains(v.Detail, "\n") {
		t.Errorf("detail %q is not one sentence", v.Detail)
	}
	for _, w := range want {
		if !strings.Contains(v.Detail, w) {
			t.Errorf("detail %q does not name %q", v.Detail, w)
		}
	}
}

func TestPolicyRules(t *testing.T) {
	for _, row := range policyRows() {
		t.Run(row.policy.Name()+"/"+string(row.rule), func(t *testing.T) {
			v := row.policy.Decide(row.in)
			if v.Accept != row.accept || v.Rule != row.rule || v.DropExisting != row.drop || v.Probe != row.probe {
				t.Errorf("verdict = %+v, want accept=%v rule=%s drop=%v probe=%v", v, row.accept, row.rule, row.drop, row.probe)
			}
			checkDetail(t, v, row.detail)
		})
	}
}

func TestEveryRuleHasARow(t *testing.T) {
	seen := map[Rule]bool{}
	for _, row := range policyRows() {
		seen[row.rule] = true
	}
	for _, r := range resolveRows() {
		seen[r.rule] = true
	}
	for _, r := range []Rule{
		RuleNoExisting, RuleNoIncarnation, RuleNoLastConnection, RuleHandleOldAged, RuleHandleOldYoung,
		RuleNewIncarnation, RuleSameAttempt, RuleLostDecision, RuleNeverDecided, RuleOldMasterIncarnation,
		RuleSameSeqNum, RuleOlderSeqNum, RuleNewerSeqNum, RuleFirstWins, RuleNewestWins, RuleDropBoth,
		RuleAgeSilent, RuleAgeActive, RuleProbePending, RuleProbeAlive, RuleProbeSilent,
	} {
		if !seen[r] {
			t.Errorf("rule %s has no test row", r)
		}
	}
}

func TestAgeSilenceFallsBackToCreation(t *testing.T) {
	i := withExisting(in(slaveIR, "none 0", "", true), func(e *Existing) { e.LastReceived = time.Time{} })
	i.Now = t0.Add(59 * time.Second)
	if v := (Age{}).Decide(i); v.Accept || v.Rule != RuleAgeActive || !strings.Contains(v.Detail, "59s") {
		t.Errorf("young broker: %+v", v)
	}
	i.Now = t0.Add(60 * time.Second)
	if v := (Age{}).Decide(i); !v.Accept || v.Rule != RuleAgeSilent || !strings.Contains(v.Detail, "1m0s") {
		t.Errorf("broker silent exactly the threshold: %+v", v)
	}
}

func TestHandleOldBoundary(t *testing.T) {
	i := in("", "", "", true)
	i.Now = t0.Add(time.Minute)
	if v := (Foolscap{HandleOld: time.Minute}).Decide(i); !v.Accept || v.Rule != RuleHandleOldAged {
		t.Errorf("age equal to threshold: %+v", v)
	}
	i.Now = t0.Add(time.Minute - time.Nanosecond)
	if v := (Foolscap{HandleOld: time.Minute}).Decide(i); v.Accept || v.Rule != RuleHandleOldYoung {
		t.Errorf("age just under threshold: %+v", v)
	}
}

type resolveRow struct {
	name   string
	in     Input
	result ProbeResult
	accept bool
	rule   Rule
	detail []string
}

func resolveRows() []resolveRow {
	return []resolveRow{
		{"alive", in(slaveIR, "none 0", "", true), ProbeResult{Alive: true, RTT: 12 * time.Millisecond, Wait: 12 * time.Millisecond},
			false, RuleProbeAlive, []string{"12ms", string(RuleNeverDecided)}},
		{"silent", in(slaveIR, myIR+" 1", "", true), ProbeResult{Wait: 400 * time.Millisecond},
			true, RuleProbeSilent, []string{"400ms", string(RuleOlderSeqNum)}},
		{"no existing", in(slaveIR, "none 0", "", false), ProbeResult{}, true, RuleNoExisting, []string{peerTubID}},
		{"foolscap accepts", in(otherIR, "none 0", "", true), ProbeResult{Alive: true, RTT: time.Millisecond}, true, RuleNewIncarnation, []string{otherIR}},
	}
}

func TestProbeResolve(t *testing.T) {
	for _, row := range resolveRows() {
		t.Run(row.name, func(t *testing.T) {
			v := Probe{}.Resolve(row.in, row.result)
			if v.Accept != row.accept || v.Rule != row.rule || v.Probe || v.DropExisting {
				t.Errorf("verdict = %+v, want accept=%v rule=%s", v, row.accept, row.rule)
			}
			checkDetail(t, v, row.detail)
		})
	}
}

func TestProbeWait(t *testing.T) {
	for _, tc := range []struct {
		p    Probe
		rtt  time.Duration
		want time.Duration
	}{
		{Probe{}, 0, 250 * time.Millisecond},
		{Probe{}, 10 * time.Millisecond, 250 * time.Millisecond},
		{Probe{}, 100 * time.Millisecond, 400 * time.Millisecond},
		{Probe{}, time.Second, 2 * time.Second},
		{Probe{}, math.MaxInt64, 2 * time.Second},
		{Probe{Floor: time.Second, Multiplier: 2, Max: 10 * time.Second}, 3 * time.Second, 6 * time.Second},
		{Probe{Floor: time.Second, Multiplier: 2, Max: 10 * time.Second}, 100 * time.Millisecond, time.Second},
		{Probe{Floor: 5 * time.Second, Max: time.Second}, 0, time.Second},
	} {
		if got := tc.p.ProbeWait(tc.rtt); got != tc.want {
			t.Errorf("%+v.ProbeWait(%s) = %s, want %s", tc.p, tc.rtt, got, tc.want)
		}
	}
}

func TestPolicyRegistry(t *testing.T) {
	names := PolicyNames()
	if names[0] != PolicyFoolscap || len(names) != 8 {
		t.Fatalf("PolicyNames = %v", names)
	}
	for _, n := range names {
		p, err := PolicyByName(n)
		if err != nil || p.Name() != n {
			t.Errorf("PolicyByName(%q) = %v, %v", n, p, err)
		}
	}
	if _, ok := mustPolicy(t, PolicyProbe).(Prober); !ok {
		t.Error("probe policy is not a Prober")
	}
	if _, err := PolicyByName("bogus"); err == nil || !strings.Contains(err.Error(), `"bogus"`) {
		t.Errorf("unknown policy: %v", err)
	}

	// Cycling visits every name once and returns to the start.
	cur, visited := PolicyFoolscap, []string{}
	for range names {
		visited = append(visited, cur)
		cur = Cycle(cur)
	}
	if cur != PolicyFoolscap || !slices.Equal(visited, names) {
		t.Errorf("cycle visited %v and ended at %q", visited, cur)
	}
	if Cycle("bogus") != PolicyFoolscap {
		t.Errorf("Cycle(unknown) = %q", Cycle("bogus"))
	}
	names[0] = "changed"
	if PolicyNames()[0] != PolicyFoolscap {
		t.Error("PolicyNames hands out the shared order")
	}
}

func TestDefaultPoliciesUseDefaults(t *testing.T) {
	i := in("", "", "", true)
	i.Now = t0.Add(DefaultAgeThreshold)
	if v := mustPolicy(t, PolicyHandleOld).Decide(i); v.Rule != RuleHandleOldAged {
		t.Errorf("handle-old at 60s: %+v", v)
	}
	if v := mustPolicy(t, PolicyFoolscap).Decide(i); v.Rule != RuleNoIncarnation {
		t.Errorf("plain foolscap uses handle-old: %+v", v)
	}
}

func mustPolicy(t *testing.T, name string) Policy {
	t.Helper()
	p, err := PolicyByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func BenchmarkFoolscapDecide(b *testing.B) {
	i := in(slaveIR, myIR+" 2", "", true)
	p := Foolscap{}
	for b.Loop() {
		if v := p.Decide(i); v.Rule != RuleOlderSeqNum {
			b.Fatal(v)
		}
	}
}

func TestEveryPolicyIsDescribed(t *testing.T) {
	for _, name := range PolicyNames() {
		if Describe(name) == "" {
			t.Errorf("policy %s has no sentence", name)
		}
	}
	if Describe("no-such-policy") != "" {
		t.Error("an unknown policy got a sentence")
	}
}
