package banana

import (
	"bufio"
	"bytes"
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
)

func wantProtocolError(t *testing.T, err error, substr string) {
	t.Helper()
	var pe *ProtocolError
	if !errors.As(err, &pe) {
		t.Fatalf("want *ProtocolError containing %q, got %v", substr, err)
	}
	if !strings.Contains(pe.Msg, substr) {
		t.Fatalf("want error containing %q, got %q", substr, pe.Msg)
	}
}

func encodeAnswer(t testing.TB, enc *Encoder, reqID int64, v any) []byte {
	t.Helper()
	out, err := enc.AppendAnswer(nil, reqID, v)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRoundTripValues(t *testing.T) {
	big1 := new(big.Int).Lsh(big.NewInt(1), 100)
	values := []struct {
		in, want any // want nil-able: when in differs from its decoded form
	}{
		{nil, nil},
		{true, true},
		{false, false},
		{int64(0), int64(0)},
		{int64(1<<31 - 1), int64(1<<31 - 1)},
		{int64(1 << 31), int64(1 << 31)},
		{int64(-1 << 31), int64(-1 << 31)},
		{int64(-1<<31 - 1), int64(-1<<31 - 1)},
		{int64(math.MaxInt64), int64(math.MaxInt64)},
		{int64(math.MinInt64), int64(math.MinInt64)},
		{uint64(math.MaxUint64), new(big.Int).SetUint64(math.MaxUint64)},
		{int(-7), int64(-7)},
		{uint8(200), int64(200)},
		{big.NewInt(5), int64(5)},
		{big1, big1},
		{2.25, 2.25},
		{float32(0.5), 0.5},
		{math.Inf(-1), math.Inf(-1)},
		{"", ""},
		{"héllo ☃", "héllo ☃"},
		{[]byte{}, []byte{}},
		{[]byte{0, 0x80, 0xff}, []byte{0, 0x80, 0xff}},
		{List{}, List{}},
		{[]any{int64(1)}, List{int64(1)}},
		{List{int64(1), "two", []byte("3"), List{nil}}, List{int64(1), "two", []byte("3"), List{nil}}},
		{Tuple{int64(1), 2.5}, Tuple{int64(1), 2.5}},
		{Set{"a", "b"}, Set{"a", "b"}},
		{Dict{{Key: "k", Value: int64(1)}, {Key: Tuple{int64(1)}, Value: List{}}, {Key: []byte("b"), Value: nil}},
			Dict{{Key: "k", Value: int64(1)}, {Key: Tuple{int64(1)}, Value: List{}}, {Key: []byte("b"), Value: nil}}},
		{Copyable{Class: "my.Point", State: []KV{{Key: "x", Value: int64(1)}, {Key: "y", Value: int64(-2)}}},
			Copyable{Class: "my.Point", State: []KV{{Key: "x", Value: int64(1)}, {Key: "y", Value: int64(-2)}}}},
		{&Copyable{Class: "my.Empty"}, Copyable{Class: "my.Empty", State: []KV{}}},
		{MyReference{CLID: -3}, MyReference{CLID: -3}},
		{MyReference{CLID: 4, Interface: "RIEcho"}, MyReference{CLID: 4, Interface: "RIEcho"}},
		{MyReference{CLID: 4, Interface: "RIEcho", FURL: "pb://x@h:1/s"}, MyReference{CLID: 4, Interface: "RIEcho", FURL: "pb://x@h:1/s"}},
		{YourReference{CLID: 9}, YourReference{CLID: 9}},
		{TheirReference{GiftID: 2, FURL: "pb://y@h:2/t"}, TheirReference{GiftID: 2, FURL: "pb://y@h:2/t"}},
		{Failure{Type: "T", Value: "V", Traceback: "TB", Parents: []string{"T", "object"}},
			Copyable{Class: FailureClass, State: []KV{
				{Key: "value", Value: []byte("V")}, {Key: "type", Value: []byte("T")},
				{Key: "traceback", Value: []byte("TB")},
				{Key: "parents", Value: List{[]byte("T"), []byte("object")}}}}},
	}
	var enc Encoder
	d := newDecoder(t, Config{})
	for i, v := range values {
		out := encodeAnswer(t, &enc, int64(i+1), v.in)
		d.Feed(out)
		evs, err := drain(d)
		if err != nil {
			t.Fatalf("value %d (%#v): %v", i, v.in, err)
		}
		if len(evs) != 1 {
			t.Fatalf("value %d: events %+v", i, evs)
		}
		mustEqual(t, "round trip", evs[0].Msg, &Answer{ReqID: int64(i + 1), Value: v.want})
	}
}

func TestRoundTripMessages(t *testing.T) {
	var enc Encoder
	call := &Call{ReqID: 9, Target: -4, Method: "m", Args: []any{int64(1), "a"},
		Kwargs: []KV{{Key: "z", Value: List{}}, {Key: "a", Value: true}}}
	fail := &Failure{Type: "builtins.AttributeError", Value: "no such method", Traceback: "Traceback unavailable\n",
		Parents: []string{"builtins.AttributeError", "builtins.Exception"}}
	var stream []byte
	stream, err := enc.AppendCall(stream, call)
	if err != nil {
		t.Fatal(err)
	}
	if stream, err = enc.AppendError(stream, 9, fail); err != nil {
		t.Fatal(err)
	}
	if stream, err = enc.AppendCall(stream, &Call{Method: "notify"}); err != nil {
		t.Fatal(err)
	}
	evs, err := decodeBytewise(t, Config{}, stream)
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "messages", []any{evs[0].Msg, evs[1].Msg, evs[2].Msg}, []any{
		call, &ErrorMsg{ReqID: 9, Failure: *fail}, &Call{Method: "notify", Args: []any{}},
	})
}

