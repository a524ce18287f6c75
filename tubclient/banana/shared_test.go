package banana

import (
	"bytes"
	"encoding/hex"
	"os/exec"
	"strings"
	"testing"
	"unsafe"

	"github.com/tubscope/tubscope/tubclient/internal/pypeer"
)

// backing names the memory a decoded container's elements live in; two
// values with the same backing are one object.
func backing(v any) (unsafe.Pointer, int) {
	switch v := v.(type) {
	case List:
		return unsafe.Pointer(unsafe.SliceData(v)), len(v)
	case Tuple:
		return unsafe.Pointer(unsafe.SliceData(v)), len(v)
	case Set:
		return unsafe.Pointer(unsafe.SliceData(v)), len(v)
	case Dict:
		return unsafe.Pointer(unsafe.SliceData(v)), len(v)
	case Copyable:
		return unsafe.Pointer(unsafe.SliceData(v.State)), len(v.State)
	}
	return nil, -1
}

func sameObject(a, b any) bool {
	pa, na := backing(a)
	pb, nb := backing(b)
	return pa != nil && na > 0 && pa == pb && na == nb
}

// A back-reference decodes to the very value it names, for every kind of
// container Foolscap lets a reference point at.
func TestBackReferenceYieldsTheSameValue(t *testing.T) {
	cases := map[string]string{
		"list":     `02 88 04 82 "list" 01 81 02 89`,
		"tuple":    `02 88 05 82 "tuple" 01 81 02 89`,
		"set":      `02 88 03 82 "set" 01 81 02 89`,
		"dict":     `02 88 04 82 "dict" 01 82 "k" 01 81 02 89`,
		"copyable": `02 88 08 82 "copyable" 01 82 "C" 01 82 "a" 01 81 02 89`,
	}
	for name, first := range cases {
		in := wire(t, `00 88 06 82 "answer" 01 81 01 88 04 82 "list" `+first+
			` 03 88 09 82 "reference" 02 81 03 89 01 89 00 89`)
		pair := oneMessage(t, Config{}, in).(*Answer).Value.(List)
		if len(pair) != 2 || !sameObject(pair[0], pair[1]) {
			t.Errorf("%s: %#v is not one object twice", name, pair)
		}
	}
}

