package banana

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// allocatedBytes reports the fewest heap bytes run allocated over some
// tries (other goroutines only ever add), each prepared afresh by setup
// outside the measurement.
func allocatedBytes(tries int, setup func() (run func())) uint64 {
	best := ^uint64(0)
	for range tries {
		run := setup()
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		run()
		runtime.ReadMemStats(&after)
		best = min(best, after.TotalAlloc-before.TotalAlloc)
	}
	return best
}

// liveHeap reports the bytes in use after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestValueCostMatchesAllocation holds the cost model to what decoding
// allocates (garbage from growing slices included), shape by shape: within
// a factor of two either way.
func TestValueCostMatchesAllocation(t *testing.T) {
	const n = 3 << 12 // not a power of two, so slices end part full as they usually do
	shapes := []struct {
		name string
		item func(w *wireBuilder)
	}{
		{"small INT", func(w *wireBuilder) { w.int(0) }},
		{"large INT", func(w *wireBuilder) { w.int(1 << 20) }},
		{"FLOAT", func(w *wireBuilder) { w.b = appendFloat(w.b, 0.5) }},
		{"bytes", func(w *wireBuilder) { w.b = appendString(w.b, "x") }},
		{"unicode", func(w *wireBuilder) { o := w.open_("unicode"); w.b = appendString(w.b, "x"); w.close(o) }},
		{"none", func(w *wireBuilder) { o := w.open_("none"); w.close(o) }},
		{"empty list", func(w *wireBuilder) { o := w.open_("list"); w.close(o) }},
		{"list of one INT", func(w *wireBuilder) { o := w.open_("list"); w.int(0); w.close(o) }},
		{"dict of one entry", func(w *wireBuilder) { o := w.open_("dict"); w.int(0); w.int(0); w.close(o) }},
		{"back-reference", func(w *wireBuilder) { o := w.open_("reference"); w.int(1); w.close(o) }},
		{"copyable", func(w *wireBuilder) {
			o := w.open_("copyable")
			w.b = appendString(appendString(w.b, "C"), "k")
			w.int(0)
			w.close(o)
		}},
	}
	for _, s := range shapes {
		var w wireBuilder
		top := w.open_("answer")
		w.int(1)
		l := w.open_("list")
		for range n {
			s.item(&w)
		}
		w.close(l)
		w.close(top)
		var cost int64
		alloc := allocatedBytes(3, func() func() {
			d := newDecoder(t, Config{MaxMessageBytes: 1 << 30, MaxMessageCost: 1 << 30})
			d.Feed(w.b)
			return func() {
				ev, ok, err := d.Next()
				if err != nil || !ok || ev.Kind != EventMessage {
					t.Fatalf("%s: %v %v %+v", s.name, err, ok, ev)
				}
				cost = ev.Cost
			}
		})
		perAlloc, perCost := float64(alloc)/n, float64(cost)/n
		t.Logf("%-18s allocated %6.1f B, cost %6.1f B per element", s.name, perAlloc, perCost)
		if perCost > 2*perAlloc || perAlloc > 2*perCost {
			t.Errorf("%s: cost %.1f B per element is not within a factor of two of the %.1f B allocated", s.name, perCost, perAlloc)
		}
	}
}

func TestBudgetReserveRelease(t *testing.T) {
	b := NewBudget(100)
	if !b.Reserve(60) || b.Reserve(41) || !b.Reserve(40) || b.InUse() != 100 {
		t.Fatalf("in use %d", b.InUse())
	}
	b.Release(100)
	if b.InUse() != 0 || b.Limit() != 100 {
		t.Fatalf("in use %d, limit %d", b.InUse(), b.Limit())
	}
	for name, f := range map[string]func(){
		"over-release":     func() { b.Release(1) },
		"negative reserve": func() { b.Reserve(-1) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", name)
				}
			}()
			f()
		}()
	}
}

func TestBudgetNeverExceededConcurrently(t *testing.T) {
	const limit = 1000
	b := NewBudget(limit)
	var wg sync.WaitGroup
	var mu sync.Mutex
	peak := int64(0)
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				n := int64((g*7+i)%300 + 1)
				if b.Reserve(n) {
					mu.Lock()
					peak = max(peak, b.InUse())
					mu.Unlock()
					b.Release(n)
				}
			}
		})
	}
	wg.Wait()
	if peak > limit || b.InUse() != 0 {
		t.Fatalf("peak %d over limit %d, or %d left in use", peak, limit, b.InUse())
	}
}

