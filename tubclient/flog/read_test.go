package flog

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tubscope/tubscope/tubclient/flog/internal/flogtest"
)

// dumpNumbers counts the events flogtool dump --just-numbers lists.
func dumpNumbers(t *testing.T, path string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, flogtest.Flogtool, "dump", "--just-numbers", path).CombinedOutput()
	if err != nil {
		t.Fatalf("flogtool dump %s: %v\n%s", path, err, out)
	}
	n := 0
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			n++
		}
	}
	return n
}

func TestReadFilesFoolscapWrote(t *testing.T) {
	m, s := runs.Get(t)
	for _, tc := range []struct {
		path, header string
	}{
		{m.FlogFile, HeaderLogFileObserver},
		{m.TailFile, HeaderTail},
		{m.Incident, HeaderIncident},
		{s.FlogFile, HeaderLogFileObserver},
	} {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			h, recs := readAll(t, tc.path)
			if h == nil || h.Type != tc.header {
				t.Fatalf("header %+v, want type %q", h, tc.header)
			}
			if v := h.Versions.String("foolscap"); v != "21.7.0" {
				t.Errorf("header versions %v: no foolscap 21.7.0", h.Versions)
			}
			if want := dumpNumbers(t, tc.path); len(recs) != want {
				t.Errorf("read %d events, flogtool dump lists %d", len(recs), want)
			}
			for i, rec := range recs {
				if rec.File != tc.path || rec.Line != i+3 {
					t.Fatalf("record %d at %s:%d, want line %d", i, rec.File, rec.Line, i+3)
				}
			}
			if tc.header == HeaderIncident {
				if h.Trigger == nil || h.Trigger.Level() != Weird || !strings.Contains(h.Trigger.Text(), "> existing_seqnum") {
					t.Fatalf("incident trigger %+v is not the WEIRD newer-seqnum line", h.Trigger)
				}
				found := false
				for _, rec := range recs {
					found = found || rec.Event.ID() == h.Trigger.ID()
				}
				if !found {
					t.Error("the trigger event is not among the incident's events")
				}
			}
		})
	}
}

// TestAwkwardValuesFromFoolscap reads the event flogpeer logs with a
// 2**80, a NaN, a -inf, bytes and a set: as FLOGFILE wrote it and as
// flogtool tail saved it after it crossed the logport.
func TestAwkwardValuesFromFoolscap(t *testing.T) {
	m, _ := runs.Get(t)
	for _, path := range []string{m.FlogFile, m.TailFile} {
		_, recs := readAll(t, path)
		var ev *Event
		for i := range recs {
			if recs[i].Event.Facility() == "flogtest.values" {
				ev = &recs[i].Event
			}
		}
		if ev == nil {
			t.Fatalf("%s: no flogtest.values event", path)
		}
		big80, _ := ev.Get("big")
		if b, ok := big80.(*big.Int); !ok || b.Cmp(bigPow2(80)) != 0 {
			t.Errorf("%s: big = %#v, want 2**80", path, big80)
		}
		nan, _ := ev.Get("nan")
		inf, _ := ev.Get("inf")
		if f, ok := nan.(float64); !ok || !math.IsNaN(f) {
			t.Errorf("%s: nan = %#v", path, nan)
		}
		if f, ok := inf.(float64); !ok || !math.IsInf(f, -1) {
			t.Errorf("%s: inf = %#v", path, inf)
		}
		raw, _ := ev.Get("raw")
		if p, ok := raw.(Placeholder); !ok || p.Kind != PlaceholderUnJSONable || p.Repr() != `b'\x00\xffbytes'` {
			t.Errorf("%s: raw = %#v", path, raw)
		}
		want := `values big=1208925819614629174706176 nan=nan inf=-inf raw=b'\x00\xffbytes' set={1}`
		if got := ev.Text(); got != want {
			t.Errorf("%s: Text = %q, want %q", path, got, want)
		}
	}
}

// copyFile copies src to a new file in a temp dir, transformed by edit.
func copyFile(t *testing.T, src, name string, edit func([]byte) []byte) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(dst, edit(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestTruncatedBzip2 cuts real bzip2 flogfiles short: an incident file
// (one small block, so nothing can be read before the cut) and a large
// file compressed by Python's bz2 in 100 kB blocks, whose complete
// blocks are read before the error. Either way the error names the file
// and says the stream is truncated.
func TestTruncatedBzip2(t *testing.T) {
	m, _ := runs.Get(t)
	small := copyFile(t, m.Incident, "cut-incident.flog.bz2", func(b []byte) []byte { return b[:len(b)*2/3] })
	if r, err := Open(small); err == nil {
		r.Close()
		t.Error("Open accepted an incident cut short")
	} else if !strings.Contains(err.Error(), small) || !strings.Contains(err.Error(), "truncated bzip2") || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("error %q does not name the file and the truncation", err)
	}

	large := bigBzip2(t, m.FlogFile)
	total := len(readAllOK(t, large))
	path := copyFile(t, large, "cut-large.flog.bz2", func(b []byte) []byte { return b[:len(b)/2] })
	r, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v (the first blocks are intact)", err)
	}
	defer r.Close()
	events := 0
	for {
		_, err := r.Next()
		if err == nil {
			events++
			continue
		}
		var le *LineError
		if errors.As(err, &le) {
			continue // the cut may split a line
		}
		if errors.Is(err, io.EOF) {
			t.Fatal("a truncated bzip2 file read to a clean end")
		}
		if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "truncated bzip2") || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("error %q does not name the file and the truncation", err)
		}
		break
	}
	if events == 0 || events >= total {
		t.Errorf("read %d events of %d from half the file", events, total)
	}
	if _, err := r.Next(); err == nil || errors.Is(err, io.EOF) {
		t.Errorf("Next after the failure = %v, want the same error", err)
	}
}

