package banana

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"unsafe"
)

// maxEncodeDepth bounds recursion so a Go value that contains itself
// fails instead of overflowing the stack.
const maxEncodeDepth = 64

// FailureClass is the copyable class name of a Failure.
const FailureClass = "twisted.python.failure.Failure"

// Foolscap's FailureConstraint refuses longer fields, which would lose the
// whole error message, so the encoder cuts them to fit.
const (
	failureTypeLimit      = 200
	failureValueLimit     = 1000
	failureTracebackLimit = 2000
	failureParentLimit    = 200
)

// Encoder produces top-level messages for one direction of one
// connection. The peer numbers every OPEN it receives from 0 and resolves
// back-references by that number, so the counter lives here and must see
// every message sent, in order. Not safe for concurrent use.
//
// Within one message, a container met again (the same backing array and
// length of a List, Tuple, Set or Dict, the same State of a Copyable, the
// same *Copyable or *Failure) is sent as a back-reference to its first
// OPEN, as Foolscap does, so a shared value costs its size once on the wire
// and at the peer. A container that contains itself becomes a reference to
// the sequence still open, a cycle.
type Encoder struct {
	nextOpen uint64
	seen     map[identity]uint64 // containers begun in this message → OPEN number
}

// identity names one Go container. Empty containers have none: distinct
// empty slices may share a pointer, and sharing them would merge objects
// the sender kept apart.
type identity struct {
	ptr   unsafe.Pointer
	len   int
	kind  idKind
	class string // a Copyable's class: the same State under two names is two objects
}

type idKind uint8

const (
	idList idKind = iota + 1
	idTuple
	idSet
	idDict
	idCopyable
	idCopyablePtr
	idFailurePtr
)

// sliceIdentity names a non-empty slice's backing array and length.
func sliceIdentity[E any](kind idKind, s []E) (identity, bool) {
	if len(s) == 0 {
		return identity{}, false
	}
	return identity{ptr: unsafe.Pointer(unsafe.SliceData(s)), len: len(s), kind: kind}, true
}

// endMessage closes the back-reference scope (Foolscap scopes them to one
// call, answer or error) and lets go of the values it named.
func (e *Encoder) endMessage() {
	if len(e.seen) > 1024 {
		e.seen = nil // let a large message's table go
	} else {
		clear(e.seen)
	}
}

// shared returns the OPEN number of a container already begun in this
// message.
func (e *Encoder) shared(id identity, ok bool) (uint64, bool) {
	if !ok {
		return 0, false
	}
	n, found := e.seen[id]
	return n, found
}

// remember records the OPEN number a container was sent under.
func (e *Encoder) remember(id identity, ok bool, n uint64) {
	if !ok {
		return
	}
	if e.seen == nil {
		e.seen = make(map[identity]uint64)
	}
	e.seen[id] = n
}

// appendReference sends (reference n), n being an earlier OPEN number.
func (e *Encoder) appendReference(dst []byte, n uint64) []byte {
	m := e.open(&dst, "reference")
	return appendToken(appendUint(dst, n), m, tokClose)
}

// Opens reports how many OPEN tokens the encoder has produced, which is
// also the number the next OPEN will carry.
func (e *Encoder) Opens() uint64 { return e.nextOpen }

// AppendCall appends a call message. Kwargs go out in the given order;
// Foolscap sorts them by name.
func (e *Encoder) AppendCall(dst []byte, c *Call) ([]byte, error) {
	if c.ReqID < 0 {
		return dst, fmt.Errorf("banana: negative request ID %d", c.ReqID)
	}
	return e.guard(dst, func(dst []byte) ([]byte, error) {
		n := e.open(&dst, "call")
		dst = appendInt(dst, c.ReqID)
		dst = appendInt(dst, c.Target)
		dst = appendString(dst, c.Method)
		m := e.open(&dst, "arguments")
		dst = appendInt(dst, int64(len(c.Args)))
		var err error
		for _, a := range c.Args {
			if dst, err = e.appendValue(dst, a, 2); err != nil {
				return dst, err
			}
		}
		for _, kw := range c.Kwargs {
			dst = appendString(dst, kw.Key)
			if dst, err = e.appendValue(dst, kw.Value, 2); err != nil {
				return dst, err
			}
		}
		dst = appendToken(dst, m, tokClose)
		return appendToken(dst, n, tokClose), nil
	})
}

// AppendAnswer appends the answer to request reqID.
func (e *Encoder) AppendAnswer(dst []byte, reqID int64, value any) ([]byte, error) {
	if reqID < 0 {
		return dst, fmt.Errorf("banana: negative request ID %d", reqID)
	}
	return e.guard(dst, func(dst []byte) ([]byte, error) {
		n := e.open(&dst, "answer")
		dst = appendInt(dst, reqID)
		dst, err := e.appendValue(dst, value, 1)
		if err != nil {
			return dst, err
		}
		return appendToken(dst, n, tokClose), nil
	})
}

