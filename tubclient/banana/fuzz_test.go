package banana

import (
	"bytes"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

// fuzzConfig keeps limits small so fuzzed input reaches them.
func fuzzConfig(vocab1 bool, budget *Budget) Config {
	cfg := Config{MaxStringLength: 4096, MaxDepth: 16, MaxMessageBytes: 1 << 16,
		MaxMessageCost: 8 << 10, MaxConnectionCost: 24 << 10, Budget: budget}
	if vocab1 {
		cfg.VocabTable = 1
	}
	return cfg
}

// fuzzDecode decodes data in pieces of step bytes the way a connection
// would: it serves and releases every even-numbered message at once and
// holds the odd ones to the end, so the limits fill up. It checks the
// budgets and the decoder's memory after every piece, then closes the
// decoder and releases everything held.
func fuzzDecode(t *testing.T, cfg Config, data []byte, step int) ([]Event, error) {
	d := newDecoder(t, cfg)
	var evs []Event
	var held []int64
	var err error
	for i := 0; i < len(data) && err == nil; i += step {
		d.Feed(data[i:min(i+step, len(data))])
		var more []Event
		more, err = drain(d)
		for _, ev := range more {
			if ev.Kind != EventMessage {
				continue
			}
			if ev.Cost > cfg.MaxMessageCost {
				t.Fatalf("message cost %d over the message limit %d", ev.Cost, cfg.MaxMessageCost)
			}
			if len(evs)%2 == 0 {
				d.Release(ev.Cost)
			} else {
				held = append(held, ev.Cost)
			}
		}
		evs = append(evs, more...)
		if d.Held() > cfg.MaxConnectionCost || cfg.Budget.InUse() > cfg.Budget.Limit() {
			t.Fatalf("held %d (limit %d), tub budget %d (limit %d)", d.Held(), cfg.MaxConnectionCost, cfg.Budget.InUse(), cfg.Budget.Limit())
		}
		if d.Buffered() > cfg.MaxStringLength+2*maxHeaderLen+step+maxNegotiationBlock {
			t.Fatalf("buffer grew to %d", d.Buffered())
		}
		// scratch is bounded by what the message may cost, plus what is kept between messages
		if s := d.scratchBytes(); s > int(2*cfg.MaxMessageCost)+cfg.MaxDepth*keepBytes {
			t.Fatalf("decoder holds %d bytes of scratch", s)
		}
	}
	d.Close()
	for _, c := range held {
		d.Release(c)
	}
	if d.Held() != 0 || cfg.Budget.InUse() != 0 {
		t.Fatalf("after release: held %d, tub budget in use %d", d.Held(), cfg.Budget.InUse())
	}
	return evs, err
}

// FuzzDecoder checks that arbitrary input never panics, never takes more
// than its budgets or unbounded memory, and decodes the same however it is
// split into reads.
func FuzzDecoder(f *testing.F) {
	var enc Encoder
	seed := func(b []byte, err error) {
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(3), false)
	}
	seed(enc.AppendCall(nil, &Call{ReqID: 1, Method: "getReferenceByName", Kwargs: []KV{{Key: "name", Value: []byte("swiss")}}}))
	seed(enc.AppendAnswer(nil, 1, MyReference{CLID: 1, FURL: "pb://a@b:1/c"}))
	seed(enc.AppendAnswer(nil, 2, List{Dict{{Key: "k", Value: Set{1.5, true}}}, Tuple{nil, []byte("x")}, Reference(5)}))
	seed(enc.AppendAnswer(nil, 3, Copyable{Class: "c", State: []KV{{Key: "a", Value: YourReference{CLID: 2}}}}))
	seed(enc.AppendError(nil, 4, &Failure{Type: "T", Value: "V", Parents: []string{"T"}}))
	seed(AppendPing(EncodeError(nil, "bye"), 300), nil)
	seed([]byte("banana-decision-version: 1\r\nerror: Duplicate connection\r\n\r\n"), nil)
	f.Add([]byte("\x00\x88\x0d\x87\x01\x81\x01\x88\x0f\x87\x01\x81\x01\x89\x00\x89"), uint8(1), true)

	// the attacks, at the fuzz configuration's scale
	seed(referenceBomb(24), nil)
	seed(flatIntListCall(1, 0, 8<<10), nil)
	huge := wire(f, `00 88 04 82 "call" 01 81 01 81 04 82 "echo" 01 88 09 82 "arguments" 01 81 00 00 00 08 82`)
	seed(append(huge, strings.Repeat("x", 1024)...), nil) // a 16 MiB STRING header, 1 KiB of it
	deep := wire(f, `00 88 06 82 "answer" 01 81`)
	for i := range 20 {
		deep = append(appendToken(deep, uint64(i+1), tokOpen), "\x04\x82list"...)
	}
	seed(deep, nil)
	seed(wire(f, `00 88 06 82 "answer" 01 81 01 88 04 82 "list" 69 07 85`+strings.Repeat(" 01", 50)), nil)

	f.Fuzz(func(t *testing.T, data []byte, chunk uint8, vocab1 bool) {
		const tubLimit = 20 << 10
		whole, wholeErr := fuzzDecode(t, fuzzConfig(vocab1, NewBudget(tubLimit)), data, max(len(data), 1))
		split, splitErr := fuzzDecode(t, fuzzConfig(vocab1, NewBudget(tubLimit)), data, int(chunk%17)+1)
		if (wholeErr == nil) != (splitErr == nil) ||
			(wholeErr != nil && wholeErr.Error() != splitErr.Error()) {
			t.Fatalf("errors differ: whole %v, split %v", wholeErr, splitErr)
		}
		if !reflect.DeepEqual(whole, split) {
			t.Fatalf("events differ:\nwhole %#v\nsplit %#v", whole, split)
		}
	})
}