// bigBzip2 repeats src's events (renumbered) into a file of about 3 MB
// and has Python's bz2 compress it in 100 kB blocks.
func bigBzip2(t *testing.T, src string) string {
	t.Helper()
	h, recs := readAll(t, src)
	var evs []Event
	for len(evs)*250 < 3<<20 {
		for _, rec := range recs {
			fields := append(Dict(nil), rec.Event.Fields()...)
			for i := range fields {
				if fields[i].Key == KeyNum {
					fields[i].Value = int64(len(evs))
				}
			}
			evs = append(evs, mustEvent(t, fields))
		}
	}
	plain := writeFile(t, h.Type, h.Fields, evs)
	out := plain + ".bz2"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	script := "import bz2, sys; open(sys.argv[2], 'wb').write(bz2.compress(open(sys.argv[1], 'rb').read(), 1))"
	if b, err := exec.CommandContext(ctx, flogtest.Python, "-c", script, plain, out).CombinedOutput(); err != nil {
		t.Fatalf("compressing: %v\n%s", err, b)
	}
	return out
}

// readAllOK reads every event, failing on any error.
func readAllOK(t *testing.T, path string) []Record {
	t.Helper()
	_, recs := readAll(t, path)
	return recs
}

func mustOpen(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestNotFlogFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, content string
		want          error
		says          string
	}{
		{"notes.txt", "just some text\nand more\n", ErrNotFlog, `starts with "just some text\nand more"`},
		{"empty.flog", "", ErrNotFlog, "empty file"},
		{"old.flog", "(dp0\nS'header'\np1\n", ErrPickle, "pickle"},
		{"logport.furl", "pb://abcdefghijklmnopqrstuvwxyz234567@127.0.0.1:1234/swiss\n", ErrFURLFile, "FURL file"},
		{"short.flog", "# foolscap", ErrNotFlog, `holds only "# foolscap"`},
		{"v2.flog", "# foolscap flogfile v2\n{}\n", ErrNotFlog, "v2"},
		{"bad.bz2", "BZh9 this is not bzip2 data at all, just a prefix", nil, "corrupt bzip2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := write(tc.name, tc.content)
			r, err := Open(path)
			if err == nil {
				r.Close()
				t.Fatal("Open accepted it")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("error %q should name %s and say %q", err, path, tc.says)
			}
		})
	}
	if _, err := Open(filepath.Join(dir, "missing.flog")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestMalformedLines damages a real file line by line: each bad line is
// an error naming file:line, and every good event is still read.
func TestMalformedLines(t *testing.T) {
	m, _ := runs.Get(t)
	_, good := readAll(t, m.FlogFile)
	bad := []string{
		`{"from": "local", "rx_time": 1.0, "d": {"num": 1, "time": 2.0`, // cut short
		`not json at all`,
		`[1, 2, 3]`,
		`{"from": "local", "rx_time": 1.0}`,
		`{"from": "local", "rx_time": 1.0, "d": {"time": 2.0}}`,
		`{"from": "local", "rx_time": 1.0, "d": {"num": "seven", "time": 2.0}}`,
		`{"from": "local", "rx_time": 1.0, "d": {"num": 1, "time": "noon"}}`,
		``,
		`{"header": 5}`,
		`{"from": "local", "d": {"num": 1, "time": 2.0}} trailing`,
		`{"a": "\ud800 lone surrogate is fine", "b": "\x"}`,
		strings.Repeat("[", 1000) + strings.Repeat("]", 1000),
		`{"from": "local", "rx_time": 1.0, "d": {"num": 1, "time": 2.0, "n": 1` + strings.Repeat("0", 5000) + `}}`,
	}
	path := copyFile(t, m.FlogFile, "damaged.flog", func(b []byte) []byte {
		lines := bytes.SplitAfter(b, []byte("\n"))
		var out []byte
		for i, l := range lines {
			out = append(out, l...)
			if i >= 2 && i-2 < len(bad) {
				out = append(out, bad[i-2]+"\n"...)
			}
		}
		return out
	})
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var events int
	var badLines []int
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var le *LineError
		if errors.As(err, &le) {
			if le.File != path || !strings.HasPrefix(err.Error(), path+":") {
				t.Errorf("error %q does not start with %s:LINE", err, path)
			}
			badLines = append(badLines, le.Line)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.Event.Num() != good[events].Event.Num() {
			t.Fatalf("event %d has num %d, want %d", events, rec.Event.Num(), good[events].Event.Num())
		}
		events++
	}
	if events != len(good) {
		t.Errorf("read %d good events, want %d", events, len(good))
	}
	// Bad line k follows good line k+2 of the original (the header is 2):
	// line numbers 4, 6, 8, ... in the damaged file.
	var want []int
	for k := range bad {
		want = append(want, 4+2*k)
	}
	if !equalInts(badLines, want) {
		t.Errorf("bad lines reported at %v, want %v", badLines, want)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestLineCapAndLastLine(t *testing.T) {
	long := `{"from": "local", "rx_time": 1.0, "d": {"num": 2, "time": 2.0, "pad": "` + strings.Repeat("x", 200000) + `"}}`
	content := Magic + `{"header": {"type": "tail"}}` + "\n" +
		`{"from": "local", "rx_time": 1.0, "d": {"num": 1, "time": 1.0, "message": "before"}}` + "\n" +
		long + "\n" +
		`{"from": "local", "rx_time": 1.0, "d": {"num": 3, "time": 3.0, "message": "no newline at the end"}}`
	r, err := NewReader(strings.NewReader(content), "capped.flog")
	if err != nil {
		t.Fatal(err)
	}
	r.SetMaxLine(100000)
	var texts []string
	var errs []string
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		texts = append(texts, rec.Event.Text())
	}
	if strings.Join(texts, "|") != "before|no newline at the end" {
		t.Errorf("texts %q", texts)
	}
	if len(errs) != 1 || !strings.HasPrefix(errs[0], "capped.flog:4: line longer than 100000 bytes") {
		t.Errorf("errors %q", errs)
	}
	// Under the default cap the long line is an ordinary event.
	r, _ = NewReader(strings.NewReader(content), "capped.flog")
	n := 0
	for {
		if _, err := r.Next(); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			break
		}
		n++
	}
	if n != 3 {
		t.Errorf("default cap: %d events, want 3", n)
	}
}

func TestJSONQuirks(t *testing.T) {
	v, err := parseJSON([]byte(`{"@": "Failure", "str": "[Failure instance: boom]", "repr": "<Failure>"}`))
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := v.(Placeholder); !ok || p.Kind != PlaceholderFailure || p.Repr() != "[Failure instance: boom]" {
		t.Errorf("failure placeholder = %#v", v)
	}
	v, _ = parseJSON([]byte(`{"x": 1, "@": "UnJSONable"}`))
	if _, ok := v.(Dict); !ok {
		t.Errorf("an \"@\" key that is not first is application data, got %#v", v)
	}
	v, _ = parseJSON([]byte(`{"@": "Unreprable", "exception_repr": "ValueError()"}`))
	if p, ok := v.(Placeholder); !ok || p.Repr() != "<unreprable: ValueError()>" {
		t.Errorf("unreprable = %#v", v)
	}
	v, _ = parseJSON([]byte(`[NaN, Infinity, -Infinity, -0.0, 1e400, 18446744073709551616, -9223372036854775808, 123456789012345678, "\ud83d\ude00\u00e9\/", true, false, null]`))
	l := v.(List)
	if !math.IsNaN(l[0].(float64)) || !math.IsInf(l[1].(float64), 1) || !math.IsInf(l[2].(float64), -1) {
		t.Errorf("non-finite: %#v", l[:3])
	}
	if !math.Signbit(l[3].(float64)) || !math.IsInf(l[4].(float64), 1) {
		t.Errorf("-0.0, 1e400: %#v", l[3:5])
	}
	if b, ok := l[5].(*big.Int); !ok || b.String() != "18446744073709551616" {
		t.Errorf("2**64 = %#v", l[5])
	}
	if l[6].(int64) != math.MinInt64 || l[7].(int64) != 123456789012345678 {
		t.Errorf("int64 edges: %#v", l[6:8])
	}
	if l[8].(string) != "😀é/" || l[9] != true || l[10] != false || l[11] != nil {
		t.Errorf("strings and literals: %#v", l[8:])
	}
	if _, err := parseJSON([]byte("1" + strings.Repeat("0", 5000))); err == nil {
		t.Error("a 5000-digit integer was accepted (Python refuses over 4300)")
	}
	if _, err := parseJSON([]byte(strings.Repeat("[", 600))); err == nil || !strings.Contains(err.Error(), "nested") {
		t.Errorf("deep nesting: %v", err)
	}
	for _, bad := range []string{`"\u12"`, `"abc`, `{"a" 1}`, `{1: 2}`, `[1,]`, `-`, `Nan`, `{"a":1,}`} {
		if _, err := parseJSON([]byte(bad)); err == nil {
			t.Errorf("parseJSON(%q) accepted it", bad)
		}
	}
}
