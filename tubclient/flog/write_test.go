package flog

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tubscope/tubscope/tubclient/banana"
	"github.com/tubscope/tubscope/tubclient/flog/internal/flogtest"
)

// TestWriterReproducesFoolscapFiles reads files Foolscap wrote and writes
// them back: the bytes come out the same, so flogtool reads them as it
// reads its own.
func TestWriterReproducesFoolscapFiles(t *testing.T) {
	m, s := runs.Get(t)
	for _, src := range []string{m.FlogFile, m.TailFile, s.FlogFile} {
		t.Run(filepath.Base(src), func(t *testing.T) {
			h, recs := readAll(t, src)
			var buf bytes.Buffer
			w, err := NewWriter(&buf, h.Type, h.Fields)
			if err != nil {
				t.Fatal(err)
			}
			for _, rec := range recs {
				if err := w.Write(rec.From, rec.RxTime, rec.Event); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			orig, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), orig) {
				a, b := bytes.Split(orig, []byte("\n")), bytes.Split(buf.Bytes(), []byte("\n"))
				for i := range min(len(a), len(b)) {
					if !bytes.Equal(a[i], b[i]) {
						t.Fatalf("line %d differs:\n Foolscap %s\n Writer   %s", i+1, a[i], b[i])
					}
				}
				t.Fatalf("%d lines written, Foolscap wrote %d", len(b), len(a))
			}
		})
	}
}

// liveEvent is an event dict as a Python 3 logport sends it, encoded and
// decoded by package banana as the msg call's argument.
func liveEvent(t *testing.T, event banana.Dict) any {
	t.Helper()
	var enc banana.Encoder
	wire, err := enc.AppendCall(nil, &banana.Call{ReqID: 7, Target: 1, Method: "msg",
		Kwargs: []banana.KV{{Key: "logmsg", Value: event}}})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := banana.NewDecoder(banana.Config{})
	if err != nil {
		t.Fatal(err)
	}
	dec.Feed(wire)
	ev, ok, err := dec.Next()
	if err != nil || !ok {
		t.Fatalf("decoding: ok=%v err=%v", ok, err)
	}
	call, isCall := ev.Msg.(*banana.Call)
	if !isCall || len(call.Kwargs) != 1 {
		t.Fatalf("decoded %#v", ev.Msg)
	}
	return call.Kwargs[0].Value
}

func liveDict(num int64, extra ...banana.DictEntry) banana.Dict {
	d := banana.Dict{
		{Key: "format", Value: "seqnum %(offer)d > %(existing)d from %(peer)s"},
		{Key: "offer", Value: int64(99)}, {Key: "existing", Value: int64(6)}, {Key: "peer", Value: "ckpn"},
		{Key: "level", Value: int64(30)}, {Key: "parent", Value: int64(251)},
		{Key: "facility", Value: "foolscap.negotiation"}, {Key: "num", Value: num},
		{Key: "time", Value: 1796633079.5373151},
		{Key: "incarnation", Value: banana.Tuple{"788dd457feecb03d", nil}},
	}
	return append(d, extra...)
}