// valueBuilder turns fuzz bytes into a Go value graph, one operation per
// byte: scalars, containers of the last few values, and repeats of an
// earlier container so that values share.
type valueBuilder struct {
	stack      []any
	containers []any
}

func (b *valueBuilder) pop(n int) []any {
	n = min(n, len(b.stack))
	items := append([]any(nil), b.stack[len(b.stack)-n:]...)
	b.stack = b.stack[:len(b.stack)-n]
	return items
}

func (b *valueBuilder) pushContainer(v any) {
	b.stack = append(b.stack, v)
	b.containers = append(b.containers, v)
}

func buildValue(data []byte) any {
	var b valueBuilder
	for i, op := range data {
		arg := int(op >> 4)
		switch op % 12 {
		case 0:
			b.stack = append(b.stack, int64(arg)-8+int64(i)<<20)
		case 1:
			b.stack = append(b.stack, strings.Repeat("é", arg))
		case 2:
			b.stack = append(b.stack, bytes.Repeat([]byte{op}, arg))
		case 3:
			b.stack = append(b.stack, []any{nil, true, false, math.Inf(1), float64(arg) / 3}[arg%5])
		case 4:
			b.pushContainer(List(b.pop(arg % 4)))
		case 5:
			b.pushContainer(Tuple(b.pop(arg % 4)))
		case 6:
			b.pushContainer(Set(b.pop(arg % 4)))
		case 7:
			items := b.pop(2 * (arg % 3))
			d := make(Dict, len(items)/2)
			for j := range d {
				d[j] = DictEntry{Key: items[2*j], Value: items[2*j+1]}
			}
			b.pushContainer(d)
		case 8, 9:
			items := b.pop(arg % 3)
			c := Copyable{Class: fmt.Sprint("C", arg%2), State: make([]KV, len(items))}
			for j, it := range items {
				c.State[j] = KV{Key: fmt.Sprint("a", j), Value: it}
			}
			if op%12 == 9 {
				b.pushContainer(&c)
			} else {
				b.pushContainer(c)
			}
		case 10, 11:
			if len(b.containers) > 0 {
				b.stack = append(b.stack, b.containers[arg%len(b.containers)])
			}
		}
	}
	return List(b.stack)
}

// sharingChecker compares a value with its decoded form, visiting each
// object once, and checks that the decoded objects are shared exactly where
// the original ones were.
type sharingChecker struct {
	t         *testing.T
	toDecoded map[identity]unsafe.Pointer
	toOrig    map[unsafe.Pointer]identity
}