// bigString is a call whose one argument is a unicode string of n bytes.
func bigStringCall(t testing.TB, enc *Encoder, reqID int64, n int) []byte {
	t.Helper()
	out, err := enc.AppendCall(nil, &Call{ReqID: reqID, Target: 1, Method: "echo", Args: []any{strings.Repeat("x", n)}})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// feedInChunks feeds data in pieces of size, draining events after each,
// and reports the most input the decoder held at once.
func feedInChunks(t testing.TB, d *Decoder, data []byte, size int) (evs []Event, maxBuffered int, err error) {
	t.Helper()
	for off := 0; off < len(data); off += size {
		d.Feed(data[off:min(off+size, len(data))])
		maxBuffered = max(maxBuffered, d.Buffered())
		more, err := drain(d)
		evs = append(evs, more...)
		if err != nil {
			return evs, maxBuffered, err
		}
	}
	return evs, maxBuffered, nil
}

// A STRING over MaxStringLength drops its message, not the connection, and
// its body is counted off as it arrives rather than buffered.
func TestOversizedStringDropsOnlyItsMessage(t *testing.T) {
	var enc Encoder
	huge := bigStringCall(t, &enc, 5, 2<<20)
	next := bigStringCall(t, &enc, 6, 10)
	stream := append(append([]byte{}, huge...), next...)

	var evs []Event
	var maxBuffered int
	alloc := allocatedBytes(3, func() func() {
		d := newDecoder(t, Config{})
		return func() {
			var err error
			if evs, maxBuffered, err = feedInChunks(t, d, stream, 4<<10); err != nil {
				t.Fatal(err)
			}
		}
	})
	if len(evs) != 2 {
		t.Fatalf("events %+v", evs)
	}
	mustEqual(t, "dropped", evs[0], Event{Kind: EventDropped, Text: "STRING token too long (limit 1048576)", Opentype: "call", ReqID: 5})
	mustEqual(t, "next", evs[1].Msg, &Call{ReqID: 6, Target: 1, Method: "echo", Args: []any{"xxxxxxxxxx"}})
	if maxBuffered > 8<<10 || alloc > 256<<10 {
		t.Fatalf("a refused 2 MiB string held %d bytes of input and allocated %d bytes", maxBuffered, alloc)
	}
}

// Foolscap's default constraint refuses a LONGINT of more than SizeLimit
// bytes as a Violation, so the message drops and the stream goes on.
func TestOversizedLongIntDropsOnlyItsMessage(t *testing.T) {
	body := strings.Repeat("01 ", SizeLimit+1)
	in := wire(t, `00 88 06 82 "answer" 03 81 01 88 04 82 "list" 69 07 85 `+body+` 01 89 00 89
		02 88 06 82 "answer" 04 81 05 82 "after" 02 89`)
	for name, decode := range map[string]func(testing.TB, Config, []byte) ([]Event, error){
		"whole": decodeAll, "bytewise": decodeBytewise,
	} {
		evs, err := decode(t, Config{}, in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		mustEqual(t, name, evs, []Event{
			{Kind: EventDropped, Text: "LONGINT token too long (limit 1000)", Opentype: "answer", ReqID: 3},
			{Kind: EventMessage, Msg: &Answer{ReqID: 4, Value: []byte("after")}, Cost: valueCost + 5},
		})
	}
}

func TestMessageCostIsHeldUntilReleased(t *testing.T) {
	budget := NewBudget(1 << 20)
	d := newDecoder(t, Config{Budget: budget})
	var enc Encoder
	d.Feed(encodeAnswer(t, &enc, 1, List{int64(1), "two", []byte("three")}))
	ev, ok, err := d.Next()
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	// list + INT + unicode (its OPEN and STRING) + bytes
	want := int64(valueCost+openCost) + valueCost + (valueCost + openCost + valueCost + 3) + valueCost + 5
	if ev.Cost != want || d.Held() != want || budget.InUse() != want {
		t.Fatalf("cost %d, held %d, tub budget in use %d; want all %d", ev.Cost, d.Held(), budget.InUse(), want)
	}
	d.Release(ev.Cost)
	if d.Held() != 0 || budget.InUse() != 0 {
		t.Fatalf("after release: held %d, tub budget in use %d", d.Held(), budget.InUse())
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("releasing a message twice did not panic")
			}
		}()
		d.Release(ev.Cost)
	}()
}

// A message over MaxMessageCost is dropped as soon as it gets there; the
// rest of it is only skipped, and the next message decodes.
func TestMessageOverCostIsDroppedAndSkipped(t *testing.T) {
	budget := NewBudget(1 << 20)
	var enc Encoder
	big := make(List, 100)
	for i := range big {
		big[i] = strings.Repeat("s", i) // strings of the skipped rest are not buffered either
	}
	out, err := enc.AppendCall(nil, &Call{ReqID: 8, Target: 2, Method: "store", Args: []any{big}})
	if err != nil {
		t.Fatal(err)
	}
	stream := append(out, encodeAnswer(t, &enc, 9, "ok")...)
	evs, err := decodeBytewise(t, Config{MaxMessageCost: 1000, Budget: budget}, stream)
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "events", evs, []Event{
		{Kind: EventDropped, Text: "message would decode to more than 1000 bytes", Opentype: "call", ReqID: 8},
		{Kind: EventMessage, Msg: &Answer{ReqID: 9, Value: "ok"}, Cost: valueCost + openCost + valueCost + 2},
	})
	if budget.InUse() != evs[1].Cost {
		t.Fatalf("tub budget in use %d, want only the delivered message's %d", budget.InUse(), evs[1].Cost)
	}
}