func TestFailureFieldsCutToFoolscapLimits(t *testing.T) {
	var enc Encoder
	long := strings.Repeat("x", 5000)
	out, err := enc.AppendError(nil, 1, &Failure{Type: long, Value: long, Traceback: long, Parents: []string{long}})
	if err != nil {
		t.Fatal(err)
	}
	msg := oneMessage(t, Config{}, out).(*ErrorMsg)
	f := msg.Failure
	if len(f.Type) != 200 || len(f.Value) != 1000 || len(f.Traceback) != 2000 || len(f.Parents[0]) != 200 {
		t.Fatalf("lengths %d %d %d %d", len(f.Type), len(f.Value), len(f.Traceback), len(f.Parents[0]))
	}
}

func TestEncoderRollsBackOnError(t *testing.T) {
	var enc Encoder
	prefix := []byte("keep")
	out, err := enc.AppendAnswer(prefix, 1, List{int64(1), struct{}{}})
	if err == nil {
		t.Fatal("encoded an unsupported type")
	}
	mustBytes(t, "dst after failed encode", out, prefix)
	if enc.Opens() != 0 {
		t.Fatalf("Opens = %d after a failed encode", enc.Opens())
	}
	// distinct lists nested past the encoder's depth limit
	var deep any = int64(1)
	for range maxEncodeDepth + 1 {
		deep = List{deep}
	}
	if _, err := enc.AppendCall(nil, &Call{ReqID: 1, Method: "m", Args: []any{deep}}); err == nil {
		t.Fatal("encoded a value nested too deeply")
	}
	for _, bad := range []any{YourReference{CLID: -1}, TheirReference{GiftID: -1}, Reference(-1), (*big.Int)(nil),
		(*Copyable)(nil), (*Failure)(nil)} {
		if _, err := enc.AppendAnswer(nil, 1, bad); err == nil {
			t.Fatalf("encoded %#v", bad)
		}
	}
	if _, err := enc.AppendCall(nil, &Call{ReqID: -1}); err == nil {
		t.Fatal("encoded a negative reqID")
	}
	if enc.Opens() != 0 {
		t.Fatalf("Opens = %d after failed encodes", enc.Opens())
	}
}

func TestEncodeErrorTruncates(t *testing.T) {
	out := EncodeError(nil, strings.Repeat("e", 3000))
	evs, err := decodeAll(t, Config{}, out)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || len(evs[0].Text) != 993 || !strings.HasSuffix(evs[0].Text, "...") {
		t.Fatalf("got %d events, text length %d", len(evs), len(evs[0].Text))
	}
}

