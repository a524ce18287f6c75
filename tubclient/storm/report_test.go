package storm

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func sampleResult() Result {
	return Result{
		Plan:    Plan{Fault: LostDecision, Rounds: 1, Window: 10 * time.Second, Target: "pb://t@tcp:127.0.0.1:1/x"},
		Call:    "echo",
		Clients: 3, Rounds: 1, Back: 2, LockedOut: 1, Flaps: 1, Rejects: 4,
		RejectsByReason: []ReasonCount{{Reason{Refused: true, Text: duplicateText, Offer: "offer remembered no decision", Rule: "never-decided"}, 4}},
		Failures:        []Count{{"negotiation timed out", 3}},
		Recovery:        Percentiles{N: 2, P50: 1500 * time.Microsecond, P99: 2 * time.Second, Max: 2 * time.Second},
		LockedOutFor:    Percentiles{N: 1, P50: 7 * time.Second, P99: 7 * time.Second, Max: 7 * time.Second},
		FlapEvents:      2,
		Elapsed:         12 * time.Second,
	}
}

// The summary line starts exactly as tools expect it to.
func TestSummaryJSONShape(t *testing.T) {
	var out, log bytes.Buffer
	rep := JSON(&out, &log)
	rep.Planned(Plan{N: 3, Fault: LostDecision, Rounds: 1, Sizes: []int{3}, Children: 1})
	rep.Outcome(Outcome{Kind: "storm-client", Round: 1, Client: 2, TubID: "x", Outcome: OutcomeLockedOut, LockedOutFor: 7 * time.Second, Rejects: 4})
	rep.Finished(sampleResult(), nil)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("stdout:\n%s", out.String())
	}
	const want = `{"kind":"storm-summary","clients":3,"back":2,"locked_out":1,"flaps":1,"rejects":4,"recovery_ms":{"p50":1.5,"p99":2000,"max":2000},`
	if !strings.HasPrefix(lines[1], want) {
		t.Errorf("summary\n%s\nwant it to start\n%s", lines[1], want)
	}
	var s map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &s); err != nil {
		t.Fatal(err)
	}
	if r := s["rejects_by_reason"].(map[string]any); r["Duplicate connection (offer remembered no decision)"] != 4.0 {
		t.Errorf("rejects by reason %v", r)
	}
	if !strings.Contains(lines[0], `"outcome":"locked-out","locked_out_ms":7000,`) || strings.Contains(lines[0], "recovery_ms") {
		t.Errorf("outcome line %s", lines[0])
	}
	if !strings.Contains(log.String(), "storm plan:") || strings.Contains(log.String(), "{") {
		t.Errorf("the log gets the plan, not JSON:\n%s", log.String())
	}
	out.Reset()
	JSON(&out, &log).Finished(Result{}, errors.New("boom"))
	if !strings.Contains(out.String(), `"recovery_ms":{"p50":0,"p99":0,"max":0}`) || !strings.Contains(out.String(), `"error":"boom"`) {
		t.Errorf("empty summary %s", out.String())
	}
}

func TestTextReport(t *testing.T) {
	var out bytes.Buffer
	rep := Text(&out)
	rep.Progress(Progress{Elapsed: 3 * time.Second, Setup: true, Clients: 10, Up: 4})
	rep.Progress(Progress{Elapsed: 4 * time.Second, Round: 1, Rounds: 2, Clients: 10, Back: 6, LockedOut: 1, Retrying: 2, Waiting: 1,
		LongestLockout: 2 * time.Second, Rejects: 5, RejectsByReason: []Count{{"Duplicate connection (x)", 5}}, Flaps: 1})
	rep.Finished(sampleResult(), nil)
	text := out.String()
	for _, want := range []string{
		"setting up: 4 of 10 clients connected",
		"round 1/2  back 6/10 · locked out 1 (longest 2s) · retrying 2 · not struck yet 1 · rejects 5 (Duplicate connection (x) ×5) · flaps 1",
		"back        2 of 3", "locked out  1", "p50 7.00s", "recovery    p50 1.50ms · p99 2.00s · max 2.00s",
		"4  Duplicate connection (offer remembered no decision): a Foolscap 21.7 queen refuses that only by never-decided",
		"flaps       1 client (2 connections", "negotiation timed out ×3",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
}