// When the tub-wide budget is spent by other connections' messages, a new
// message is dropped, not the connection; once they are released,
// messages pass again.
func TestTubBudgetExhaustedDropsMessage(t *testing.T) {
	budget := NewBudget(64 << 10)
	holder := newDecoder(t, Config{Budget: budget})
	other := newDecoder(t, Config{Budget: budget})
	var encHolder, encOther Encoder

	holder.Feed(encodeAnswer(t, &encHolder, 1, []byte(strings.Repeat("h", 60<<10))))
	held, ok, err := holder.Next()
	if err != nil || !ok || held.Kind != EventMessage {
		t.Fatal(held, ok, err)
	}
	other.Feed(encodeAnswer(t, &encOther, 2, []byte(strings.Repeat("o", 8<<10))))
	ev, ok, err := other.Next()
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	mustEqual(t, "refused", ev, Event{Kind: EventDropped, Text: "tub-wide decoding budget of 65536 bytes exhausted", Opentype: "answer", ReqID: 2})
	if budget.InUse() != held.Cost {
		t.Fatalf("in use %d, want the held message's %d", budget.InUse(), held.Cost)
	}

	holder.Release(held.Cost)
	other.Feed(encodeAnswer(t, &encOther, 3, []byte(strings.Repeat("o", 8<<10))))
	if ev, ok, err = other.Next(); err != nil || !ok || ev.Kind != EventMessage {
		t.Fatalf("after release: %+v %v %v", ev, ok, err)
	}
	other.Release(ev.Cost)
	if budget.InUse() != 0 {
		t.Fatalf("in use %d after every release", budget.InUse())
	}
}

// Messages delivered and never released count against the connection:
// beyond MaxConnectionCost the decoder fails with a named fatal error.
func TestConnectionCostIsFatal(t *testing.T) {
	cfg := Config{MaxMessageCost: 4 << 10, MaxConnectionCost: 10 << 10}
	var enc Encoder
	msg := func(reqID int64) []byte { return encodeAnswer(t, &enc, reqID, []byte(strings.Repeat("m", 3<<10))) }

	// released as served, any number of messages pass
	d := newDecoder(t, cfg)
	for i := range 20 {
		d.Feed(msg(int64(i + 1)))
		ev, ok, err := d.Next()
		if err != nil || !ok || ev.Kind != EventMessage {
			t.Fatalf("message %d: %+v %v %v", i, ev, ok, err)
		}
		d.Release(ev.Cost)
	}

	// held, the fourth one breaks the connection's limit
	d = newDecoder(t, cfg)
	var err error
	var delivered int
	for i := range 4 {
		d.Feed(msg(int64(i + 1)))
		var evs []Event
		evs, err = drain(d)
		delivered += len(evs)
		if err != nil {
			break
		}
	}
	var be *BudgetError
	if !errors.As(err, &be) || be.Scope != "connection" || be.Limit != 10<<10 || delivered != 3 {
		t.Fatalf("after %d messages: %v", delivered, err)
	}
	if be.Held != d.Held() || be.Held+be.Message <= be.Limit {
		t.Fatalf("error %+v does not add up (held %d)", be, d.Held())
	}
	if !strings.Contains(err.Error(), "connection decoding budget exceeded") {
		t.Fatalf("error text %q", err)
	}
	if _, err := NewDecoder(Config{MaxMessageCost: 2 << 10, MaxConnectionCost: 1 << 10}); err == nil {
		t.Fatal("accepted a connection limit below the message limit")
	}
}

// A connection that ends mid-message gives its reservation back to the
// tub on Close, and so does one that fails.
func TestCloseAndFailureReleaseMessageInProgress(t *testing.T) {
	budget := NewBudget(1 << 20)
	var enc Encoder
	msg := encodeAnswer(t, &enc, 1, List{[]byte(strings.Repeat("p", 1000)), int64(2)})

	d := newDecoder(t, Config{Budget: budget})
	d.Feed(msg[:len(msg)-4])
	if _, ok, err := d.Next(); ok || err != nil || budget.InUse() == 0 {
		t.Fatalf("partial message: ok %v err %v, in use %d", ok, err, budget.InUse())
	}
	d.Close()
	if budget.InUse() != 0 {
		t.Fatalf("in use %d after Close", budget.InUse())
	}
	if _, _, err := d.Next(); err == nil {
		t.Fatal("a closed decoder went on decoding")
	}

	d = newDecoder(t, Config{Budget: budget})
	d.Feed(msg[:len(msg)-4])
	d.Feed(wire(t, `05 89`)) // CLOSE of the wrong sequence
	if _, err := drain(d); err == nil || budget.InUse() != 0 {
		t.Fatalf("err %v, in use %d after a fatal error", err, budget.InUse())
	}
}