func TestPingInsideOpenSequence(t *testing.T) {
	in := wire(t, `00 88 8E 06 82 "answer" 07 8E 01 81 01 88 2C 02 8F 04 82 "list" 8E 01 81 03 8F 01 89 00 89`)
	for name, decode := range map[string]func(testing.TB, Config, []byte) ([]Event, error){
		"whole": decodeAll, "bytewise": decodeBytewise,
	} {
		evs, err := decode(t, Config{}, in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		mustEqual(t, name, evs, []Event{
			{Kind: EventPing, N: 0}, {Kind: EventPing, N: 7}, {Kind: EventPong, N: 300},
			{Kind: EventPing, N: 0}, {Kind: EventPong, N: 3},
			{Kind: EventMessage, Msg: &Answer{ReqID: 1, Value: List{int64(1)}}, Cost: openCost + 2*valueCost},
		})
	}
}

func TestCycleYieldsReferencePlaceholder(t *testing.T) {
	// l = [1]; l.append(l): the inner reference points at the open list.
	in := wire(t, `00 88 06 82 "answer" 01 81 01 88 04 82 "list" 01 81 02 88 09 82 "reference" 01 81 02 89 01 89 00 89`)
	mustEqual(t, "cycle", oneMessage(t, Config{}, in), &Answer{ReqID: 1, Value: List{int64(1), Reference(1)}})
	// unknown numbers resolve to None, as Foolscap's lookup does
	in = wire(t, `00 88 06 82 "answer" 01 81 01 88 09 82 "reference" 63 81 01 89 00 89`)
	mustEqual(t, "unknown", oneMessage(t, Config{}, in), &Answer{ReqID: 1, Value: nil})
}

func TestReferencesAreScopedToOneMessage(t *testing.T) {
	var enc Encoder
	first := encodeAnswer(t, &enc, 1, List{int64(1)}) // the list is OPEN 1
	second := encodeAnswer(t, &enc, 2, Reference(1))
	evs, err := decodeAll(t, Config{}, append(first, second...))
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "second", evs[1].Msg, &Answer{ReqID: 2, Value: nil})
}

func TestUnknownTopLevelOpentypeSkippedQuietly(t *testing.T) {
	var enc Encoder
	in := wire(t, `00 88 04 82 "list" 01 81 01 88 07 82 "unicode" 01 82 "x" 01 89 00 89`)
	enc.nextOpen = 2 // the skipped message used OPENs 0 and 1
	in = append(in, encodeAnswer(t, &enc, 1, "after")...)
	evs, err := decodeAll(t, Config{}, in)
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "events", evs, []Event{{Kind: EventMessage, Msg: &Answer{ReqID: 1, Value: "after"}, Cost: openCost + 2*valueCost + 5}})
}

func TestViolationsDropOneMessage(t *testing.T) {
	cases := []struct {
		name, in string
		want     Event
	}{
		{"unknown nested opentype",
			`00 88 04 82 "call" 07 81 01 81 01 82 "m" 01 88 09 82 "arguments" 01 81 02 88 08 82 "instance" 01 81 02 89 01 89 00 89`,
			Event{Kind: EventDropped, Text: `unknown OPEN type "instance"`, Opentype: "call", ReqID: 7}},
		{"arguments outside a call",
			`00 88 06 82 "answer" 04 81 01 88 09 82 "arguments" 01 89 00 89`,
			Event{Kind: EventDropped, Text: `unknown OPEN type "arguments"`, Opentype: "answer", ReqID: 4}},
		{"ABORT",
			`00 88 06 82 "answer" 03 81 01 88 04 82 "list" 01 81 01 8A 01 89 00 89`,
			Event{Kind: EventDropped, Text: "ABORT received", Opentype: "answer", ReqID: 3}},
		{"second ABORT while dropping",
			`00 88 06 82 "answer" 03 81 01 88 04 82 "list" 01 8A 02 88 01 8A 02 89 01 89 00 89`,
			Event{Kind: EventDropped, Text: "ABORT received", Opentype: "answer", ReqID: 3}},
		{"bad UTF-8",
			`00 88 06 82 "answer" 02 81 01 88 07 82 "unicode" 01 82 FF 01 89 00 89`,
			Event{Kind: EventDropped, Text: "unicode string is not valid UTF-8", Opentype: "answer", ReqID: 2}},
		{"error without a Failure",
			`00 88 05 82 "error" 05 81 01 88 04 82 "list" 01 89 00 89`,
			Event{Kind: EventDropped, Text: "error body is not a Failure", Opentype: "error", ReqID: 5}},
		{"malformed Failure",
			`00 88 05 82 "error" 05 81 01 88 08 82 "copyable" 1E 82 "twisted.python.failure.Failure" 04 82 "type" 01 81 01 89 00 89`,
			Event{Kind: EventDropped, Text: "malformed Failure", Opentype: "error", ReqID: 5}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// a good message follows; the decoder must stay in sync
			tail := wire(t, `08 88 06 82 "answer" 09 81 01 81 08 89`)
			evs, err := decodeBytewise(t, Config{}, append(wire(t, c.in), tail...))
			if err != nil {
				t.Fatal(err)
			}
			mustEqual(t, "events", evs, []Event{c.want, {Kind: EventMessage, Msg: &Answer{ReqID: 9, Value: int64(1)}, Cost: valueCost}})
		})
	}
}

