package flog

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tubscope/tubscope/tubclient/flog/internal/flogtest"
	"go.uber.org/goleak"
)

var runs flogtest.Runs

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { runs.Cleanup() }))
}

func bigPow2(n uint) *big.Int { return new(big.Int).Lsh(big.NewInt(1), n) }

// formatCases are formats and fields whose text Foolscap's own
// format_message must agree with.
var formatCases = []struct {
	format string
	fields Dict
}{
	{"%(s)s|%(s)r|%(q)r|%(dq)r|%(both)r", Dict{{"s", "hi"}, {"q", "it's"}, {"dq", `say "x"`}, {"both", `'"`}}},
	{"%(i)d %(i)5d|%(i)-5d|%(i)05d|%(n)+d|%(n) d|%(i) d", Dict{{"i", int64(42)}, {"n", int64(-7)}}},
	{"%(f)s %(f)r %(f)d %(f).2f %(f)e %(f)g %(f)10.3f %(f)-8.1f|", Dict{{"f", 3.75}}},
	{"%(big)d %(big)s %(big)x %(nbig)d", Dict{{"big", bigPow2(80)}, {"nbig", new(big.Int).Neg(bigPow2(70))}}},
	{"%(a)s %(b)s %(c)s %(d)s %(e)s %(g)s %(h)s", Dict{{"a", 1e16}, {"b", 1e-5}, {"c", 123456789012345.0}, {"d", 0.1}, {"e", math.Copysign(0, -1)}, {"g", 1e22}, {"h", 1.0}}},
	{"%(nan)s %(inf)s %(ninf)s %(inf)f %(inf)6.1f|%(nan)r", Dict{{"nan", math.NaN()}, {"inf", math.Inf(1)}, {"ninf", math.Inf(-1)}}},
	{"%(l)s %(d)s %(n)s %(b)s %(e)s", Dict{{"l", List{int64(1), "a", nil, 2.5}}, {"d", Dict{{"k", List{1.5}}, {"z", Dict{}}}}, {"n", nil}, {"b", true}, {"e", List{}}}},
	{"%(x)x %(x)X %(x)#x %(x)o %(x)#o %(x)c %(x)5c|", Dict{{"x", int64(65)}}},
	{"%(u)s %(u)r %(u)a", Dict{{"u", "café ☃ \U0001F600 \x07 \x7f"}}},
	{"100%% %(s).2s|%(s)8s|%(s)-8s|%(s).0r|", Dict{{"s", "abcdef"}}},
	{"%(g)g %(g2)g %(g3)G %(g4)g %(g5)#g %(g6).3g", Dict{{"g", 100000.0}, {"g2", 1e-5}, {"g3", 1e20}, {"g4", 0.0001}, {"g5", 2.0}, {"g6", 1234.5}}},
	{"%(bo)d %(bo)s %(bo)r %(bo).1f", Dict{{"bo", false}}},
	{"%(f)i %(neg).0f %(half).0f %(half2).0f %(tiny)e", Dict{{"f", -2.9}, {"neg", -0.4}, {"half", 0.5}, {"half2", 1.5}, {"tiny", 5e-324}}},
	{"%(s)s %(s)r", Dict{{"s", "tab\there\\back 'q' \u00a0nbsp \u200b zw"}}},
}

// writeFile writes events with the Writer and returns the path.
func writeFile(t *testing.T, headerType string, header Dict, evs []Event) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "written.flog")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(f, headerType, header)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if err := w.Write("local", ev.Seconds()+0.001, ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustEvent(t *testing.T, fields Dict) Event {
	t.Helper()
	ev, err := NewEvent(fields)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func baseFields(num int64) Dict {
	return Dict{{"num", num}, {"time", 1796633079.25 + float64(num)}, {"level", int64(20)},
		{"incarnation", List{"0123456789abcdef", nil}}, {"facility", "flogtest"}}
}

// dumpTexts runs flogtool dump and returns each event's text by number.
func dumpTexts(t *testing.T, path string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, flogtest.Flogtool, "dump", path)
	cmd.Env = append(os.Environ(), "PYTHONIOENCODING=utf-8")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("flogtool dump %s: %v\n%s", path, err, out)
	}
	line := regexp.MustCompile(`^\S+#(\d+) \d\d:\d\d:\d\d\.\d{3}: (.*)$`)
	texts := make(map[string]string)
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if m := line.FindStringSubmatch(sc.Text()); m != nil {
			texts[m[1]] = m[2]
		}
	}
	return texts
}

// readAll reads every event of a file, failing on any error.
func readAll(t *testing.T, path string) (*Header, []Record) {
	t.Helper()
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var recs []Record
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return r.Header(), recs
		}
		if err != nil {
			t.Fatalf("%v", err)
		}
		recs = append(recs, rec)
	}
}

