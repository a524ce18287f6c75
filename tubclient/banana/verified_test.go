package banana

import (
	"bytes"
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"
)

// Byte strings in this file were captured between Foolscap 21.7 and a Go
// peer (PROTOCOL.md §6, §9, §12).

const goServerFURL = "pb://6gmn2fubi7xralfvxa3qca2h2qkhwmhd@127.0.0.1:40527/swiss-go-echo" // 67 bytes, as captured

func mustEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %#v\nwant %#v", what, got, want)
	}
}

func mustBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("%s:\n got %q\nwant %q", what, got, want)
	}
}

// The Python client's side of the §12.6 conversation: getReferenceByName,
// echo("hi"), then decref. OPEN numbers run 0..6 across the three calls.
func TestPythonClientCallsDecodeAndReencode(t *testing.T) {
	grbn := wire(t, `00 88 | 04 82 "call" | 01 81 | 00 81 | 12 82 "getReferenceByName" |
		01 88 | 09 82 "arguments" | 00 81 | 04 82 "name" | 0D 82 "swiss-go-echo" |
		01 89 | 00 89`)
	echo := []byte("\x02\x88\x04\x82call\x02\x81\x01\x81\x04\x82echo\x03\x88\t\x82arguments\x01\x81\x04\x88\x07\x82unicode\x02\x82hi\x04\x89\x03\x89\x02\x89")
	decref := wire(t, `05 88 04 82 "call" 03 81 00 81 06 82 "decref"
		06 88 09 82 "arguments" 00 81 04 82 "clid" 01 81 05 82 "count" 01 81 06 89 05 89`)

	wantGRBN := &Call{ReqID: 1, Target: 0, Method: "getReferenceByName",
		Args: []any{}, Kwargs: []KV{{Key: "name", Value: []byte("swiss-go-echo")}}}
	wantEcho := &Call{ReqID: 2, Target: 1, Method: "echo", Args: []any{"hi"}}
	wantDecref := NewDecref(3, 1, 1)
	wantDecref.Args = []any{}

	stream := append(append(append([]byte{}, grbn...), echo...), decref...)
	for name, decode := range map[string]func(testing.TB, Config, []byte) ([]Event, error){
		"whole": decodeAll, "bytewise": decodeBytewise,
	} {
		evs, err := decode(t, Config{}, stream)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(evs) != 3 {
			t.Fatalf("%s: want 3 events, got %+v", name, evs)
		}
		mustEqual(t, name+" getReferenceByName", evs[0].Msg, wantGRBN)
		mustEqual(t, name+" echo", evs[1].Msg, wantEcho)
		mustEqual(t, name+" decref", evs[2].Msg, wantDecref)
	}

	var enc Encoder
	var out []byte
	var err error
	for _, c := range []*Call{wantGRBN, wantEcho, NewDecref(3, 1, 1)} {
		if out, err = enc.AppendCall(out, c); err != nil {
			t.Fatal(err)
		}
	}
	mustBytes(t, "re-encoded Python calls", out, stream)
	if enc.Opens() != 7 {
		t.Fatalf("Opens = %d, want 7", enc.Opens())
	}
}

