package bench

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

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

// The first accepted connection hides the peer's close until it is closed
// locally; later ones report EOF as usual.
func TestFirstFINLost(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &firstFINLost{Listener: raw}
	defer ln.Close()
	accept := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		return s
	}
	first := accept()
	got := make(chan error, 1)
	go func() {
		_, err := first.Read(make([]byte, 1))
		got <- err
	}()
	first.Close()
	if err := <-got; !errors.Is(err, net.ErrClosed) {
		t.Errorf("first conn read = %v, want net.ErrClosed (the FIN must stay hidden)", err)
	}
	second := accept()
	defer second.Close()
	if _, err := second.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("second conn read = %v, want EOF", err)
	}
}
