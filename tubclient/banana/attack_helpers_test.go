package banana

// Hostile and realistic inputs shared by tests, fuzz seeds and benchmarks.

// wireBuilder writes raw tokens with the sender's OPEN numbering, for
// inputs our Encoder would never produce.
type wireBuilder struct {
	b    []byte
	open uint64
}

func (w *wireBuilder) open_(opentype string) uint64 {
	n := w.open
	w.open++
	w.b = appendString(appendToken(w.b, n, tokOpen), opentype)
	return n
}

func (w *wireBuilder) close(n uint64) { w.b = appendToken(w.b, n, tokClose) }
func (w *wireBuilder) int(v int64)    { w.b = appendInt(w.b, v) }

// referenceBomb is (answer 1 (list L0 L1 … Llevels)) with L0 = [1] and each
// Li a list of two back-references to Li-1: about 1 KB on the wire, 2^levels
// leaves if each reference were copied.
func referenceBomb(levels int) []byte {
	var w wireBuilder
	top := w.open_("answer")
	w.int(1)
	outer := w.open_("list")
	prev := w.open_("list")
	w.int(1)
	w.close(prev)
	for range levels {
		l := w.open_("list")
		for range 2 {
			r := w.open_("reference")
			w.int(int64(prev))
			w.close(r)
		}
		w.close(l)
		prev = l
	}
	w.close(outer)
	w.close(top)
	return w.b
}

// flatIntListCall is (call reqID 1 "echo" (arguments 1 (list 0 0 0 …))) with n
// one-byte INT tokens: n bytes of list body on the wire. firstOpen numbers it
// as the firstOpen-th OPEN of the stream.
func flatIntListCall(reqID int64, firstOpen uint64, n int) []byte {
	w := wireBuilder{open: firstOpen}
	c := w.open_("call")
	w.int(reqID)
	w.int(1)
	w.b = appendString(w.b, "echo")
	a := w.open_("arguments")
	w.int(1)
	l := w.open_("list")
	for range n {
		w.b = append(w.b, tokInt) // header 0: the INT 0 in one byte
	}
	w.close(l)
	w.close(a)
	w.close(c)
	return w.b
}

// flogEvent is shaped like the event dicts Foolscap's log publisher sends
// to an observer.
func flogEvent(i int) Dict {
	return Dict{
		{Key: "format", Value: "connection from %(peer)s established after %(attempts)d attempts"},
		{Key: "peer", Value: "pb://6gmn2fubi7xralfvxa3qca2h2qkhwmhd@127.0.0.1:40527/swiss"},
		{Key: "attempts", Value: int64(i % 7)},
		{Key: "level", Value: int64(20)},
		{Key: "facility", Value: "foolscap.negotiation"},
		{Key: "num", Value: int64(100000 + i)},
		{Key: "time", Value: 1.7e9 + float64(i)/1000},
		{Key: "incarnation", Value: Tuple{[]byte("\x8e\x1f\x03\x99\xa0\x11\x42\x7c"), nil}},
		{Key: "tags", Value: List{"net", "tls", int64(i)}},
	}
}

// realisticCall is a batch of flog events, as a log gatherer receives them.
func realisticCall(events int) *Call {
	batch := make(List, events)
	for i := range batch {
		batch[i] = flogEvent(i)
	}
	return &Call{ReqID: 7, Target: 3, Method: "msg", Args: []any{batch}}
}