// The Go server's answers in §12.6, byte for byte.
func TestGoServerAnswersExactBytes(t *testing.T) {
	var enc Encoder
	got, err := enc.AppendAnswer(nil, 1, MyReference{CLID: 1, FURL: goServerFURL})
	if err != nil {
		t.Fatal(err)
	}
	want := []byte("\x00\x88\x06\x82answer\x01\x81\x01\x88\x0c\x82my-reference\x01\x81\x00\x82C\x82" + goServerFURL + "\x01\x89\x00\x89")
	mustBytes(t, "my-reference answer", got, want)
	mustEqual(t, "decoded my-reference answer", oneMessage(t, Config{}, got),
		&Answer{ReqID: 1, Value: MyReference{CLID: 1, FURL: goServerFURL}})

	got, err = enc.AppendAnswer(nil, 2, "hi")
	if err != nil {
		t.Fatal(err)
	}
	mustBytes(t, "echo answer", got, []byte("\x02\x88\x06\x82answer\x02\x81\x03\x88\x07\x82unicode\x02\x82hi\x03\x89\x02\x89"))

	got, err = enc.AppendAnswer(nil, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustBytes(t, "decref answer", got, wire(t, `04 88 06 82 "answer" 03 81 05 88 04 82 "none" 05 89 04 89`))
}

// What a Python server sent a Go client in §12.7.
func TestPythonServerReplies(t *testing.T) {
	const pyFURL = "pb://pcx5blrky5nuephai4l2n5cr5swlghbh@127.0.0.1:45073/echo"
	t.Run("my-reference with furl", func(t *testing.T) {
		in := wire(t, `00 88 06 82 "answer" 01 81 01 88 0C 82 "my-reference" 01 81 00 82 3A 82 "`+pyFURL+`" 01 89 00 89`)
		mustEqual(t, "answer", oneMessage(t, Config{}, in), &Answer{ReqID: 1, Value: MyReference{CLID: 1, FURL: pyFURL}})
	})
	t.Run("repeated my-reference is just the clid", func(t *testing.T) {
		in := wire(t, `00 88 06 82 "answer" 05 81 01 88 0C 82 "my-reference" 01 81 01 89 00 89`)
		mustEqual(t, "answer", oneMessage(t, Config{}, in), &Answer{ReqID: 5, Value: MyReference{CLID: 1}})
	})
	t.Run("Failure", func(t *testing.T) {
		in := wire(t, `00 88 05 82 "error" 03 81
			01 88 08 82 "copyable" 1E 82 "twisted.python.failure.Failure"
			05 82 "value" 04 82 "boom" 04 82 "type" 13 82 "builtins.ValueError"
			09 82 "traceback" 0A 82 "Traceback:"
			07 82 "parents" 02 88 04 82 "list" 13 82 "builtins.ValueError" 12 82 "builtins.Exception"
			  16 82 "builtins.BaseException" 0F 82 "builtins.object" 02 89
			01 89 00 89`)
		mustEqual(t, "error", oneMessage(t, Config{}, in), &ErrorMsg{ReqID: 3, Failure: Failure{
			Type: "builtins.ValueError", Value: "boom", Traceback: "Traceback:",
			Parents: []string{"builtins.ValueError", "builtins.Exception", "builtins.BaseException", "builtins.object"},
		}})
	})
	t.Run("scalars", func(t *testing.T) {
		cases := []struct {
			name string
			body string
			want any
		}{
			{"2^40 as LONGINT", `06 85 01 00 00 00 00 00`, int64(1) << 40},
			{"-2 as NEG", `02 83`, int64(-2)},
			{"1.5", `84 3F F8 00 00 00 00 00 00`, 1.5},
			{"True", `01 88 07 82 "boolean" 01 81 01 89`, true},
			{"False", `01 88 07 82 "boolean" 00 81 01 89`, false},
		}
		for _, c := range cases {
			in := wire(t, `00 88 06 82 "answer" 02 81 `+c.body+` 00 89`)
			mustEqual(t, c.name, oneMessage(t, Config{}, in), &Answer{ReqID: 2, Value: c.want})
			var enc Encoder
			out, err := enc.AppendAnswer(nil, 2, c.want)
			if err != nil {
				t.Fatal(err)
			}
			mustBytes(t, c.name+" encoded", out, in)
		}
	})
	t.Run("back-reference to an earlier list", func(t *testing.T) {
		// [l, l]: the second element is (reference 30), 30 being the OPEN
		// number the first l got; earlier messages used OPENs 0..27, the
		// answer is 28, the outer list 29.
		var enc Encoder
		var stream []byte
		var err error
		for i := range 14 {
			if stream, err = enc.AppendAnswer(stream, int64(i+1), nil); err != nil {
				t.Fatal(err)
			}
		}
		if enc.Opens() != 28 {
			t.Fatalf("Opens = %d, want 28", enc.Opens())
		}
		l := List{int64(1), "x"}
		msg, err := enc.AppendAnswer(nil, 15, List{l, Reference(30)})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(msg, wire(t, `20 88 09 82 "reference" 1E 81 20 89`)) {
			t.Fatalf("no (reference 30) in %q", msg)
		}
		evs, err := decodeAll(t, Config{}, append(stream, msg...))
		if err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "resolved", evs[len(evs)-1].Msg, &Answer{ReqID: 15, Value: List{l, l}})
	})
}

func TestPingPongVerified(t *testing.T) {
	cases := []struct {
		n          uint64
		ping, pong string
	}{
		{7, `07 8E`, `07 8F`},
		{300, `2C 02 8E`, `2C 02 8F`},
		{0, `8E`, `8F`},
	}
	for _, c := range cases {
		mustBytes(t, "ping", AppendPing(nil, c.n), wire(t, c.ping))
		mustBytes(t, "pong", AppendPong(nil, c.n), wire(t, c.pong))
		evs, err := decodeAll(t, Config{}, wire(t, c.ping+" "+c.pong))
		if err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "events", evs, []Event{{Kind: EventPing, N: c.n}, {Kind: EventPong, N: c.n}})
	}
}