// AppendError appends the error reply to request reqID.
func (e *Encoder) AppendError(dst []byte, reqID int64, f *Failure) ([]byte, error) {
	if reqID < 0 {
		return dst, fmt.Errorf("banana: negative request ID %d", reqID)
	}
	n := e.open(&dst, "error")
	dst = appendInt(dst, reqID)
	dst = e.appendFailure(dst, f)
	return appendToken(dst, n, tokClose), nil
}

// guard undoes a partly encoded message, bytes and OPEN numbers both, so a
// failed encode leaves the stream consistent, and ends the message's
// back-reference scope either way.
func (e *Encoder) guard(dst []byte, body func([]byte) ([]byte, error)) ([]byte, error) {
	start, opens := len(dst), e.nextOpen
	out, err := body(dst)
	e.endMessage()
	if err != nil {
		e.nextOpen = opens
		return out[:start], err
	}
	return out, nil
}

// open appends OPEN and the opentype and returns the OPEN number for CLOSE.
func (e *Encoder) open(dst *[]byte, opentype string) uint64 {
	n := e.nextOpen
	e.nextOpen++
	*dst = appendString(appendToken(*dst, n, tokOpen), opentype)
	return n
}

var errEncodeDepth = errors.New("banana: value nested too deeply to encode")

func (e *Encoder) appendValue(dst []byte, v any, depth int) ([]byte, error) {
	if depth > maxEncodeDepth {
		return dst, errEncodeDepth
	}
	var err error
	switch v := v.(type) {
	case nil:
		n := e.open(&dst, "none")
		return appendToken(dst, n, tokClose), nil
	case bool:
		n := e.open(&dst, "boolean")
		b := int64(0)
		if v {
			b = 1
		}
		return appendToken(appendInt(dst, b), n, tokClose), nil
	case int:
		return appendInt(dst, int64(v)), nil
	case int8:
		return appendInt(dst, int64(v)), nil
	case int16:
		return appendInt(dst, int64(v)), nil
	case int32:
		return appendInt(dst, int64(v)), nil
	case int64:
		return appendInt(dst, v), nil
	case uint:
		return appendUint(dst, uint64(v)), nil
	case uint8:
		return appendUint(dst, uint64(v)), nil
	case uint16:
		return appendUint(dst, uint64(v)), nil
	case uint32:
		return appendUint(dst, uint64(v)), nil
	case uint64:
		return appendUint(dst, v), nil
	case *big.Int:
		if v == nil {
			return dst, errors.New("banana: nil *big.Int")
		}
		return appendBig(dst, v), nil
	case float64:
		return appendFloat(dst, v), nil
	case float32:
		return appendFloat(dst, float64(v)), nil
	case string:
		n := e.open(&dst, "unicode")
		return appendToken(appendString(dst, v), n, tokClose), nil
	case []byte:
		return appendBytes(dst, v), nil
	case List:
		return e.appendSeq(dst, "list", idList, v, depth)
	case []any:
		return e.appendSeq(dst, "list", idList, v, depth)
	case Tuple:
		return e.appendSeq(dst, "tuple", idTuple, v, depth)
	case Set:
		return e.appendSeq(dst, "set", idSet, v, depth)
	case Dict:
		id, track := sliceIdentity(idDict, v)
		if m, ok := e.shared(id, track); ok {
			return e.appendReference(dst, m), nil
		}
		n := e.open(&dst, "dict")
		e.remember(id, track, n)
		for _, kv := range v {
			if dst, err = e.appendValue(dst, kv.Key, depth+1); err != nil {
				return dst, err
			}
			if dst, err = e.appendValue(dst, kv.Value, depth+1); err != nil {
				return dst, err
			}
		}
		return appendToken(dst, n, tokClose), nil
	case Copyable:
		id, track := sliceIdentity(idCopyable, v.State)
		id.class = v.Class
		return e.appendCopyable(dst, &v, id, track, depth)
	case *Copyable:
		if v == nil {
			return dst, errors.New("banana: nil *Copyable")
		}
		return e.appendCopyable(dst, v, identity{ptr: unsafe.Pointer(v), kind: idCopyablePtr}, true, depth)
	case Failure:
		return e.appendFailure(dst, &v), nil
	case *Failure:
		if v == nil {
			return dst, errors.New("banana: nil *Failure")
		}
		id := identity{ptr: unsafe.Pointer(v), kind: idFailurePtr}
		if m, ok := e.shared(id, true); ok {
			return e.appendReference(dst, m), nil
		}
		e.remember(id, true, e.nextOpen) // appendFailure's OPEN comes next
		return e.appendFailure(dst, v), nil
	case MyReference:
		n := e.open(&dst, "my-reference")
		dst = appendInt(dst, v.CLID)
		if v.Interface != "" || v.FURL != "" {
			dst = appendString(dst, v.Interface)
		}
		if v.FURL != "" {
			dst = appendString(dst, v.FURL)
		}
		return appendToken(dst, n, tokClose), nil
	case YourReference:
		if v.CLID < 0 {
			return dst, fmt.Errorf("banana: your-reference with negative clid %d", v.CLID)
		}
		n := e.open(&dst, "your-reference")
		return appendToken(appendInt(dst, v.CLID), n, tokClose), nil
	case TheirReference:
		if v.GiftID < 0 {
			return dst, fmt.Errorf("banana: their-reference with negative gift ID %d", v.GiftID)
		}
		n := e.open(&dst, "their-reference")
		dst = appendString(appendInt(dst, v.GiftID), v.FURL)
		return appendToken(dst, n, tokClose), nil
	case Reference:
		if v < 0 {
			return dst, fmt.Errorf("banana: reference to negative OPEN number %d", v)
		}
		n := e.open(&dst, "reference")
		return appendToken(appendInt(dst, int64(v)), n, tokClose), nil
	}
	return dst, fmt.Errorf("banana: cannot encode %T", v)
}