// Three peers each sending a 16 MiB list of one-byte INTs at once (the
// attack that took 3.8 GB) are dropped within the default limits; decoding
// allocates a bounded amount and the decoders keep nothing afterwards.
func TestThreeFlatListsDroppedInBoundedMemory(t *testing.T) {
	const listLen = 16 << 20
	inputs := make([][]byte, 3)
	for i := range inputs {
		inputs[i] = flatIntListCall(int64(i+1), 0, listLen)
	}
	budget := NewBudget(DefaultMaxConnectionCost)
	decoders := make([]*Decoder, 3)
	events := make([][]Event, 3)
	base := liveHeap()
	alloc := allocatedBytes(1, func() func() {
		for i := range decoders {
			decoders[i] = newDecoder(t, Config{Budget: budget})
			events[i] = nil
		}
		return func() {
			const chunk = 32 << 10
			for off := 0; off < len(inputs[0]); off += chunk {
				for i, d := range decoders {
					d.Feed(inputs[i][off:min(off+chunk, len(inputs[i]))])
					evs, err := drain(d)
					if err != nil {
						t.Fatalf("decoder %d: %v", i, err)
					}
					events[i] = append(events[i], evs...)
				}
			}
		}
	})
	retained := int64(liveHeap()) - int64(base)
	runtime.KeepAlive(inputs)
	for i, evs := range events {
		mustEqual(t, fmt.Sprint("decoder ", i), evs, []Event{{Kind: EventDropped,
			Text: fmt.Sprintf("message would decode to more than %d bytes", DefaultMaxMessageCost), Opentype: "call", ReqID: int64(i + 1)}})
	}
	t.Logf("three 16 MiB lists: %d MiB allocated, %d KiB kept by the decoders", alloc>>20, retained>>10)
	if alloc > 3*DefaultMaxMessageCost || retained > 1<<20 || budget.InUse() != 0 {
		t.Fatalf("allocated %d bytes, kept %d bytes, %d of the tub budget in use", alloc, retained, budget.InUse())
	}

	// the connections are still good
	for i, d := range decoders {
		var enc Encoder
		enc.nextOpen = 3
		d.Feed(encodeAnswer(t, &enc, 10, int64(1)))
		if ev, ok, err := d.Next(); err != nil || !ok || ev.Kind != EventMessage {
			t.Fatalf("decoder %d after the drop: %+v %v %v", i, ev, ok, err)
		}
	}
	runtime.KeepAlive(decoders)
}

// After a large message an idle decoder gives back its input buffer and
// scratch.
func TestIdleDecoderGivesBackLargeBuffers(t *testing.T) {
	var enc Encoder
	big := make(List, 50000)
	for i := range big {
		big[i] = int64(i)
	}
	msg := encodeAnswer(t, &enc, 1, List{big, []byte(strings.Repeat("b", 900<<10))})
	d := newDecoder(t, Config{})
	d.Feed(msg)
	ev, ok, err := d.Next()
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if _, ok, err = d.Next(); ok || err != nil {
		t.Fatal(ok, err)
	}
	if kept := d.scratchBytes(); kept > keepBytes*DefaultMaxDepth {
		t.Fatalf("idle decoder keeps %d bytes of buffers", kept)
	}
	if cap(d.buf) > keepBytes {
		t.Fatalf("idle decoder keeps a %d-byte input buffer", cap(d.buf))
	}
	d.Release(ev.Cost)
}

// The default limits admit what Foolscap peers legitimately send: a 1 MiB
// string and a large batch of flog events.
func TestDefaultLimitsAdmitFoolscapTraffic(t *testing.T) {
	var enc Encoder
	stream := bigStringCall(t, &enc, 1, DefaultMaxStringLength)
	batch, err := enc.AppendCall(nil, realisticCall(4000))
	if err != nil {
		t.Fatal(err)
	}
	stream = append(stream, batch...)
	d := newDecoder(t, Config{})
	evs, _, err := feedInChunks(t, d, stream, 32<<10)
	if err != nil || len(evs) != 2 || evs[0].Kind != EventMessage || evs[1].Kind != EventMessage {
		t.Fatalf("%v %+v", err, evs)
	}
	t.Logf("1 MiB string costs %d, 4000 flog events cost %d", evs[0].Cost, evs[1].Cost)
}