// The 24-level reference bomb: 1 KB that names 16 million leaves. It
// decodes, and echoes back, in about its own size.
func TestReferenceBombEchoesInBoundedMemory(t *testing.T) {
	bomb := referenceBomb(24)
	var echo []byte
	var cost int64
	alloc := allocatedBytes(3, func() func() {
		d := newDecoder(t, Config{})
		d.Feed(bomb)
		return func() {
			ev, ok, err := d.Next()
			if err != nil || !ok || ev.Kind != EventMessage {
				t.Fatalf("%+v %v %v", ev, ok, err)
			}
			cost = ev.Cost
			var enc Encoder
			if echo, err = enc.AppendAnswer(nil, 1, ev.Msg.(*Answer).Value); err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Logf("bomb: %d bytes in, cost %d, echo %d bytes, %d bytes allocated", len(bomb), cost, len(echo), alloc)
	if alloc > 1<<20 || cost > 16<<10 || len(echo) > 2*len(bomb) {
		t.Fatalf("a %d-byte bomb allocated %d bytes, cost %d, echoed as %d bytes", len(bomb), alloc, cost, len(echo))
	}

	levels := oneMessage(t, Config{}, echo).(*Answer).Value.(List)
	if len(levels) != 25 {
		t.Fatalf("%d levels", len(levels))
	}
	for i := 1; i < len(levels); i++ {
		l := levels[i].(List)
		if !sameObject(l[0], levels[i-1]) || !sameObject(l[1], levels[i-1]) {
			t.Fatalf("level %d of the echo does not share level %d", i, i-1)
		}
	}
}

// The bytes Foolscap 21.7's Broker sends for these answers, one after the
// other on one connection (OPEN numbers run on): l = [1]; [l, l];
// c = [1]; c.append(c); (l, l); {"a": l, "b": l}.
var foolscapSharedAnswers = []string{
	"00880682616e737765720781018804826c697374028804826c69737401810289038809827265666572656e63650281038901890089",
	"04880682616e737765720781058804826c6973740181068809827265666572656e63650581068905890489",
	"07880682616e737765720781088805827475706c65098804826c697374018109890a8809827265666572656e636509810a8908890789",
	"0b880682616e7377657207810c880482646963740d880782756e69636f64650182610d890e8804826c69737401810e890f880782756e69636f64650182620f89108809827265666572656e63650e8110890c890b89",
}

func sharedAnswerValues() []any {
	l := List{int64(1)}
	c := List{int64(1), nil}
	c[1] = c
	return []any{List{l, l}, c, Tuple{l, l}, Dict{{Key: "a", Value: l}, {Key: "b", Value: l}}}
}

func TestEncoderSendsSharedContainersAsFoolscapDoes(t *testing.T) {
	var enc Encoder
	for i, v := range sharedAnswerValues() {
		out, err := enc.AppendAnswer(nil, 7, v)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(out); got != foolscapSharedAnswers[i] {
			t.Errorf("answer %d:\n got %s\nwant %s", i, got, foolscapSharedAnswers[i])
		}
	}

	// and decoding Foolscap's bytes shares what it shared
	var stream []byte
	for _, h := range foolscapSharedAnswers {
		b, _ := hex.DecodeString(h)
		stream = append(stream, b...)
	}
	evs, err := decodeAll(t, Config{}, stream)
	if err != nil || len(evs) != 4 {
		t.Fatalf("%v %+v", err, evs)
	}
	pair := evs[0].Msg.(*Answer).Value.(List)
	cycle := evs[1].Msg.(*Answer).Value.(List)
	tuple := evs[2].Msg.(*Answer).Value.(Tuple)
	dict := evs[3].Msg.(*Answer).Value.(Dict)
	if !sameObject(pair[0], pair[1]) || !sameObject(tuple[0], tuple[1]) || !sameObject(dict[0].Value, dict[1].Value) {
		t.Fatal("decoded Foolscap answers lost their sharing")
	}
	mustEqual(t, "cycle", cycle, List{int64(1), Reference(5)})
}

// The bytes above, checked against a live Foolscap.
func TestFoolscapSharedAnswerBytes(t *testing.T) {
	pypeer.Require(t)
	const script = `
import sys
from foolscap import broker, call
from foolscap.test.test_banana import TestTransport
b = broker.Broker(None)
b.connectionMade()
l = [1]
c = [1]; c.append(c)
for v in ([l, l], c, (l, l), {"a": l, "b": l}):
    b.transport = TestTransport()
    b.send(call.AnswerSlicer(7, v))
    sys.stdout.write(b.transport.getvalue().hex() + "\n")
`
	out, err := exec.Command(pypeer.Python, "-E", "-s", "-B", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	mustEqual(t, "Foolscap's answers", strings.Fields(string(out)), foolscapSharedAnswers)
}

// Sharing is by identity only: equal but distinct values, different
// lengths of one array, empty containers and one State under two class
// names all go out in full.
func TestEncoderSharesOnlyIdenticalContainers(t *testing.T) {
	arr := List{int64(1), int64(2)}
	state := []KV{{Key: "x", Value: int64(1)}}
	ptr := &Copyable{Class: "P", State: state}
	cases := []struct {
		name   string
		value  any
		shared bool
	}{
		{"equal lists", List{List{int64(1)}, List{int64(1)}}, false},
		{"two lengths of one array", List{arr[:1], arr}, false},
		{"list and tuple of one array", List{arr, Tuple(arr)}, false},
		{"empty lists", List{List{}, List{}}, false},
		{"one state, two classes", List{Copyable{Class: "A", State: state}, Copyable{Class: "B", State: state}}, false},
		{"one list as []any and List", List{[]any(arr), arr}, true},
		{"one set", List{Set(arr), Set(arr)}, true},
		{"one dict", func() any { d := Dict{{Key: "k", Value: nil}}; return List{d, d} }(), true},
		{"one copyable value", List{Copyable{Class: "A", State: state}, Copyable{Class: "A", State: state}}, true},
		{"one *Copyable", List{ptr, ptr}, true},
		{"one *Failure", func() any { f := &Failure{Type: "T"}; return List{f, f} }(), true},
	}
	for _, c := range cases {
		var enc Encoder
		out, err := enc.AppendAnswer(nil, 1, c.value)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := bytes.Contains(out, []byte("reference")); got != c.shared {
			t.Errorf("%s: reference sent %v, want %v", c.name, got, c.shared)
		}
		pair := oneMessage(t, Config{}, out).(*Answer).Value.(List)
		if got := sameObject(pair[0], pair[1]); got != c.shared {
			t.Errorf("%s: decoded as one object %v, want %v", c.name, got, c.shared)
		}
	}

	// scopes end with the message: the same list in the next one goes in full
	var enc Encoder
	first := encodeAnswer(t, &enc, 1, arr)
	second := encodeAnswer(t, &enc, 2, arr)
	if bytes.Contains(second, []byte("reference")) {
		t.Fatal("a reference crossed messages")
	}
	evs, err := decodeAll(t, Config{}, append(first, second...))
	if err != nil || len(evs) != 2 {
		t.Fatal(err, evs)
	}
	mustEqual(t, "second", evs[1].Msg, &Answer{ReqID: 2, Value: arr})
}