func (e *Encoder) appendSeq(dst []byte, opentype string, kind idKind, items []any, depth int) ([]byte, error) {
	id, track := sliceIdentity(kind, items)
	if m, ok := e.shared(id, track); ok {
		return e.appendReference(dst, m), nil
	}
	n := e.open(&dst, opentype)
	e.remember(id, track, n)
	var err error
	for _, it := range items {
		if dst, err = e.appendValue(dst, it, depth+1); err != nil {
			return dst, err
		}
	}
	return appendToken(dst, n, tokClose), nil
}

func (e *Encoder) appendCopyable(dst []byte, c *Copyable, id identity, track bool, depth int) ([]byte, error) {
	if m, ok := e.shared(id, track); ok {
		return e.appendReference(dst, m), nil
	}
	n := e.open(&dst, "copyable")
	e.remember(id, track, n)
	dst = appendString(dst, c.Class)
	var err error
	for _, kv := range c.State {
		dst = appendString(dst, kv.Key)
		if dst, err = e.appendValue(dst, kv.Value, depth+1); err != nil {
			return dst, err
		}
	}
	return appendToken(dst, n, tokClose), nil
}

// appendFailure writes a Failure the way Foolscap does: every field a bare
// STRING, keys in the order value, type, traceback, parents.
func (e *Encoder) appendFailure(dst []byte, f *Failure) []byte {
	n := e.open(&dst, "copyable")
	dst = appendString(dst, FailureClass)
	dst = appendString(dst, "value")
	dst = appendString(dst, clip(f.Value, failureValueLimit))
	dst = appendString(dst, "type")
	dst = appendString(dst, clip(f.Type, failureTypeLimit))
	dst = appendString(dst, "traceback")
	dst = appendString(dst, clip(f.Traceback, failureTracebackLimit))
	dst = appendString(dst, "parents")
	m := e.open(&dst, "list")
	for _, p := range f.Parents {
		dst = appendString(dst, clip(p, failureParentLimit))
	}
	dst = appendToken(dst, m, tokClose)
	return appendToken(dst, n, tokClose)
}

func clip(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	return s[:limit]
}

// appendString writes s as a bare STRING token (Python bytes).
func appendString(dst []byte, s string) []byte {
	return append(appendToken(dst, uint64(len(s)), tokString), s...)
}

func appendBytes(dst []byte, b []byte) []byte {
	return append(appendToken(dst, uint64(len(b)), tokString), b...)
}

// appendInt follows Foolscap's choice of token: INT for [0, 2^31), NEG
// for [-2^31, 0), LONGINT/LONGNEG beyond.
func appendInt(dst []byte, v int64) []byte {
	if v >= 0 {
		return appendUint(dst, uint64(v))
	}
	mag := uint64(-(v + 1)) + 1 // safe for math.MinInt64
	if mag > 1<<31 {
		return appendMagnitude(dst, mag, tokLongNeg)
	}
	return appendToken(dst, mag, tokNeg)
}

func appendUint(dst []byte, v uint64) []byte {
	if v >= 1<<31 {
		return appendMagnitude(dst, v, tokLongInt)
	}
	return appendToken(dst, v, tokInt)
}

// appendMagnitude writes a LONGINT/LONGNEG body: minimal big-endian bytes.
func appendMagnitude(dst []byte, mag uint64, typ byte) []byte {
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], mag)
	i := 0
	for i < 7 && buf[i] == 0 {
		i++
	}
	dst = appendToken(dst, uint64(8-i), typ)
	return append(dst, buf[i:]...)
}

func appendBig(dst []byte, v *big.Int) []byte {
	if v.IsInt64() {
		return appendInt(dst, v.Int64())
	}
	if v.IsUint64() {
		return appendUint(dst, v.Uint64())
	}
	typ := tokLongInt
	if v.Sign() < 0 {
		typ = tokLongNeg
	}
	mag := new(big.Int).Abs(v).Bytes()
	dst = appendToken(dst, uint64(len(mag)), typ)
	return append(dst, mag...)
}

func appendFloat(dst []byte, f float64) []byte {
	dst = append(dst, tokFloat)
	return binary.BigEndian.AppendUint64(dst, math.Float64bits(f))
}