// TestTextMatchesFoolscap writes events with %-formats of every kind,
// has Foolscap's flogtool dump render them, and compares its text with
// Text on the same events read back.
func TestTextMatchesFoolscap(t *testing.T) {
	flogtest.Require(t)
	var evs []Event
	for i, c := range formatCases {
		fields := append(baseFields(int64(i)), Field{"format", c.format})
		evs = append(evs, mustEvent(t, append(fields, c.fields...)))
	}
	evs = append(evs,
		mustEvent(t, append(baseFields(100), Field{"message", "a plain message with 100% and %(x)s left alone"})),
		mustEvent(t, append(baseFields(101), Field{"message", ""})),
		mustEvent(t, baseFields(102)),
	)
	path := writeFile(t, HeaderLogFileObserver, Dict{{"versions", Dict{{"tubscope", "test"}}}, {"pid", int64(1)}}, evs)
	want := dumpTexts(t, path)
	_, recs := readAll(t, path)
	if len(recs) != len(evs) {
		t.Fatalf("read back %d events, wrote %d", len(recs), len(evs))
	}
	for _, rec := range recs {
		num := rec.Event.Fields().String("format")
		got := rec.Event.Text()
		w, ok := want[itoa(rec.Event.Num())]
		if !ok {
			t.Errorf("flogtool dump did not print event %d", rec.Event.Num())
			continue
		}
		if got != w {
			t.Errorf("event %d %q:\n  Text       %q\n  Foolscap   %q", rec.Event.Num(), num, got, w)
		}
	}
}

func itoa(n int64) string { return big.NewInt(n).String() }

func TestTextPositionalArgsAndFallback(t *testing.T) {
	tests := []struct {
		name   string
		fields Dict
		want   string
	}{
		{"args tuple", Dict{{"message", "%s and %d%%"}, {"args", Tuple{"x", int64(3)}}}, "x and 3%"},
		// A saved file turns the tuple into a list: still positional.
		{"args list", Dict{{"message", "%r/%s"}, {"args", List{"x", nil}}}, "'x'/None"},
		{"bytes message", Dict{{"message", Bytes("from python 2")}}, "from python 2"},
		{"bytes field", Dict{{"format", "%(b)s %(b)r"}, {"b", Bytes("a'\x00\xff")}}, `b"a'\x00\xff" b"a'\x00\xff"`},
		{"set and tuple", Dict{{"format", "%(s)s %(t)s %(t1)s %(e)s"}, {"s", Set{int64(1)}}, {"t", Tuple{int64(1), "b"}}, {"t1", Tuple{int64(1)}}, {"e", Set{}}}, "{1} (1, 'b') (1,) set()"},
		{"placeholder", Dict{{"format", "got %(p)s"}, {"p", unjsonable("<object at 0x1>")}}, "got <object at 0x1>"},
		{"missing key", Dict{{"format", "seqnum %(offer)d"}, {"other", int64(1)}},
			`seqnum %(offer)d [formatting failed: no field "offer"; other=1]`},
		{"wrong type", Dict{{"format", "%(x)d"}, {"x", "text"}},
			`%(x)d [formatting failed: a number is required, not str; x='text']`},
		{"too few args", Dict{{"message", "%s %s"}, {"args", Tuple{"one"}}},
			`%s %s [formatting failed: not enough arguments for format string; args=('one',)]`},
		{"star width", Dict{{"format", "%(x)*d"}, {"x", int64(1)}}, `%(x)*d [formatting failed: * width is not supported; x=1]`},
		{"nan to int", Dict{{"format", "%(x)d"}, {"x", math.NaN()}}, `%(x)d [formatting failed: cannot convert float nan to integer; x=nan]`},
		{"truncated", Dict{{"format", "50%"}}, `50% [formatting failed: incomplete format]`},
		{"huge width", Dict{{"format", "%(x)99999999s"}, {"x", "a"}}, `%(x)99999999s [formatting failed: width too big; x='a']`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := mustEvent(t, append(baseFields(1), tc.fields...))
			if got := ev.Text(); got != tc.want {
				t.Errorf("Text = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLevels(t *testing.T) {
	for _, tc := range []struct {
		l    Level
		name string
	}{{Noisy, "NOISY"}, {Operational, "OPERATIONAL"}, {Unusual, "UNUSUAL"}, {Infrequent, "INFREQUENT"},
		{Curious, "CURIOUS"}, {Weird, "WEIRD"}, {Scary, "SCARY"}, {Bad, "BAD"}, {Level(24), "L24"}} {
		if tc.l.String() != tc.name {
			t.Errorf("Level(%d) = %q, want %q", int(tc.l), tc.l.String(), tc.name)
		}
		back, err := ParseLevel(strings.ToLower(tc.name))
		if err != nil || back != tc.l {
			t.Errorf("ParseLevel(%q) = %v, %v", tc.name, back, err)
		}
	}
	if _, err := ParseLevel("LOUD"); err == nil {
		t.Error("ParseLevel accepted LOUD")
	}
	// Foolscap's levels.py, which §13 of the protocol notes had wrong.
	if Curious != 28 || Infrequent != 25 {
		t.Errorf("CURIOUS=%d INFREQUENT=%d, Foolscap has 28 and 25", Curious, Infrequent)
	}
}

func TestSecondsToTime(t *testing.T) {
	got := SecondsToTime(1796633079.4665864)
	if got.Unix() != 1796633079 || got.Nanosecond()/1000 != 466586 {
		t.Errorf("SecondsToTime = %v", got)
	}
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), 1e300} {
		if !SecondsToTime(bad).IsZero() {
			t.Errorf("SecondsToTime(%v) is not zero", bad)
		}
	}
	if s := TimeToSeconds(got); math.Abs(s-1796633079.4665864) > 1e-6 {
		t.Errorf("TimeToSeconds = %v", s)
	}
}