func TestFromBanana(t *testing.T) {
	huge := new(big.Int).Lsh(big.NewInt(3), 100)
	raw := liveEvent(t, liveDict(253,
		banana.DictEntry{Key: []byte("py2key"), Value: []byte("bytes value")},
		banana.DictEntry{Key: "huge", Value: huge},
		banana.DictEntry{Key: "nan", Value: math.NaN()},
		banana.DictEntry{Key: "set", Value: banana.Set{int64(1), int64(2)}},
		banana.DictEntry{Key: "nested", Value: banana.Dict{{Key: int64(1), Value: banana.List{true, nil}}}},
		banana.DictEntry{Key: "failure", Value: banana.Copyable{Class: banana.FailureClass, State: []banana.KV{
			{Key: "value", Value: "boom"}, {Key: "type", Value: "builtins.ValueError"},
			{Key: "traceback", Value: "Traceback (most recent call last):\nValueError: boom\n"},
			{Key: "parents", Value: banana.List{"builtins.ValueError"}}}}},
		banana.DictEntry{Key: "ref", Value: banana.MyReference{CLID: 3, Interface: "RIFoo"}},
	))
	ev, err := FromBanana(raw)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Num() != 253 || ev.Level() != Weird || ev.Incarnation() != "788dd457feecb03d" || ev.Facility() != "foolscap.negotiation" {
		t.Errorf("common fields: num %d level %v incarnation %q facility %q", ev.Num(), ev.Level(), ev.Incarnation(), ev.Facility())
	}
	if p, ok := ev.Parent(); !ok || p != 251 {
		t.Errorf("parent %d %v", p, ok)
	}
	if got := ev.Text(); got != "seqnum 99 > 6 from ckpn" {
		t.Errorf("Text = %q", got)
	}
	if v := ev.String("py2key"); v != "bytes value" {
		t.Errorf("bytes key/value: %q", v)
	}
	if v, _ := ev.Get("huge"); v.(*big.Int).Cmp(huge) != 0 {
		t.Errorf("huge = %v", v)
	}
	if v, _ := ev.Get("set"); pyRepr(v, false) != "{1, 2}" {
		t.Errorf("set = %#v", v)
	}
	if v, _ := ev.Get("nested"); pyRepr(v, false) != "{'1': [True, None]}" {
		t.Errorf("nested = %s", pyRepr(v, false))
	}
	f, _ := ev.Failure()
	fp, ok := f.(Placeholder)
	if !ok || fp.Kind != PlaceholderFailure || !strings.Contains(fp.Fields.String("str"), "ValueError: boom") ||
		fp.Fields.String("repr") != "<foolscap.call.CopiedFailure builtins.ValueError: boom>" {
		t.Errorf("failure = %#v", f)
	}
	if v, _ := ev.Get("ref"); pyStr(v) != "<RemoteReference at clid 3>" {
		t.Errorf("ref = %#v", v)
	}

	// Written as flogtool tail --save-to would, Foolscap reads it back and
	// prints the failure.
	path := writeFile(t, HeaderTail, TailHeader(Dict{{"foolscap", "21.7.0"}}, 4242), []Event{ev})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	flogtest.Require(t)
	out, err := exec.CommandContext(ctx, flogtest.Flogtool, "dump", path).CombinedOutput()
	if err != nil {
		t.Fatalf("flogtool dump: %v\n%s", err, out)
	}
	for _, want := range []string{"PID: 4242", "local#253 ", ": seqnum 99 > 6 from ckpn", " FAILURE:", " ValueError: boom"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("flogtool dump output lacks %q:\n%s", want, out)
		}
	}
	_, recs := readAll(t, path)
	if len(recs) != 1 || recs[0].Event.Text() != ev.Text() {
		t.Fatalf("read back %d events", len(recs))
	}
	if v, _ := recs[0].Event.Get("set"); pyStr(v) != "{1, 2}" {
		t.Errorf("set saved as %#v, want the UnJSONable placeholder with repr {1, 2}", v)
	}
}

func TestFromBananaRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"not a dict", banana.List{int64(1)}, "not a dict"},
		{"nil", nil, "not a dict"},
		{"no num", banana.Dict{{Key: "time", Value: 1.0}}, "no num"},
		{"no time", banana.Dict{{Key: "num", Value: int64(1)}}, "no time"},
		{"num not int", banana.Dict{{Key: "num", Value: "one"}, {Key: "time", Value: 1.0}}, "not an integer"},
		{"odd key", banana.Dict{{Key: banana.List{}, Value: int64(1)}}, "dict key"},
		{"cycle", banana.Dict{{Key: "num", Value: int64(1)}, {Key: "time", Value: 1.0}, {Key: "self", Value: banana.Reference(0)}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FromBanana(tc.v)
			if tc.want == "" {
				if err != nil {
					t.Errorf("FromBanana: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
	// Deep nesting is refused, not a stack overflow.
	var v any = banana.List{}
	for range 1000 {
		v = banana.List{v}
	}
	_, err := FromBanana(banana.Dict{{Key: "num", Value: int64(1)}, {Key: "time", Value: 1.0}, {Key: "deep", Value: v}})
	if err == nil || !strings.Contains(err.Error(), "nested too deep") {
		t.Errorf("deep value: %v", err)
	}
}

func TestWriterReportsWriteErrors(t *testing.T) {
	w, err := NewWriter(failingWriter{}, HeaderTail, nil)
	if err == nil {
		// The header fits the buffer; the error shows at Flush.
		err = w.Flush()
	}
	if !errors.Is(err, errDiskFull) {
		t.Errorf("error %v, want the disk's", err)
	}
}

var errDiskFull = errors.New("disk full")

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errDiskFull }
