package banana

import (
	"testing"
)

func BenchmarkPingPong(b *testing.B) {
	d := newDecoder(b, Config{})
	ping := make([]byte, 0, 16)
	pong := make([]byte, 0, 16)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		ping = AppendPing(ping[:0], uint64(i))
		d.Feed(ping)
		ev, ok, err := d.Next()
		if err != nil || !ok || ev.Kind != EventPing {
			b.Fatalf("%v %v %+v", err, ok, ev)
		}
		pong = AppendPong(pong[:0], ev.N)
	}
}

func TestPingPongDoesNotAllocate(t *testing.T) {
	d := newDecoder(t, Config{})
	buf := make([]byte, 0, 16)
	n := uint64(0)
	allocs := testing.AllocsPerRun(1000, func() {
		n++
		buf = AppendPing(buf[:0], n)
		d.Feed(buf)
		ev, ok, err := d.Next()
		if err != nil || !ok || ev.N != n {
			t.Fatalf("%v %v %+v", err, ok, ev)
		}
		buf = AppendPong(buf[:0], ev.N)
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per PING/PONG", allocs)
	}
}

var benchCall = &Call{ReqID: 2, Target: 1, Method: "echo", Args: []any{"hi", int64(42), []byte("payload")},
	Kwargs: []KV{{Key: "flag", Value: true}}}

func BenchmarkEncodeCall(b *testing.B) {
	var enc Encoder
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = enc.AppendCall(buf[:0], benchCall); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecodeCall(b *testing.B) {
	var enc Encoder
	msg, err := enc.AppendCall(nil, benchCall)
	if err != nil {
		b.Fatal(err)
	}
	d := newDecoder(b, Config{})
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		// each pass is a fresh message with the same OPEN numbers
		d.Feed(msg)
		ev, ok, err := d.Next()
		if err != nil || !ok || ev.Kind != EventMessage {
			b.Fatalf("%v %v %+v", err, ok, ev)
		}
		d.Release(ev.Cost)
	}
}

// BenchmarkDecodeRealisticCall decodes a call carrying 100 flog-style
// event dicts, the shape a log gatherer receives.
func BenchmarkDecodeRealisticCall(b *testing.B) {
	var enc Encoder
	msg, err := enc.AppendCall(nil, realisticCall(100))
	if err != nil {
		b.Fatal(err)
	}
	d := newDecoder(b, Config{})
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		d.Feed(msg)
		ev, ok, err := d.Next()
		if err != nil || !ok || ev.Kind != EventMessage {
			b.Fatalf("%v %v %+v", err, ok, ev)
		}
		d.Release(ev.Cost)
	}
}

// BenchmarkDecodeReferenceBomb decodes the 24-level shared-reference
// answer; bytes/op is what one such 1 KB message costs.
func BenchmarkDecodeReferenceBomb(b *testing.B) {
	msg := referenceBomb(24)
	d := newDecoder(b, Config{})
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		d.Feed(msg)
		ev, ok, err := d.Next()
		if err != nil || !ok || ev.Kind != EventMessage {
			b.Fatalf("%v %v %+v", err, ok, ev)
		}
		d.Release(ev.Cost)
	}
}

// BenchmarkEncodeReferenceBombEcho re-encodes the decoded bomb, as an echo
// service would answer it.
func BenchmarkEncodeReferenceBombEcho(b *testing.B) {
	d := newDecoder(b, Config{})
	d.Feed(referenceBomb(24))
	ev, ok, err := d.Next()
	if err != nil || !ok {
		b.Fatal(ok, err)
	}
	value := ev.Msg.(*Answer).Value
	var enc Encoder
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		if buf, err = enc.AppendAnswer(buf[:0], 1, value); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkDecodeDroppedFlatList measures how fast a message refused for
// its cost is skipped: 1 MiB of one-byte INTs after the limit.
func BenchmarkDecodeDroppedFlatList(b *testing.B) {
	msg := flatIntListCall(1, 0, 1<<20)
	d := newDecoder(b, Config{MaxMessageCost: 64 << 10})
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		d.Feed(msg)
		ev, ok, err := d.Next()
		if err != nil || !ok || ev.Kind != EventDropped {
			b.Fatalf("%v %v %+v", err, ok, ev)
		}
	}
}
