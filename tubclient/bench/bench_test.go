package bench

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// The test binary doubles as the idle row's client process (see
	// testPeer in peer_test.go).
	if furl := os.Getenv(peerFURLEnv); furl != "" {
		os.Exit(runTestPeer(furl))
	}
	if os.Getenv(lowLimitEnv) != "" {
		os.Exit(runLowLimitRows())
	}
	goleak.VerifyTestMain(m)
}

// TestBenchQuick runs the whole bench in quick mode (smaller still, so it
// also fits under -race) and checks the table has every row with a
// verdict.
func TestBenchQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("the quick bench takes tens of seconds")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := Run(ctx, Options{Quick: true, N: 40, Idle: 100, Duration: 300 * time.Millisecond}, &out); err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	text := out.String()
	t.Log("\n" + text)
	if !strings.Contains(text, "GOMAXPROCS=") || !strings.Contains(text, "go1.") {
		t.Errorf("header does not name the machine")
	}
	for _, row := range Rows {
		if !strings.Contains(text, "\n"+row+" ") {
			t.Errorf("row %q missing", row)
		}
	}
	for _, want := range []string{"neg/s", "hs/s", "tubscope / ceiling", "foolscap", "probe", "attempt-id",
		"clients back", "flaps", "KiB", "goroutines per idle broker"} {
		if !strings.Contains(text, want) {
			t.Errorf("table lacks %q", want)
		}
	}
	// Every line with a target carries a verdict.
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, "≤") || strings.Contains(l, "≥") || strings.Contains(l, "first offer accepted") {
			if !strings.Contains(l, targetMet) && !strings.Contains(l, "gap: ") {
				t.Errorf("line without a verdict: %q", l)
			}
		}
	}
}

func TestOptionsFilled(t *testing.T) {
	o := Options{}.filled()
	if o.N != 2000 || o.Idle != 10000 || o.Duration != 5*time.Second {
		t.Errorf("defaults = %+v", o)
	}
	q := Options{Quick: true, N: 2000, Idle: 10000, Duration: 5 * time.Second}.filled()
	if q.N != quickN || q.Idle != quickIdle || q.Duration != quickDuration {
		t.Errorf("quick caps = %+v", q)
	}
	small := Options{Quick: true, N: 10, Idle: 20, Duration: time.Millisecond}.filled()
	if small.N != 10 || small.Idle != 20 || small.Duration != time.Millisecond {
		t.Errorf("quick mode raised smaller settings: %+v", small)
	}
	if (Options{Quick: true}).lockoutBound() >= (Options{}).lockoutBound() {
		t.Error("quick lockout bound is not shorter")
	}
}

func TestVerdicts(t *testing.T) {
	if v := verdictAtLeast(5.1, 5, "×"); v != targetMet {
		t.Errorf("5.1 ≥ 5: %q", v)
	}
	if v := verdictAtLeast(2.2, 5, "×"); !strings.HasPrefix(v, "gap: 2.80× short of 5.00×") {
		t.Errorf("2.2 ≥ 5: %q", v)
	}
	if v := verdictAtMost(0, 0, ""); v != targetMet {
		t.Errorf("0 ≤ 0: %q", v)
	}
	if v := verdictAtMost(40, 32, " KiB"); v != "gap: 8.00 KiB over 32.0 KiB" {
		t.Errorf("40 ≤ 32: %q", v)
	}
}

func TestTableAlignsAndNamesRowsOnce(t *testing.T) {
	var tb Table
	tb.Header = "head"
	tb.add("row a", "m1", "1", "", "")
	tb.add("row a", "longer measurement", "22", "≥ 1", targetMet)
	tb.add("row b", "m", "3", "", "")
	tb.note("n %d", 1)
	var out bytes.Buffer
	if _, err := tb.WriteTo(&out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out.String(), "\n")
	if lines[0] != "head" || strings.Count(out.String(), "row a") != 1 {
		t.Fatalf("table:\n%s", out.String())
	}
	col := strings.Index(lines[2], "MEASUREMENT")
	for _, l := range lines[3:6] {
		if len(l) <= col || l[col-1] != ' ' || l[col] == ' ' {
			t.Errorf("misaligned line %q (column %d)", l, col)
		}
	}
	if !strings.Contains(out.String(), "[1] n 1") {
		t.Errorf("note missing:\n%s", out.String())
	}
}

func TestMedian(t *testing.T) {
	if median(nil) != 0 {
		t.Error("median of nothing")
	}
	if m := median([]time.Duration{5, 1, 3}); m != 3 {
		t.Errorf("median = %v", m)
	}
	if m := maxDuration([]time.Duration{5, 1, 7}); m != 7 {
		t.Errorf("max = %v", m)
	}
}