func TestMalformedInputIsAProtocolError(t *testing.T) {
	answer := func(body string) string { return `00 88 06 82 "answer" 01 81 ` + body + ` 00 89` }
	cases := []struct {
		name, in, err string
		cfg           Config
	}{
		{"header of 65 bytes", strings.Repeat("01 ", 65) + "81", "header longer than 64 bytes", Config{}},
		{"header of 65 bytes, unfinished", strings.Repeat("01 ", 65), "header longer than 64 bytes", Config{}},
		{"old LIST token", `00 80`, "LIST", Config{}},
		{"invalid type byte", `00 8B`, "invalid type byte 0x8b", Config{}},
		{"oversized ERROR", `69 07 8D`, "oversized ERROR token", Config{}},
		{"oversized LONGINT outside a message", `69 07 85`, "LONGINT token too long", Config{}},
		{"oversized LONGNEG outside a message", `69 07 86`, "LONGINT token too long", Config{}},
		{"STRING over the limit outside a message", `0B 82 "hello world"`, "STRING token too long (limit 10)", Config{MaxStringLength: 10}},
		{"STRING length overflowing uint64", answer(strings.Repeat("7F ", 12) + "82"), "STRING token too long", Config{}},
		{"nesting too deep", `00 88 06 82 "answer" 01 81` + strings.Repeat(` 01 88 04 82 "list"`, 4), "nested deeper than 4", Config{MaxDepth: 4}},
		{"message too large", answer(`01 88 04 82 "list" 05 82 "hello" 05 82 "hello"`), "message longer than 30 bytes", Config{MaxMessageBytes: 30}},
		{"CLOSE number mismatch", `00 88 06 82 "answer" 01 81 02 81 05 89`, "lost sync", Config{}},
		{"CLOSE at top level", `00 89`, "lost sync", Config{}},
		{"bare INT at top level", `01 81`, "top-level must be OPEN", Config{}},
		{"bare STRING at top level", `01 82 "x"`, "top-level must be OPEN", Config{}},
		{"FLOAT at top level", `84 00 00 00 00 00 00 00 00`, "top-level must be OPEN", Config{}},
		{"ABORT at top level", `00 8A`, "ABORT with no open sequence", Config{}},
		{"OPEN followed by OPEN", `00 88 01 88`, "OPEN token followed by OPEN", Config{}},
		{"INT as opentype", `00 88 01 81`, "index token 0x81 not STRING or VOCAB", Config{}},
		{"CLOSE before opentype", `00 88 00 89`, "closed before its opentype", Config{}},
		{"unknown VOCAB value", answer(`05 87`), "unknown VOCAB index 5", Config{}},
		{"unknown VOCAB in table 1", answer(`19 87`), "unknown VOCAB index 25", Config{VocabTable: 1}},
		{"huge OPEN number", `00 88 06 82 "answer" 01 81 ` + strings.Repeat("7F ", 12) + "88", "OPEN number too large", Config{}},
		{"huge PING number", strings.Repeat("7F ", 12) + "8E", "PING/PONG number too large", Config{}},
		{"call reqID not INT", `00 88 04 82 "call" 01 82 "x"`, "call request ID must be an INT", Config{}},
		{"call negative reqID", `00 88 04 82 "call" 01 83`, "call request ID must be an INT", Config{}},
		{"call target not INT", `00 88 04 82 "call" 01 81 84 00 00 00 00 00 00 00 00`, "call target must be an INT or NEG", Config{}},
		{"call method not STRING", `00 88 04 82 "call" 01 81 00 81 01 81`, "call method name must be a STRING", Config{}},
		{"call without arguments", `00 88 04 82 "call" 01 81 00 81 01 82 "m" 00 89`, "call ended too early", Config{}},
		{"call with extra INT", `00 88 04 82 "call" 01 81 00 81 01 82 "m" 05 81`, "call needs an arguments sequence", Config{}},
		{"call with nested value early", `00 88 04 82 "call" 01 81 01 88`, "call takes only INT, INT, STRING", Config{}},
		{"arguments count not INT", `00 88 04 82 "call" 01 81 00 81 01 82 "m" 01 88 09 82 "arguments" 01 82 "x"`, "argument count must be an INT", Config{}},
		{"arguments short", `00 88 04 82 "call" 01 81 00 81 01 82 "m" 01 88 09 82 "arguments" 02 81 01 81 01 89`, "arguments ended too early", Config{}},
		{"kwarg name not STRING", `00 88 04 82 "call" 01 81 00 81 01 82 "m" 01 88 09 82 "arguments" 00 81 01 81`, "keyword argument names must be STRINGs", Config{}},
		{"kwarg name is a sequence", `00 88 04 82 "call" 01 81 00 81 01 82 "m" 01 88 09 82 "arguments" 00 81 02 88`, "arguments need a count", Config{}},
		{"kwarg without value", `00 88 04 82 "call" 01 81 00 81 01 82 "m" 01 88 09 82 "arguments" 00 81 01 82 "k" 01 89`, "arguments ended too early", Config{}},
		{"answer without value", `00 88 06 82 "answer" 01 81 00 89`, "answer takes a request ID and one value", Config{}},
		{"answer with two values", answer(`01 81 01 81`), "answer takes one value", Config{}},
		{"answer reqID is a sequence", `00 88 06 82 "answer" 01 88`, "answer request ID must be an INT", Config{}},
		{"none with contents", answer(`01 88 04 82 "none" 01 81 01 89`), "none takes no contents", Config{}},
		{"boolean with STRING", answer(`01 88 07 82 "boolean" 01 82 "x" 01 89`), "boolean takes one INT", Config{}},
		{"boolean empty", answer(`01 88 07 82 "boolean" 01 89`), "boolean takes one INT", Config{}},
		{"unicode with INT", answer(`01 88 07 82 "unicode" 01 81 01 89`), "unicode takes one STRING", Config{}},
		{"unicode empty", answer(`01 88 07 82 "unicode" 01 89`), "unicode takes one STRING", Config{}},
		{"unicode with sub-object", answer(`01 88 07 82 "unicode" 02 88`), "unicode does not accept sub-objects", Config{}},
		{"dict odd", answer(`01 88 04 82 "dict" 01 81 01 89`), "dict has a key without a value", Config{}},
		{"copyable key not STRING", answer(`01 88 08 82 "copyable" 01 82 "C" 01 81`), "copyable attribute names must be STRINGs", Config{}},
		{"copyable key sequence", answer(`01 88 08 82 "copyable" 01 82 "C" 02 88`), "copyable attribute names must be STRINGs", Config{}},
		{"copyable odd", answer(`01 88 08 82 "copyable" 01 82 "C" 01 82 "k" 01 89`), "copyable has an attribute without a value", Config{}},
		{"copyable no class", answer(`01 88 08 82 "copyable" 01 89`), "closed before its opentype", Config{}},
		{"reference not INT", answer(`01 88 09 82 "reference" 01 82 "x" 01 89`), "reference takes one INT", Config{}},
		{"reference empty", answer(`01 88 09 82 "reference" 01 89`), "reference takes one INT", Config{}},
		{"my-reference empty", answer(`01 88 0C 82 "my-reference" 01 89`), "my-reference ended too early", Config{}},
		{"my-reference clid STRING", answer(`01 88 0C 82 "my-reference" 01 82 "x"`), "my-reference ID must be an INT", Config{}},
		{"my-reference iname INT", answer(`01 88 0C 82 "my-reference" 01 81 01 81`), "my-reference parameters must be STRINGs", Config{}},
		{"my-reference too many", answer(`01 88 0C 82 "my-reference" 01 81 00 82 00 82 00 82`), "too many my-reference parameters", Config{}},
		{"your-reference negative", answer(`01 88 0E 82 "your-reference" 01 83`), "your-reference takes one INT", Config{}},
		{"your-reference empty", answer(`01 88 0E 82 "your-reference" 01 89`), "your-reference ended too early", Config{}},
		{"their-reference short", answer(`01 88 0F 82 "their-reference" 01 81 01 89`), "their-reference ended too early", Config{}},
		{"their-reference url INT", answer(`01 88 0F 82 "their-reference" 01 81 01 81`), "their-reference URL must be a STRING", Config{}},
		{"their-reference gift STRING", answer(`01 88 0F 82 "their-reference" 00 82`), "their-reference giftID must be an INT", Config{}},
		{"their-reference too many", answer(`01 88 0F 82 "their-reference" 01 81 00 82 00 82`), "too many their-reference parameters", Config{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, decode := range []func(testing.TB, Config, []byte) ([]Event, error){decodeAll, decodeBytewise} {
				evs, err := decode(t, c.cfg, wire(t, c.in))
				for _, ev := range evs {
					if ev.Kind == EventMessage {
						t.Fatalf("delivered a message before failing: %+v", ev)
					}
				}
				wantProtocolError(t, err, c.err)
			}
		})
	}
}

