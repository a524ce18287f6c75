package banana

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strings"
	"sync/atomic"
	"unicode/utf8"
)

// Decoder defaults. A 16 MiB message cost admits a 1 MiB string (1 MiB of
// cost) or a batch of 4,000 flog event dicts (3.5 KiB each), and stops a
// flat list of small INTs at 262,144 elements (4 MiB of []any).
const (
	DefaultMaxStringLength = 1 << 20
	DefaultMaxDepth        = 64
	DefaultMaxMessageBytes = 16 << 20
	DefaultMaxMessageCost  = 16 << 20
	// DefaultMaxConnectionCost is a multiple of MaxMessageCost: a few
	// messages may be in service while the next one is decoded.
	DefaultMaxConnectionCost = 4 * DefaultMaxMessageCost
)

// Config sets a Decoder's vocabulary and limits; zero fields take defaults.
// Costs are decoded bytes (see valueCost); going over MaxStringLength,
// MaxMessageCost or the Budget drops one message, going over MaxDepth,
// MaxMessageBytes or MaxConnectionCost is fatal.
type Config struct {
	VocabTable      int // negotiated initial vocab table index: 0 or 1
	MaxStringLength int // longest STRING token body accepted
	MaxDepth        int // deepest nesting of open sequences
	// MaxMessageBytes caps a message's decoded tokens in wire bytes; the
	// skipped rest of a dropped message is not counted.
	MaxMessageBytes int
	// MaxMessageCost caps one message's decoded size.
	MaxMessageCost int64
	// MaxConnectionCost caps the decoded size of messages delivered and
	// not yet passed to Release plus the one in progress; the default is
	// 4×MaxMessageCost.
	MaxConnectionCost int64
	// Budget, if set, is shared by every Decoder of one tub: a message
	// that cannot reserve its cost from it is dropped.
	Budget *Budget
}

// EventKind says what an Event carries.
type EventKind uint8

const (
	// EventMessage: a complete top-level message in Msg (*Call, *Answer or *ErrorMsg).
	EventMessage EventKind = iota + 1
	// EventPing: the peer sent PING number N; answer with AppendPong at once.
	EventPing
	// EventPong: the peer answered our PING number N.
	EventPong
	// EventError: the peer sent an ERROR token (Text) and is closing.
	EventError
	// EventDropped: a top-level message was discarded for a non-fatal
	// violation (Text); Opentype and ReqID say which message it was.
	EventDropped
)

