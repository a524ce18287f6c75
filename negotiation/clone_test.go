package negotiation

import (
	"strings"
	"testing"
	"time"
)

func TestCloneGuard(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	in := Input{Offer: Hello{TubID: strings.Repeat("b", 32), Incarnation: "1111111111111111"},
		Existing: &Existing{SlaveIncarnation: "2222222222222222"}, Now: now}
	v, ok := CloneGuard(in, now.Add(-3*time.Second), 10*time.Second)
	if !ok || v.Accept || v.Rule != RuleCloneRateLimited || !strings.Contains(v.Detail, "3s") {
		t.Fatalf("within hold-off: %+v %v", v, ok)
	}
	if _, ok := CloneGuard(in, now.Add(-11*time.Second), 10*time.Second); ok {
		t.Fatal("past the hold-off the guard must defer to the policy")
	}
	if _, ok := CloneGuard(in, time.Time{}, 10*time.Second); ok {
		t.Fatal("no accept yet: the guard must defer")
	}
	in.Existing = nil
	if _, ok := CloneGuard(in, now, 10*time.Second); ok {
		t.Fatal("no existing broker: nothing to protect")
	}
}