func TestErrorTokensVerified(t *testing.T) {
	for _, msg := range []string{
		"Our hash for vocab-table-index 1 (bb33) does not match your hash (ffff)",
		"BananaError(in <RootUnslicer>): ('top-level must be OPEN',)",
	} {
		enc := EncodeError(nil, msg)
		if len(msg) == 71 {
			mustBytes(t, "hash error", enc, []byte("G\x8d"+msg))
		} else {
			mustBytes(t, "top-level error", enc, []byte(";\x8d"+msg))
		}
		evs, err := decodeAll(t, Config{}, enc)
		if err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "events", evs, []Event{{Kind: EventError, Text: msg}})
	}
}

func TestVocabHashes(t *testing.T) {
	for idx, want := range map[int]string{0: "da39", 1: "bb33"} {
		got, ok := VocabHash(idx)
		if !ok || got != want {
			t.Fatalf("VocabHash(%d) = %q %v, want %q", idx, got, ok, want)
		}
	}
	if _, ok := VocabHash(2); ok {
		t.Fatal("VocabHash(2) claims to know table 2")
	}
	if _, err := NewDecoder(Config{VocabTable: 2}); err == nil {
		t.Fatal("NewDecoder accepted vocab table 2")
	}
}

// With table 1 Python sends opentypes as VOCAB: 0d=answer, 0f=my-reference,
// 08=unicode, 0e=error, 12=copyable.
func TestVocabTable1Opentypes(t *testing.T) {
	in := wire(t, `00 88 0D 87 01 81 01 88 0F 87 01 81 00 82 04 82 "furl" 01 89 00 89
		02 88 0D 87 02 81 03 88 08 87 02 82 "hi" 03 89 02 89
		04 88 0E 87 03 81 05 88 12 87 1E 82 "twisted.python.failure.Failure" 04 82 "type" 01 82 "T" 05 89 04 89
		06 88 06 82 "answer" 04 81 07 88 07 82 "unicode" 02 82 "ok" 07 89 06 89`)
	evs, err := decodeAll(t, Config{VocabTable: 1}, in)
	if err != nil {
		t.Fatal(err)
	}
	var got []any
	for _, ev := range evs {
		got = append(got, ev.Msg)
	}
	mustEqual(t, "messages", got, []any{
		&Answer{ReqID: 1, Value: MyReference{CLID: 1, FURL: "furl"}},
		&Answer{ReqID: 2, Value: "hi"},
		&ErrorMsg{ReqID: 3, Failure: Failure{Type: "T"}},
		&Answer{ReqID: 4, Value: "ok"}, // STRING opentypes stay legal under table 1
	})

	// table 0 knows no words
	_, err = decodeAll(t, Config{}, wire(t, `00 88 0D 87`))
	wantProtocolError(t, err, "unknown VOCAB index 13")
}

func TestLongIntegersBeyondInt64(t *testing.T) {
	huge, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	neg := new(big.Int).Neg(huge)
	for _, v := range []*big.Int{huge, neg} {
		var enc Encoder
		out, err := enc.AppendAnswer(nil, 1, v)
		if err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "big", oneMessage(t, Config{}, out), &Answer{ReqID: 1, Value: v})
	}
}

// Foolscap never sends INT/NEG outside [-2^31, 2^31), but its decoder takes
// any header, so ours does too.
func TestHugeIntHeaders(t *testing.T) {
	zeros := func(n int) string { return strings.Repeat("00 ", n) }
	two63 := new(big.Int).Lsh(big.NewInt(1), 63)
	two70 := new(big.Int).Lsh(big.NewInt(1), 70)
	cases := []struct {
		body string
		want any
	}{
		{zeros(9) + "01 81", two63},
		{zeros(9) + "01 83", int64(math.MinInt64)},
		{zeros(10) + "01 81", two70},
		{zeros(10) + "01 83", new(big.Int).Neg(two70)},
	}
	for _, c := range cases {
		in := wire(t, `00 88 06 82 "answer" 01 81 `+c.body+` 00 89`)
		mustEqual(t, c.body, oneMessage(t, Config{}, in), &Answer{ReqID: 1, Value: c.want})
	}
}