func (c *sharingChecker) same(orig, dec any) {
	c.t.Helper()
	var id identity
	var items, decItems []any
	switch o := orig.(type) {
	case List:
		d, ok := dec.(List)
		c.require(ok, orig, dec)
		id, _ = sliceIdentity(idList, o)
		items, decItems = o, d
	case Tuple:
		d, ok := dec.(Tuple)
		c.require(ok, orig, dec)
		id, _ = sliceIdentity(idTuple, o)
		items, decItems = o, d
	case Set:
		d, ok := dec.(Set)
		c.require(ok, orig, dec)
		id, _ = sliceIdentity(idSet, o)
		items, decItems = o, d
	case Dict:
		d, ok := dec.(Dict)
		c.require(ok && len(d) == len(o), orig, dec)
		id, _ = sliceIdentity(idDict, o)
		for j := range o {
			items = append(items, o[j].Key, o[j].Value)
			decItems = append(decItems, d[j].Key, d[j].Value)
		}
	case Copyable, *Copyable:
		var oc Copyable
		if p, isPtr := o.(*Copyable); isPtr {
			oc, id = *p, identity{ptr: unsafe.Pointer(p), kind: idCopyablePtr}
		} else {
			oc = o.(Copyable)
			id, _ = sliceIdentity(idCopyable, oc.State)
			id.class = oc.Class
		}
		d, ok := dec.(Copyable)
		c.require(ok && d.Class == oc.Class && len(d.State) == len(oc.State), orig, dec)
		for j := range oc.State {
			c.require(d.State[j].Key == oc.State[j].Key, orig, dec)
			items = append(items, oc.State[j].Value)
			decItems = append(decItems, d.State[j].Value)
		}
	case float64:
		d, ok := dec.(float64)
		c.require(ok && math.Float64bits(d) == math.Float64bits(o), orig, dec)
		return
	default:
		c.require(reflect.DeepEqual(orig, dec), orig, dec)
		return
	}
	c.require(len(items) == len(decItems), orig, dec)
	if len(items) > 0 {
		decPtr, _ := backing(dec)
		if seen, ok := c.toDecoded[id]; ok {
			if seen != decPtr {
				c.t.Fatalf("a shared %T decoded as two objects", orig)
			}
			return
		}
		if other, ok := c.toOrig[decPtr]; ok && other != id {
			c.t.Fatalf("two distinct %T decoded as one object", orig)
		}
		c.toDecoded[id], c.toOrig[decPtr] = decPtr, id
	}
	for j := range items {
		c.same(items[j], decItems[j])
	}
}

func (c *sharingChecker) require(ok bool, orig, dec any) {
	c.t.Helper()
	if !ok {
		c.t.Fatalf("decoded %#v as %#v", orig, dec)
	}
}

// FuzzRoundTrip encodes generated value graphs and decodes them: values
// come back equal, shared where and only where they were shared, and the
// wire size grows with the graph, not with its expansion.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte{0x10, 0x24, 0x0a, 0x0a, 0x24, 0x0b, 0x0b, 0x24}) // [l, l] twice over
	f.Add([]byte{0x31, 0x22, 0x27, 0x0a, 0x1a, 0x25, 0x08, 0x29, 0x1b, 0x0b, 0x36})
	chain := []byte{0x10, 0x14} // a list, then 24 levels of [prev, prev]
	for i := range 24 {
		chain = append(chain, byte(i%16)<<4|0x0a, byte(i%16)<<4|0x0a, 0x24)
	}
	f.Add(chain)
	f.Add([]byte("\x03\x13\x23\x33\x43\x01\x02\x00\x36\x47\x18\x29\x0a\x1b"))

	f.Fuzz(func(t *testing.T, data []byte) {
		v := buildValue(data)
		var enc Encoder
		out, err := enc.AppendAnswer(nil, 1, v)
		if err != nil {
			if err == errEncodeDepth {
				return
			}
			t.Fatal(err)
		}
		// each operation adds at most a 15-character string, an OPEN or a reference
		if limit := 64*len(data) + 64; len(out) > limit {
			t.Fatalf("%d operations encoded to %d bytes", len(data), len(out))
		}
		evs, err := decodeAll(t, Config{MaxDepth: maxEncodeDepth + 2}, out)
		if err != nil || len(evs) != 1 || evs[0].Kind != EventMessage {
			t.Fatalf("%v %+v", err, evs)
		}
		c := sharingChecker{t: t, toDecoded: map[identity]unsafe.Pointer{}, toOrig: map[unsafe.Pointer]identity{}}
		c.same(v, evs[0].Msg.(*Answer).Value)
	})
}