func (k EventKind) String() string {
	switch k {
	case EventMessage:
		return "message"
	case EventPing:
		return "ping"
	case EventPong:
		return "pong"
	case EventError:
		return "error"
	case EventDropped:
		return "dropped"
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event is one thing the Decoder found in the stream.
type Event struct {
	Kind     EventKind
	N        uint64 // EventPing, EventPong: the token's number
	Msg      any    // EventMessage: *Call, *Answer or *ErrorMsg
	Text     string // EventError: the peer's message; EventDropped: the reason
	Opentype string // EventDropped: "call", "answer" or "error"
	ReqID    int64  // EventDropped: the message's request ID if read, else 0
	// Cost is, for EventMessage, the decoded size the message holds
	// against the connection's and the tub's budgets. Pass it to
	// Decoder.Release once the message has been served.
	Cost int64
}

// Decoder turns a Banana byte stream into Events. Feed it bytes (or Fill
// it from a reader) and call Next until it reports that it needs more.
// Errors are sticky; *ProtocolError, *LateNegotiationError and
// *BudgetError are the peer's fault, and the connection should close after
// any of them. Every EventMessage holds its Cost until Release; call Close
// when the connection ends. Not safe for concurrent use, except Release.
type Decoder struct {
	cfg        Config
	vocab      []string
	vocabBytes [][]byte

	buf     []byte
	off     int
	started bool // a Banana token has been seen, so no negotiation block can come
	err     error
	skip    uint64 // body bytes of a refused or discarded token still to pass over

	stack    []frame
	objCount int64 // every OPEN received, numbered as the sender numbers them
	msgBase  int64 // objCount at the current message's top-level OPEN
	// refs holds the message's finished containers by OPEN number minus
	// msgBase, so a back-reference yields the very value it names.
	refs     []any
	msgBytes int

	tokenCharged bool  // the token at the buffer's head has been charged
	msgCost      int64 // decoded size of the message in progress
	msgReserved  int64 // taken from cfg.Budget for it (at least msgCost)
	held         atomic.Int64

	dropping   bool
	dropQuiet  bool
	dropReason string
	dropType   string
	dropReqID  int64
}

type frameKind uint8

const (
	kOpening      frameKind = iota // OPEN seen, opentype not yet
	kCopyableName                  // "copyable" seen, class name not yet
	kDiscard
	kNone
	kBoolean
	kUnicode
	kList
	kTuple
	kDict
	kSet
	kReference
	kCopyable
	kMyRef
	kYourRef
	kTheirRef
	kCall
	kArguments
	kAnswer
	kError
)

var valueOpentypes = map[string]frameKind{
	"none":            kNone,
	"boolean":         kBoolean,
	"unicode":         kUnicode,
	"list":            kList,
	"tuple":           kTuple,
	"dict":            kDict,
	"set":             kSet,
	"immutable-set":   kSet,
	"reference":       kReference,
	"copyable":        kCopyableName,
	"my-reference":    kMyRef,
	"your-reference":  kYourRef,
	"their-reference": kTheirRef,
}

var kindNames = [...]string{
	kNone: "none", kBoolean: "boolean", kUnicode: "unicode", kList: "list",
	kTuple: "tuple", kDict: "dict", kSet: "set", kReference: "reference",
	kCopyable: "copyable", kMyRef: "my-reference", kYourRef: "your-reference",
	kTheirRef: "their-reference", kCall: "call", kArguments: "arguments",
	kAnswer: "answer", kError: "error",
}

type frame struct {
	kind    frameKind
	openNum uint64 // the sender's OPEN number, repeated by CLOSE
	objNum  int64  // our count of this OPEN, the key for back-references
	class   string
	items   []any
}

// arguments is the decoded body of a call's "arguments" sequence.
type arguments struct {
	args   []any
	kwargs []KV
}

// violation is a non-fatal problem: the top-level message is discarded.
type violation struct{ reason string }

func (v *violation) Error() string { return v.reason }

func fatalf(format string, args ...any) error {
	return &ProtocolError{Msg: fmt.Sprintf(format, args...)}
}

// NewDecoder returns a Decoder for a connection that negotiated cfg.VocabTable.
func NewDecoder(cfg Config) (*Decoder, error) {
	vocab, ok := vocabTable(cfg.VocabTable)
	if !ok {
		return nil, fmt.Errorf("banana: unknown vocab table %d", cfg.VocabTable)
	}
	if cfg.MaxStringLength <= 0 {
		cfg.MaxStringLength = DefaultMaxStringLength
	}
	if cfg.MaxDepth <= 0 {
		cfg.MaxDepth = DefaultMaxDepth
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if cfg.MaxMessageCost <= 0 {
		cfg.MaxMessageCost = DefaultMaxMessageCost
	}
	if cfg.MaxConnectionCost <= 0 {
		cfg.MaxConnectionCost = 4 * cfg.MaxMessageCost
	}
	if cfg.MaxConnectionCost < cfg.MaxMessageCost {
		return nil, fmt.Errorf("banana: MaxConnectionCost %d is below MaxMessageCost %d", cfg.MaxConnectionCost, cfg.MaxMessageCost)
	}
	vb := make([][]byte, len(vocab))
	for i, w := range vocab {
		vb[i] = []byte(w)
	}
	return &Decoder{cfg: cfg, vocab: vocab, vocabBytes: vb}, nil
}

// Feed appends stream bytes. Call Next until it needs more before feeding
// again, so the buffer holds at most one partial token plus one chunk.
func (d *Decoder) Feed(p []byte) {
	if d.skip > 0 && d.off == len(d.buf) {
		// a refused body is counted off as it arrives, never buffered
		n := min(d.skip, uint64(len(p)))
		p, d.skip = p[n:], d.skip-n
	}
	d.makeRoom(len(p))
	d.buf = append(d.buf, p...)
}

// Fill reads once from r straight into the decoder's buffer.
func (d *Decoder) Fill(r io.Reader) (int, error) {
	const chunk = 32 << 10
	d.makeRoom(chunk)
	if cap(d.buf)-len(d.buf) < chunk {
		d.buf = append(d.buf, make([]byte, chunk)...)[:len(d.buf)]
	}
	n, err := r.Read(d.buf[len(d.buf):cap(d.buf)])
	d.buf = d.buf[:len(d.buf)+n]
	return n, err
}

// makeRoom drops consumed bytes when that avoids growing the buffer or
// when they are most of it, so a partial token is not copied repeatedly.
func (d *Decoder) makeRoom(n int) {
	if d.off == 0 {
		return
	}
	if d.off == len(d.buf) {
		d.buf, d.off = d.buf[:0], 0
		return
	}
	if cap(d.buf)-len(d.buf) < n || d.off >= len(d.buf)-d.off {
		k := copy(d.buf, d.buf[d.off:])
		d.buf, d.off = d.buf[:k], 0
	}
}

// Buffered reports how many fed bytes have not been consumed yet.
func (d *Decoder) Buffered() int { return len(d.buf) - d.off }

// keepBytes is the most input buffer or scratch a Decoder keeps between
// messages; what a large message needed beyond it goes back to the heap.
const keepBytes = 64 << 10

// Next returns the next event. ok is false when more input is needed.
func (d *Decoder) Next() (ev Event, ok bool, err error) {
	for d.err == nil {
		ev, ok, more := d.step()
		if ok {
			return ev, true, nil
		}
		if more {
			d.shrinkInput()
			return Event{}, false, nil
		}
	}
	d.releaseInProgress()
	return Event{}, false, d.err
}

// Release gives back the Cost of a delivered message, to the connection's
// limit and to the shared Budget; call it once per EventMessage when the
// message has been served. Safe to call from any goroutine.
func (d *Decoder) Release(cost int64) {
	if cost == 0 {
		return
	}
	if cost < 0 || d.held.Add(-cost) < 0 {
		panic("banana: Decoder.Release of more than was delivered")
	}
	if d.cfg.Budget != nil {
		d.cfg.Budget.Release(cost)
	}
}

// Held reports the decoded size of delivered messages not yet released.
func (d *Decoder) Held() int64 { return d.held.Load() }

var errDecoderClosed = errors.New("banana: decoder closed")

// Close ends decoding and gives back what the message in progress holds of
// the shared Budget. Delivered messages stay the caller's to Release.
func (d *Decoder) Close() {
	d.releaseInProgress()
	if d.err == nil {
		d.err = errDecoderClosed
	}
	d.buf, d.off, d.stack, d.refs = nil, 0, nil, nil
}

func (d *Decoder) releaseInProgress() {
	if d.msgReserved > 0 {
		d.cfg.Budget.Release(d.msgReserved)
	}
	d.msgReserved, d.msgCost = 0, 0
}

// shrinkInput lets go of an input buffer grown for a long token once the
// decoder waits for input with little of it pending.
func (d *Decoder) shrinkInput() {
	rest := len(d.buf) - d.off
	if cap(d.buf) <= keepBytes || rest > keepBytes/4 {
		return
	}
	if rest == 0 {
		d.buf, d.off = nil, 0
		return
	}
	d.buf, d.off = append(make([]byte, 0, keepBytes/4), d.buf[d.off:]...), 0
}

const negotiationPrefix = "banana-decision-version:"

// maxNegotiationBlock matches Foolscap's cap on a buffered negotiation block.
const maxNegotiationBlock = 4096

// step consumes at most one token. more reports that input ran out.
func (d *Decoder) step() (ev Event, ok, more bool) {
	if d.skip > 0 {
		n := min(d.skip, uint64(d.Buffered()))
		d.consume(int(n))
		if d.skip -= n; d.skip > 0 {
			return ev, false, true
		}
	}
	rest := d.buf[d.off:]
	if !d.started {
		n := min(len(rest), len(negotiationPrefix))
		if n == 0 {
			return ev, false, true
		}
		if string(rest[:n]) == negotiationPrefix[:n] {
			if n < len(negotiationPrefix) {
				return ev, false, true
			}
			return ev, false, d.negotiationBlock(rest)
		}
		d.started = true
	}

	i := 0
	for i < len(rest) && rest[i] < 0x80 {
		i++
		if i > maxHeaderLen {
			d.err = protoErr("header longer than 64 bytes")
			return ev, false, false
		}
	}
	if i == len(rest) {
		return ev, false, true
	}
	hdrBytes := rest[:i]
	hdr, overflow := decodeHeader(hdrBytes)
	typ := rest[i]
	body := rest[i+1:]
	need := 0

	switch typ {
	case tokPing, tokPong:
		if overflow {
			d.err = protoErr("PING/PONG number too large")
			return ev, false, false
		}
		d.consume(i + 1)
		ev = Event{Kind: EventPing, N: hdr}
		if typ == tokPong {
			ev.Kind = EventPong
		}
		return ev, true, false
	case tokError:
		if overflow || hdr > SizeLimit {
			d.err = protoErr("oversized ERROR token")
			return ev, false, false
		}
		need = int(hdr)
		if len(body) < need {
			return ev, false, true
		}
		text := string(body[:need])
		d.consume(i + 1 + need)
		return Event{Kind: EventError, Text: text}, true, false
	case tokList:
		d.err = protoErr("old-style LIST token received")
		return ev, false, false
	case tokString:
		limit := uint64(d.cfg.MaxStringLength)
		if overflow || hdr > limit {
			return d.refuseBody(i, hdr, overflow, fmt.Sprintf("STRING token too long (limit %d)", limit))
		}
		need = int(hdr)
	case tokLongInt, tokLongNeg:
		// Foolscap's default constraint refuses these as a Violation.
		if overflow || hdr > SizeLimit {
			return d.refuseBody(i, hdr, overflow, fmt.Sprintf("LONGINT token too long (limit %d)", SizeLimit))
		}
		need = int(hdr)
	case tokFloat:
		need = 8
	case tokInt, tokNeg, tokVocab, tokOpen, tokClose, tokAbort:
	default:
		d.err = fatalf("invalid type byte 0x%02x", typ)
		return ev, false, false
	}
	if !d.dropping && len(d.stack) > 0 && d.msgBytes+i+1+need > d.cfg.MaxMessageBytes {
		d.err = fatalf("message longer than %d bytes", d.cfg.MaxMessageBytes)
		return ev, false, false
	}
	if !d.dropping && !d.tokenCharged {
		if cost := d.tokenCost(typ, hdr); cost > 0 {
			if err := d.charge(cost); err != nil {
				var v *violation
				if !errors.As(err, &v) {
					d.err = err
					return ev, false, false
				}
				d.startDrop(v.reason, false) // the stack is not empty: no event yet
			}
		}
		d.tokenCharged = true
	}
	if d.dropping && need > 0 {
		// bodies of a discarded message are counted off, never buffered
		d.consume(i + 1)
		d.skip = uint64(need)
		return ev, false, false
	}
	if len(body) < need {
		return ev, false, true
	}
	body = body[:need]

	var err error
	switch typ {
	case tokOpen:
		err = d.open(hdr, overflow)
	case tokClose:
		ev, ok, err = d.close(hdr, overflow)
	case tokAbort:
		err = d.abort()
	default:
		err = d.valueToken(typ, hdr, overflow, hdrBytes, body)
	}
	// the message size counts the top-level OPEN and CLOSE too
	if len(d.stack) > 0 || typ == tokClose {
		d.msgBytes += i + 1 + need
	}
	d.consume(i + 1 + need)
	if err != nil {
		var v *violation
		if !errors.As(err, &v) {
			d.err = err
			return Event{}, false, false
		}
		ev, ok = d.startDrop(v.reason, false)
	}
	if len(d.stack) == 0 {
		d.msgBytes = 0
	}
	return ev, ok, false
}

// refuseBody handles a STRING or LONGINT longer than allowed: the message
// it is in is dropped and its body skipped as it arrives. Outside any
// message there is nothing to drop, and a length beyond 2^64 cannot be
// skipped; both are fatal.
func (d *Decoder) refuseBody(hdrLen int, length uint64, overflow bool, reason string) (Event, bool, bool) {
	if overflow || len(d.stack) == 0 {
		d.err = protoErr(reason)
		return Event{}, false, false
	}
	d.consume(hdrLen + 1)
	d.skip = length
	if !d.dropping {
		d.startDrop(reason, false)
	}
	return Event{}, false, false
}

// tokenCost is what a token adds to its message's decoded size. The
// envelope (top-level OPEN, opentype, request ID) is free, so a message
// refused for its cost can still be named to its sender; so is the number
// inside a back-reference, which makes the reference cost one value.
func (d *Decoder) tokenCost(typ byte, hdr uint64) int64 {
	if len(d.stack) == 0 {
		return 0
	}
	top := &d.stack[len(d.stack)-1]
	if top.kind == kOpening || top.kind == kReference || (len(d.stack) == 1 && len(top.items) == 0) {
		return 0
	}
	switch typ {
	case tokOpen:
		return valueCost + openCost
	case tokString, tokLongInt, tokLongNeg:
		return valueCost + int64(hdr)
	case tokInt, tokNeg, tokFloat, tokVocab:
		return valueCost
	}
	return 0
}

// charge adds n to the message in progress, checking the message limit
// (a violation), the connection limit (fatal) and the shared Budget (a
// violation), which it draws on in steps of reserveStep.
func (d *Decoder) charge(n int64) error {
	next := d.msgCost + n
	if next > d.cfg.MaxMessageCost {
		return &violation{reason: fmt.Sprintf("message would decode to more than %d bytes", d.cfg.MaxMessageCost)}
	}
	if held := d.held.Load(); held+next > d.cfg.MaxConnectionCost {
		return &BudgetError{Scope: "connection", Limit: d.cfg.MaxConnectionCost, Held: held, Message: next}
	}
	if b := d.cfg.Budget; b != nil && next > d.msgReserved {
		want := max(next-d.msgReserved, min(reserveStep, d.cfg.MaxMessageCost-d.msgReserved))
		if !b.Reserve(want) {
			want = next - d.msgReserved
			if !b.Reserve(want) {
				return &violation{reason: fmt.Sprintf("tub-wide decoding budget of %d bytes exhausted", b.Limit())}
			}
		}
		d.msgReserved += want
	}
	d.msgCost = next
	return nil
}

func (d *Decoder) consume(n int) {
	d.off += n
	d.tokenCharged = false
	if d.off == len(d.buf) {
		d.buf, d.off = d.buf[:0], 0
	}
}

// decodeHeader reads little-endian base-128; overflow means it exceeds uint64.
func decodeHeader(h []byte) (n uint64, overflow bool) {
	for j, b := range h {
		if b == 0 {
			continue
		}
		shift := 7 * j
		if shift >= 64 || (shift > 57 && uint64(b)>>(64-shift) != 0) {
			return 0, true
		}
		n |= uint64(b) << shift
	}
	return n, false
}

func bigFromHeader(h []byte) *big.Int {
	n := new(big.Int)
	for j := len(h) - 1; j >= 0; j-- {
		n.Lsh(n, 7)
		n.Or(n, big.NewInt(int64(h[j])))
	}
	return n
}

// negotiationBlock reports a negotiation block met at the start of the
// Banana stream, once its terminator (or the size cap) arrives.
func (d *Decoder) negotiationBlock(rest []byte) (more bool) {
	end := bytes.Index(rest, []byte("\r\n\r\n"))
	if end < 0 {
		if len(rest) <= maxNegotiationBlock {
			return true
		}
		end = maxNegotiationBlock
	}
	block := string(rest[:end])
	e := &LateNegotiationError{Block: block}
	for line := range strings.SplitSeq(block, "\r\n") {
		key, value, found := strings.Cut(line, ":")
		if found && strings.ToLower(key) == "error" {
			e.Message = strings.TrimLeft(value, " \t")
		}
	}
	d.err = e
	return false
}

func (d *Decoder) open(num uint64, overflow bool) error {
	if overflow {
		return protoErr("OPEN number too large")
	}
	if len(d.stack) >= d.cfg.MaxDepth {
		return fatalf("sequences nested deeper than %d", d.cfg.MaxDepth)
	}
	kind := kOpening
	if d.dropping {
		kind = kDiscard
	} else if len(d.stack) > 0 {
		top := &d.stack[len(d.stack)-1]
		switch top.kind {
		case kOpening, kCopyableName:
			return protoErr("OPEN token followed by OPEN")
		case kNone, kBoolean, kUnicode, kReference, kMyRef, kYourRef, kTheirRef:
			return fatalf("%s does not accept sub-objects", kindNames[top.kind])
		case kCall:
			if len(top.items) != 3 {
				return protoErr("call takes only INT, INT, STRING before its arguments")
			}
		case kArguments:
			if len(top.items) == 0 || isKeyPosition(top) {
				return protoErr("arguments need a count and STRING keyword names")
			}
		case kAnswer, kError:
			if len(top.items) == 0 {
				return fatalf("%s request ID must be an INT", kindNames[top.kind])
			}
		case kCopyable:
			if isKeyPosition(top) {
				return protoErr("copyable attribute names must be STRINGs")
			}
		}
	}
	if len(d.stack) == 0 {
		d.msgBase = d.objCount
	}
	if !d.dropping {
		d.refs = appendDoubling(d.refs, nil) // index objCount-msgBase; filled at CLOSE
	}
	d.push(frame{kind: kind, openNum: num, objNum: d.objCount})
	d.objCount++
	return nil
}

// push reuses the slot's item slice so steady-state decoding does not
// reallocate it.
func (d *Decoder) push(f frame) {
	if len(d.stack) < cap(d.stack) {
		d.stack = d.stack[:len(d.stack)+1]
		slot := &d.stack[len(d.stack)-1]
		f.items = slot.items[:0]
		*slot = f
		return
	}
	d.stack = append(d.stack, f)
}

func (d *Decoder) pop() frame {
	f := d.stack[len(d.stack)-1]
	clear(d.stack[len(d.stack)-1].items)
	d.stack = d.stack[:len(d.stack)-1]
	return f
}

func (d *Decoder) abort() error {
	if len(d.stack) == 0 {
		return protoErr("ABORT with no open sequence")
	}
	if d.dropping {
		return nil
	}
	return &violation{reason: "ABORT received"}
}

// startDrop discards the rest of the current top-level message.
func (d *Decoder) startDrop(reason string, quiet bool) (Event, bool) {
	if len(d.stack) > 0 {
		top := &d.stack[0]
		d.dropType, d.dropReqID = kindNames[top.kind], 0
		if len(top.items) > 0 {
			if id, ok := top.items[0].(int64); ok {
				d.dropReqID = id
			}
		}
		if top.kind < kNone {
			d.dropType = ""
		}
	}
	d.dropping, d.dropQuiet, d.dropReason = true, quiet, reason
	d.releaseInProgress() // nothing of the message will be kept
	for i := range d.stack {
		d.stack[i].kind = kDiscard
		clear(d.stack[i].items)
		d.stack[i].items = d.stack[i].items[:0]
	}
	if len(d.stack) == 0 {
		return d.endDrop()
	}
	return Event{}, false
}

func (d *Decoder) endDrop() (Event, bool) {
	d.dropping = false
	d.resetMessage()
	if d.dropQuiet {
		return Event{}, false
	}
	return Event{Kind: EventDropped, Text: d.dropReason, Opentype: d.dropType, ReqID: d.dropReqID}, true
}

// resetMessage forgets the finished message's back-reference targets and
// lets go of scratch that only a large message needed.
func (d *Decoder) resetMessage() {
	const keepItems = keepBytes / 16 // an interface slot is 16 bytes
	if cap(d.refs) > keepItems {
		d.refs = nil
	} else {
		clear(d.refs)
		d.refs = d.refs[:0]
	}
	for i, f := range d.stack[:cap(d.stack)] {
		if cap(f.items) > keepItems {
			d.stack[:cap(d.stack)][i].items = nil
		}
	}
}

func (d *Decoder) close(num uint64, overflow bool) (Event, bool, error) {
	if len(d.stack) == 0 {
		return Event{}, false, fatalf("lost sync, got CLOSE(%d) with no open sequence", num)
	}
	top := &d.stack[len(d.stack)-1]
	if overflow || top.openNum != num {
		return Event{}, false, fatalf("lost sync, got CLOSE(%d) but expecting %d", num, top.openNum)
	}
	if top.kind == kOpening || top.kind == kCopyableName {
		return Event{}, false, protoErr("sequence closed before its opentype")
	}
	if d.dropping {
		d.pop()
		if len(d.stack) == 0 {
			ev, ok := d.endDrop()
			return ev, ok, nil
		}
		return Event{}, false, nil
	}
	v, err := d.finish(top)
	if err != nil {
		var viol *violation
		if !errors.As(err, &viol) {
			return Event{}, false, err
		}
		// drop while the frame is still there to say which message it was
		d.startDrop(viol.reason, false)
		d.pop()
		if len(d.stack) == 0 {
			ev, ok := d.endDrop()
			return ev, ok, nil
		}
		return Event{}, false, nil
	}
	f := d.pop()
	switch f.kind {
	case kList, kTuple, kDict, kSet, kCopyable:
		d.refs[f.objNum-d.msgBase] = v
	}
	if len(d.stack) == 0 {
		// the message keeps exactly its cost; the rest of the step goes back
		cost := d.msgCost
		if d.msgReserved > cost {
			d.cfg.Budget.Release(d.msgReserved - cost)
		}
		d.msgReserved, d.msgCost = 0, 0
		d.held.Add(cost)
		d.resetMessage()
		return Event{Kind: EventMessage, Msg: v, Cost: cost}, true, nil
	}
	return Event{}, false, d.deliver(v)
}

// finish builds the value of a sequence whose CLOSE has arrived.
func (d *Decoder) finish(f *frame) (any, error) {
	items := f.items
	n := len(items)
	switch f.kind {
	case kNone:
		return nil, nil
	case kBoolean:
		if n != 1 {
			return nil, protoErr("boolean takes one INT")
		}
		switch b := items[0].(type) {
		case int64:
			return b != 0, nil
		default:
			return true, nil // only a big non-zero int gets here
		}
	case kUnicode:
		if n != 1 {
			return nil, protoErr("unicode takes one STRING")
		}
		s := items[0].(string)
		if !utf8.ValidString(s) {
			return nil, &violation{reason: "unicode string is not valid UTF-8"}
		}
		return s, nil
	case kList:
		return List(cloneItems(items)), nil
	case kTuple:
		return Tuple(cloneItems(items)), nil
	case kSet:
		return Set(cloneItems(items)), nil
	case kDict:
		if n%2 != 0 {
			return nil, protoErr("dict has a key without a value")
		}
		dict := make(Dict, n/2)
		for i := range dict {
			dict[i] = DictEntry{Key: items[2*i], Value: items[2*i+1]}
		}
		return dict, nil
	case kCopyable:
		if n%2 != 0 {
			return nil, protoErr("copyable has an attribute without a value")
		}
		c := Copyable{Class: f.class, State: make([]KV, n/2)}
		for i := range c.State {
			c.State[i] = KV{Key: items[2*i].(string), Value: items[2*i+1]}
		}
		return c, nil
	case kReference:
		if n != 1 {
			return nil, protoErr("reference takes one INT")
		}
		return d.resolve(items[0].(int64)), nil
	case kMyRef:
		if n == 0 {
			return nil, protoErr("my-reference ended too early")
		}
		r := MyReference{CLID: items[0].(int64)}
		if n > 1 {
			r.Interface = items[1].(string)
		}
		if n > 2 {
			r.FURL = items[2].(string)
		}
		return r, nil
	case kYourRef:
		if n != 1 {
			return nil, protoErr("your-reference ended too early")
		}
		return YourReference{CLID: items[0].(int64)}, nil
	case kTheirRef:
		if n != 2 {
			return nil, protoErr("their-reference ended too early")
		}
		return TheirReference{GiftID: items[0].(int64), FURL: items[1].(string)}, nil
	case kArguments:
		if n == 0 {
			return nil, protoErr("arguments ended too early")
		}
		npos := int(items[0].(int64))
		if n-1 < npos || (n-1-npos)%2 != 0 {
			return nil, protoErr("arguments ended too early")
		}
		a := &arguments{args: cloneItems(items[1 : 1+npos])}
		kw := items[1+npos:]
		if len(kw) > 0 {
			a.kwargs = make([]KV, len(kw)/2)
			for i := range a.kwargs {
				a.kwargs[i] = KV{Key: kw[2*i].(string), Value: kw[2*i+1]}
			}
		}
		return a, nil
	case kCall:
		if n != 4 {
			return nil, protoErr("call ended too early")
		}
		a := items[3].(*arguments)
		return &Call{
			ReqID:  items[0].(int64),
			Target: items[1].(int64),
			Method: items[2].(string),
			Args:   a.args,
			Kwargs: a.kwargs,
		}, nil
	case kAnswer:
		if n != 2 {
			return nil, protoErr("answer takes a request ID and one value")
		}
		return &Answer{ReqID: items[0].(int64), Value: items[1]}, nil
	case kError:
		if n != 2 {
			return nil, protoErr("error takes a request ID and one Failure")
		}
		c, ok := items[1].(Copyable)
		if !ok || c.Class != FailureClass {
			return nil, &violation{reason: "error body is not a Failure"}
		}
		fail, ok := failureFromCopyable(&c)
		if !ok {
			return nil, &violation{reason: "malformed Failure"}
		}
		return &ErrorMsg{ReqID: items[0].(int64), Failure: fail}, nil
	}
	return nil, fatalf("internal: cannot finish frame kind %d", f.kind)
}

func cloneItems(items []any) []any {
	out := make([]any, len(items))
	copy(out, items)
	return out
}

// resolve looks up a back-reference: the value the sender numbered n, the
// same Go value and not a copy, so shared objects stay shared. A sequence
// still open (a cycle) yields a Reference placeholder; an unknown number
// yields None, as in Foolscap.
func (d *Decoder) resolve(n int64) any {
	i := n - d.msgBase
	if i < 0 || i >= int64(len(d.refs)) {
		return nil
	}
	if v := d.refs[i]; v != nil {
		return v
	}
	for j := range d.stack {
		if d.stack[j].objNum == n {
			switch d.stack[j].kind {
			case kList, kTuple, kDict, kSet, kCopyable:
				return Reference(n)
			}
		}
	}
	return nil
}

// isKeyPosition reports whether the next child of f is an attribute or
// keyword name, which must be a STRING.
func isKeyPosition(f *frame) bool {
	n := len(f.items)
	switch f.kind {
	case kCopyable:
		return n%2 == 0
	case kArguments:
		if n == 0 {
			return false
		}
		npos := int(f.items[0].(int64))
		return n-1 >= npos && (n-1-npos)%2 == 0
	}
	return false
}

// wantsText reports whether a STRING arriving now is text (a name, a URL,
// unicode contents) rather than a bytes value.
func wantsText(f *frame) bool {
	n := len(f.items)
	switch f.kind {
	case kUnicode:
		return true
	case kCall:
		return n == 2
	case kMyRef:
		return n >= 1
	case kTheirRef:
		return n == 1
	}
	return isKeyPosition(f)
}

// valueToken handles INT, NEG, LONGINT, LONGNEG, FLOAT, STRING and VOCAB.
func (d *Decoder) valueToken(typ byte, hdr uint64, overflow bool, hdrBytes, body []byte) error {
	if d.dropping {
		return nil
	}
	if len(d.stack) == 0 {
		return protoErr("top-level must be OPEN")
	}
	top := &d.stack[len(d.stack)-1]
	if top.kind == kOpening || top.kind == kCopyableName {
		var name []byte
		switch typ {
		case tokString:
			name = body
		case tokVocab:
			if overflow || hdr >= uint64(len(d.vocab)) {
				return fatalf("unknown VOCAB index %d", hdr)
			}
			name = d.vocabBytes[hdr]
		default:
			return fatalf("index token 0x%02x not STRING or VOCAB", typ)
		}
		return d.setOpentype(top, name)
	}

	var v any
	switch typ {
	case tokInt, tokNeg:
		if overflow || hdr > math.MaxInt64 {
			b := bigFromHeader(hdrBytes)
			if typ == tokNeg {
				b.Neg(b)
			}
			if b.IsInt64() {
				v = b.Int64()
			} else {
				v = b
			}
		} else if typ == tokNeg {
			v = -int64(hdr)
		} else {
			v = int64(hdr)
		}
	case tokLongInt, tokLongNeg:
		v = decodeLong(body, typ == tokLongNeg)
	case tokFloat:
		v = math.Float64frombits(binary.BigEndian.Uint64(body))
	case tokString:
		if wantsText(top) {
			v = string(body)
		} else {
			v = bytes.Clone(body)
		}
	case tokVocab:
		if overflow || hdr >= uint64(len(d.vocab)) {
			return fatalf("unknown VOCAB index %d", hdr)
		}
		if wantsText(top) {
			v = d.vocab[hdr]
		} else {
			v = []byte(d.vocab[hdr])
		}
	}
	return d.deliver(v)
}

func decodeLong(mag []byte, neg bool) any {
	i := 0
	for i < len(mag) && mag[i] == 0 {
		i++
	}
	mag = mag[i:]
	if len(mag) <= 8 {
		var u uint64
		for _, b := range mag {
			u = u<<8 | uint64(b)
		}
		if !neg && u <= math.MaxInt64 {
			return int64(u)
		}
		if neg && u <= 1<<63 {
			return -int64(u-1) - 1 // safe for math.MinInt64
		}
	}
	b := new(big.Int).SetBytes(mag)
	if neg {
		b.Neg(b)
	}
	return b
}

// setOpentype turns an opening frame into the kind its index token names.
// name is only read: lookups by string(name) do not copy it.
func (d *Decoder) setOpentype(f *frame, name []byte) error {
	if f.kind == kCopyableName {
		f.kind, f.class = kCopyable, string(name)
		return nil
	}
	if len(d.stack) == 1 {
		switch string(name) {
		case "call":
			f.kind = kCall
		case "answer":
			f.kind = kAnswer
		case "error":
			f.kind = kError
		default:
			// Foolscap drops unknown top-level sequences without comment.
			d.startDrop("unknown top-level OPEN type "+string(name), true)
		}
		return nil
	}
	parent := &d.stack[len(d.stack)-2]
	if string(name) == "arguments" && parent.kind == kCall {
		f.kind = kArguments
		return nil
	}
	kind, ok := valueOpentypes[string(name)]
	if !ok {
		return &violation{reason: fmt.Sprintf("unknown OPEN type %q", name)}
	}
	f.kind = kind
	return nil
}

func isInt(v any) bool {
	_, ok := v.(int64)
	return ok
}

func isNonNegInt(v any) bool {
	n, ok := v.(int64)
	return ok && n >= 0
}

func isText(v any) bool {
	_, ok := v.(string)
	return ok
}

// deliver hands a finished child value to the innermost open sequence,
// checking it fits the slot it lands in.
func (d *Decoder) deliver(v any) error {
	f := &d.stack[len(d.stack)-1]
	n := len(f.items)
	bad := ""
	switch f.kind {
	case kNone:
		bad = "none takes no contents"
	case kBoolean:
		if n > 0 {
			bad = "boolean takes one INT"
		} else if _, isBig := v.(*big.Int); !isInt(v) && !isBig {
			bad = "boolean takes one INT"
		}
	case kUnicode:
		if n > 0 || !isText(v) {
			bad = "unicode takes one STRING"
		}
	case kReference:
		if n > 0 || !isInt(v) {
			bad = "reference takes one INT"
		}
	case kMyRef:
		switch {
		case n == 0 && !isInt(v):
			bad = "my-reference ID must be an INT or NEG"
		case n > 2:
			bad = "too many my-reference parameters"
		case n > 0 && !isText(v):
			bad = "my-reference parameters must be STRINGs"
		}
	case kYourRef:
		if n > 0 || !isNonNegInt(v) {
			bad = "your-reference takes one INT"
		}
	case kTheirRef:
		switch {
		case n == 0 && !isNonNegInt(v):
			bad = "their-reference giftID must be an INT"
		case n == 1 && !isText(v):
			bad = "their-reference URL must be a STRING"
		case n > 1:
			bad = "too many their-reference parameters"
		}
	case kCall:
		switch n {
		case 0:
			if !isNonNegInt(v) {
				bad = "call request ID must be an INT"
			}
		case 1:
			if !isInt(v) {
				bad = "call target must be an INT or NEG"
			}
		case 2:
			if !isText(v) {
				bad = "call method name must be a STRING"
			}
		case 3:
			if _, ok := v.(*arguments); !ok {
				bad = "call needs an arguments sequence"
			}
		default:
			bad = "call has too many parts"
		}
	case kArguments:
		if n == 0 {
			if !isNonNegInt(v) {
				bad = "argument count must be an INT"
			}
		} else if isKeyPosition(f) && !isText(v) {
			bad = "keyword argument names must be STRINGs"
		}
	case kAnswer, kError:
		switch {
		case n == 0 && !isNonNegInt(v):
			bad = kindNames[f.kind] + " request ID must be an INT"
		case n > 1:
			bad = kindNames[f.kind] + " takes one value"
		}
	case kCopyable:
		if isKeyPosition(f) && !isText(v) {
			bad = "copyable attribute names must be STRINGs"
		}
	}
	if bad != "" {
		return protoErr(bad)
	}
	f.items = appendDoubling(f.items, v)
	return nil
}

// appendDoubling appends, doubling a full slice's capacity: Go's own growth
// (1.25× for large slices) would allocate five times the final size on the
// way, which the cost model (valueCost) does not allow for.
func appendDoubling[E any](s []E, v E) []E {
	if len(s) == cap(s) {
		grown := make([]E, len(s), max(2*cap(s), 4))
		copy(grown, s)
		s = grown
	}
	return append(s, v)
}