func TestErrorTexts(t *testing.T) {
	if got := (&ProtocolError{Msg: "lost sync"}).Error(); got != "banana: lost sync" {
		t.Fatalf("ProtocolError text %q", got)
	}
	if got := (&LateNegotiationError{Message: "Duplicate connection"}).Error(); !strings.Contains(got, "Duplicate connection") {
		t.Fatalf("LateNegotiationError text %q", got)
	}
}

func TestErrorsAreSticky(t *testing.T) {
	d := newDecoder(t, Config{})
	d.Feed(wire(t, `01 81`))
	_, _, err1 := d.Next()
	d.Feed(AppendPing(nil, 1))
	_, ok, err2 := d.Next()
	if err1 == nil || err2 != err1 || ok {
		t.Fatalf("err1=%v err2=%v ok=%v", err1, err2, ok)
	}
}

func TestLateNegotiationErrorBlock(t *testing.T) {
	block := "banana-decision-version: 1\r\nerror: Duplicate connection\r\n\r\n"
	second := "banana-decision-version: 1\r\nerror: No valid banana-negotiation sequence seen\r\n\r\n"
	for _, decode := range []func(testing.TB, Config, []byte) ([]Event, error){decodeAll, decodeBytewise} {
		evs, err := decode(t, Config{}, []byte(block+second))
		var ne *LateNegotiationError
		if len(evs) != 0 || !errors.As(err, &ne) {
			t.Fatalf("events %+v, err %v", evs, err)
		}
		if ne.Message != "Duplicate connection" {
			t.Fatalf("message %q", ne.Message)
		}
		var pe *ProtocolError
		if errors.As(err, &pe) {
			t.Fatal("a negotiation block is not our protocol error to report back")
		}
	}

	// a block with no error line, and one that never ends
	_, err := decodeAll(t, Config{}, []byte("banana-decision-version: 3\r\ncurrent-connection: x 1\r\n\r\n"))
	var ne *LateNegotiationError
	if !errors.As(err, &ne) || ne.Message != "" || !strings.Contains(ne.Block, "current-connection") {
		t.Fatalf("got %v", err)
	}
	endless := "banana-decision-version: 1\r\n" + strings.Repeat("x", 5000)
	evs, err := decodeAll(t, Config{}, []byte(endless[:4000]))
	if err != nil || len(evs) != 0 {
		t.Fatalf("partial block: %v %v", evs, err)
	}
	if _, err = decodeAll(t, Config{}, []byte(endless)); !errors.As(err, &ne) {
		t.Fatalf("endless block: %v", err)
	}

	// only the very start of the stream is checked
	var enc Encoder
	stream := append(encodeAnswer(t, &enc, 1, nil), block+second...)
	_, err = decodeAll(t, Config{}, stream)
	wantProtocolError(t, err, "header longer than 64 bytes")
}

