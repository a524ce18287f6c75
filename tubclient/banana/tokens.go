// Package banana implements Foolscap's Banana token codec and the small
// PB value and message layer carried on it (call, answer, error). It does
// no I/O: encoders append to byte slices and the Decoder is fed bytes.
package banana

import (
	"crypto/sha1"
	"encoding/hex"
	"strings"
)

// Token type bytes. A token is a base-128 header (0–64 bytes, each <0x80)
// followed by one of these.
const (
	tokList    byte = 0x80 // pre-Banana-3 list; receiving it is fatal
	tokInt     byte = 0x81
	tokString  byte = 0x82
	tokNeg     byte = 0x83
	tokFloat   byte = 0x84
	tokLongInt byte = 0x85
	tokLongNeg byte = 0x86
	tokVocab   byte = 0x87
	tokOpen    byte = 0x88
	tokClose   byte = 0x89
	tokAbort   byte = 0x8A
	tokError   byte = 0x8D
	tokPing    byte = 0x8E
	tokPong    byte = 0x8F
)

const (
	maxHeaderLen = 64
	// SizeLimit caps ERROR bodies (a longer one is fatal) and LONGINT/LONGNEG
	// magnitudes, as Foolscap does. Foolscap's default constraint refuses a
	// longer LONGINT with a Violation, so it drops that message only.
	SizeLimit = 1000
)

// ProtocolError is a fatal Banana violation. The connection layer should
// send Msg to the peer with EncodeError and then close.
type ProtocolError struct {
	Msg string
}

func (e *ProtocolError) Error() string { return "banana: " + e.Msg }

func protoErr(msg string) error { return &ProtocolError{Msg: msg} }

// LateNegotiationError reports a negotiation block that arrived where the
// Banana stream should have started: Foolscap keeps parsing buffered input
// after rejecting a decision, so a second error block can follow the first.
type LateNegotiationError struct {
	Message string // value of the block's "error" line; "" if it had none
	Block   string // the block as received, without the blank-line terminator
}

func (e *LateNegotiationError) Error() string {
	if e.Message == "" {
		return "banana: negotiation block instead of Banana: " + strings.ReplaceAll(e.Block, "\r\n", "; ")
	}
	return "banana: peer negotiation error: " + e.Message
}

// appendHeader writes n as little-endian base-128, with 0 as a single 0x00.
func appendHeader(dst []byte, n uint64) []byte {
	if n == 0 {
		return append(dst, 0)
	}
	for n != 0 {
		dst = append(dst, byte(n&0x7f))
		n >>= 7
	}
	return dst
}

func appendToken(dst []byte, n uint64, typ byte) []byte {
	return append(appendHeader(dst, n), typ)
}

// AppendPing appends a PING. Number 0 has no header, like Foolscap's keepalive.
func AppendPing(dst []byte, n uint64) []byte { return appendPingPong(dst, n, tokPing) }

// AppendPong appends the PONG answering a PING with number n.
func AppendPong(dst []byte, n uint64) []byte { return appendPingPong(dst, n, tokPong) }

func appendPingPong(dst []byte, n uint64, typ byte) []byte {
	for n != 0 {
		dst = append(dst, byte(n&0x7f))
		n >>= 7
	}
	return append(dst, typ)
}

// EncodeError appends an ERROR token carrying msg. The peer refuses bodies
// over SizeLimit, so longer messages are cut with a "..." marker.
func EncodeError(dst []byte, msg string) []byte {
	if len(msg) > SizeLimit {
		msg = msg[:SizeLimit-10] + "..."
	}
	dst = appendToken(dst, uint64(len(msg)), tokError)
	return append(dst, msg...)
}

// vocabTable1 is Foolscap's initial vocabulary table 1; index = VOCAB number.
var vocabTable1 = []string{
	"none", "boolean", "reference", "dict", "list", "tuple", "set",
	"immutable-set", "unicode", "set-vocab", "add-vocab", "call",
	"arguments", "answer", "error", "my-reference", "your-reference",
	"their-reference", "copyable", "instance", "module", "class", "method",
	"function", "attrdict",
}

func vocabTable(index int) ([]string, bool) {
	switch index {
	case 0:
		return nil, true
	case 1:
		return vocabTable1, true
	}
	return nil, false
}

// VocabHash returns the 4-hex-digit digest that names initial vocab table
// index in a decision ("da39" for 0, "bb33" for 1).
func VocabHash(index int) (string, bool) {
	words, ok := vocabTable(index)
	if !ok {
		return "", false
	}
	sum := sha1.Sum([]byte(strings.Join(words, "\x00")))
	return hex.EncodeToString(sum[:])[:4], true
}