func TestFillFromBufferedReader(t *testing.T) {
	var enc Encoder
	var stream []byte
	want := make([]any, 0, 50)
	for i := range 50 {
		v := strings.Repeat("s", i*300)
		stream = append(stream, encodeAnswer(t, &enc, int64(i+1), v)...)
		stream = AppendPing(stream, uint64(i))
		want = append(want, &Answer{ReqID: int64(i + 1), Value: v}, uint64(i))
	}
	r := bufio.NewReaderSize(bytes.NewReader(stream), 64)
	d := newDecoder(t, Config{})
	var got []any
	for {
		_, err := d.Fill(r)
		evs, derr := drain(d)
		if derr != nil {
			t.Fatal(derr)
		}
		for _, ev := range evs {
			if ev.Kind == EventPing {
				got = append(got, ev.N)
			} else {
				got = append(got, ev.Msg)
			}
		}
		if err != nil {
			break
		}
	}
	mustEqual(t, "events", got, want)
	if d.Buffered() != 0 {
		t.Fatalf("%d bytes left", d.Buffered())
	}
}

func TestEventKindString(t *testing.T) {
	for k, want := range map[EventKind]string{EventMessage: "message", EventPing: "ping", EventPong: "pong",
		EventError: "error", EventDropped: "dropped", 0: "EventKind(0)"} {
		if k.String() != want {
			t.Fatalf("%d: %q", k, k.String())
		}
	}
}
