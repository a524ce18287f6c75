package flog

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// The JSON Foolscap writes is Python's json module's: bare NaN, Infinity
// and -Infinity, integers of any size, \u escapes for everything beyond
// ASCII. encoding/json refuses the first two, so lines are parsed here,
// straight into the value types of this package.

// maxJSONDepth bounds nesting, so a hostile line cannot exhaust the stack.
const maxJSONDepth = 512

type jsonParser struct {
	b     []byte
	i     int
	depth int
	// Scratch stacks for the members of the objects and arrays being
	// parsed: each is copied out once, at its exact size, when it closes.
	fields []Field
	items  []any
	intern *interner
}

// parseJSON parses one complete JSON value; objects become Dict, arrays
// List, and Foolscap's {"@": …} placeholders Placeholder.
func parseJSON(b []byte) (any, error) {
	var p jsonParser
	return p.parse(b)
}

// parse parses one line, reusing the parser's scratch space.
func (p *jsonParser) parse(b []byte) (any, error) {
	p.b, p.i, p.depth = b, 0, 0
	p.fields, p.items = p.fields[:0], p.items[:0]
	p.skipSpace()
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.i != len(p.b) {
		return nil, p.errorf("unexpected %s after the value", p.what())
	}
	return v, nil
}

func (p *jsonParser) errorf(format string, args ...any) error {
	return fmt.Errorf("column %d: %s", p.i+1, fmt.Sprintf(format, args...))
}

func (p *jsonParser) what() string {
	if p.i >= len(p.b) {
		return "end of line"
	}
	return strconv.QuoteRune(rune(p.b[p.i]))
}

func (p *jsonParser) skipSpace() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\r', '\n':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) value() (any, error) {
	if p.i >= len(p.b) {
		return nil, p.errorf("unexpected end of line")
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		return p.str()
	case c == '-' || '0' <= c && c <= '9':
		return p.number()
	case c == 'N':
		return p.literal("NaN", math.NaN())
	case c == 'I':
		return p.literal("Infinity", math.Inf(1))
	case c == 't':
		return p.literal("true", true)
	case c == 'f':
		return p.literal("false", false)
	case c == 'n':
		return p.literal("null", nil)
	}
	return nil, p.errorf("unexpected %s", p.what())
}

func (p *jsonParser) literal(word string, v any) (any, error) {
	if len(p.b)-p.i >= len(word) && string(p.b[p.i:p.i+len(word)]) == word {
		p.i += len(word)
		return v, nil
	}
	return nil, p.errorf("unexpected %s", p.what())
}

func (p *jsonParser) enter() error {
	p.depth++
	if p.depth > maxJSONDepth {
		return p.errorf("nested more than %d deep", maxJSONDepth)
	}
	return nil
}

// open enters the object or list at p.i, whose closing byte is end; empty
// reports that it closed at once.
func (p *jsonParser) open(end byte) (empty bool, err error) {
	if err := p.enter(); err != nil {
		return false, err
	}
	p.i++
	p.skipSpace()
	if p.i < len(p.b) && p.b[p.i] == end {
		p.i++
		p.depth--
		return true, nil
	}
	return false, nil
}

// separator moves past what follows a member of the container closing with
// end: a comma, or end itself (closed is then true).
func (p *jsonParser) separator(end byte) (closed bool, err error) {
	p.skipSpace()
	if p.i >= len(p.b) {
		if end == '}' {
			return false, p.errorf("unexpected end of line in an object")
		}
		return false, p.errorf("unexpected end of line in a list")
	}
	switch p.b[p.i] {
	case ',':
		p.i++
		return false, nil
	case end:
		p.i++
		p.depth--
		return true, nil
	}
	return false, p.errorf("expected ',' or '%c', found %s", end, p.what())
}

// keyAhead checks that a key starts at p.i, after any space.
func (p *jsonParser) keyAhead() error {
	p.skipSpace()
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return p.errorf("expected a key, found %s", p.what())
	}
	return nil
}

// colon moves past the ':' after a key and the space around it.
func (p *jsonParser) colon() error {
	p.skipSpace()
	if p.i >= len(p.b) || p.b[p.i] != ':' {
		return p.errorf("expected ':', found %s", p.what())
	}
	p.i++
	p.skipSpace()
	return nil
}

func (p *jsonParser) object() (any, error) {
	mark := len(p.fields)
	if empty, err := p.open('}'); empty || err != nil {
		return Dict{}, err
	}
	for {
		if err := p.keyAhead(); err != nil {
			return nil, err
		}
		k, err := p.key()
		if err != nil {
			return nil, err
		}
		if err := p.colon(); err != nil {
			return nil, err
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		p.fields = append(p.fields, Field{k, v})
		if closed, err := p.separator('}'); err != nil {
			return nil, err
		} else if closed {
			d := make(Dict, len(p.fields)-mark)
			copy(d, p.fields[mark:])
			clear(p.fields[mark:])
			p.fields = p.fields[:mark]
			if kind, ok := placeholderKind(d); ok {
				return Placeholder{Kind: kind, Fields: d}, nil
			}
			return d, nil
		}
	}
}

func (p *jsonParser) array() (any, error) {
	mark := len(p.items)
	if empty, err := p.open(']'); empty || err != nil {
		return List{}, err
	}
	for {
		p.skipSpace()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		p.items = append(p.items, v)
		if closed, err := p.separator(']'); err != nil {
			return nil, err
		} else if closed {
			l := make(List, len(p.items)-mark)
			copy(l, p.items[mark:])
			clear(p.items[mark:])
			p.items = p.items[:mark]
			return l, nil
		}
	}
}

// key parses an object key, sharing the strings of the keys every event
// has instead of allocating them on every line.
func (p *jsonParser) key() (string, error) {
	start := p.i + 1
	for j := start; j < len(p.b); j++ {
		switch c := p.b[j]; {
		case c == '\\' || c < ' ':
			return p.str()
		case c == '"':
			raw := p.b[start:j]
			p.i = j + 1
			if k, ok := commonKey(raw); ok {
				return k, nil
			}
			return p.text(raw), nil
		}
	}
	return "", p.errorf("unterminated string")
}

func commonKey(raw []byte) (string, bool) {
	// A switch on string(raw) compiles to comparisons without allocating.
	switch string(raw) {
	case "from":
		return "from", true
	case "rx_time":
		return "rx_time", true
	case "d":
		return "d", true
	case KeyNum:
		return KeyNum, true
	case KeyLevel:
		return KeyLevel, true
	case KeyTime:
		return KeyTime, true
	case KeyIncarnation:
		return KeyIncarnation, true
	case KeyMessage:
		return KeyMessage, true
	case KeyFormat:
		return KeyFormat, true
	case KeyFacility:
		return KeyFacility, true
	case KeyParent:
		return KeyParent, true
	case KeyUmid:
		return KeyUmid, true
	case KeyArgs:
		return KeyArgs, true
	case KeyTubID:
		return KeyTubID, true
	case "local":
		return "local", true
	case "foolscap.negotiation":
		return "foolscap.negotiation", true
	}
	return "", false
}

func (p *jsonParser) str() (string, error) {
	p.i++ // "
	start := p.i
	// Fast path: no escapes.
	for j := start; j < len(p.b); j++ {
		c := p.b[j]
		if c == '"' {
			p.i = j + 1
			raw := p.b[start:j]
			if k, ok := commonKey(raw); ok {
				return k, nil
			}
			return p.text(raw), nil
		}
		if c == '\\' || c < ' ' {
			break
		}
	}
	// The escaped text is never shorter than what it decodes to.
	quote := start - 1
	p.i = quote
	if err := p.skipString(); err != nil {
		return "", err
	}
	out := make([]byte, 0, p.i-quote)
	p.i = start
	for p.i < len(p.b) {
		// Copy the run up to the next quote or escape at once.
		run := p.i
		for run < len(p.b) && p.b[run] != '"' && p.b[run] != '\\' && p.b[run] >= ' ' {
			run++
		}
		out = append(out, p.b[p.i:run]...)
		p.i = run
		if p.i >= len(p.b) {
			break
		}
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			if !utf8.Valid(out) {
				out = toValidUTF8(out)
			}
			return string(out), nil
		case c == '\\':
			if p.i+1 >= len(p.b) {
				return "", p.errorf("unterminated escape")
			}
			p.i++
			switch e := p.b[p.i]; e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, err := p.hex4(p.i + 1)
				if err != nil {
					return "", err
				}
				p.i += 4
				if utf16.IsSurrogate(r) {
					// A pair when a low surrogate follows; a lone one
					// (Python writes those too) becomes U+FFFD.
					if p.i+6 < len(p.b) && p.b[p.i+1] == '\\' && p.b[p.i+2] == 'u' {
						if r2, err := p.hex4(p.i + 3); err == nil {
							if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
								r = dec
								p.i += 6
							}
						}
					}
					if utf16.IsSurrogate(r) {
						r = utf8.RuneError
					}
				}
				out = utf8.AppendRune(out, r)
			default:
				return "", p.errorf("bad escape \\%c", e)
			}
			p.i++
		default:
			out = append(out, c)
			p.i++
		}
	}
	return "", p.errorf("unterminated string")
}

// text makes a string of raw, valid UTF-8, sharing repeated short
// strings (messages, incarnations, facilities recur on every line).
func (p *jsonParser) text(raw []byte) string {
	if !utf8.Valid(raw) {
		return string(toValidUTF8(raw))
	}
	if p.intern != nil {
		return p.intern.get(raw)
	}
	return string(raw)
}

// interner shares the strings of recurring values. It is bounded: once
// full it is emptied and starts over, so a stream of unique values costs
// a copy each, as without it.
type interner struct {
	m map[string]string
}

const (
	internMaxLen     = 56
	internMaxEntries = 8192
)

func (in *interner) get(raw []byte) string {
	if len(raw) > internMaxLen {
		return string(raw)
	}
	if s, ok := in.m[string(raw)]; ok {
		return s
	}
	if in.m == nil || len(in.m) >= internMaxEntries {
		in.m = make(map[string]string, 1024)
	}
	s := string(raw)
	in.m[s] = s
	return s
}

func (p *jsonParser) hex4(at int) (rune, error) {
	if at+4 > len(p.b) {
		return 0, p.errorf("short \\u escape")
	}
	var r rune
	for _, c := range p.b[at : at+4] {
		r <<= 4
		switch {
		case '0' <= c && c <= '9':
			r |= rune(c - '0')
		case 'a' <= c && c <= 'f':
			r |= rune(c - 'a' + 10)
		case 'A' <= c && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, p.errorf("bad \\u escape")
		}
	}
	return r, nil
}

// maxIntDigits bounds an integer literal: Python itself refuses to read
// more than 4300 digits.
const maxIntDigits = 4300

func (p *jsonParser) number() (any, error) {
	start := p.i
	if p.b[p.i] == '-' && p.i+1 < len(p.b) && p.b[p.i+1] == 'I' {
		p.i++
		if _, err := p.literal("Infinity", nil); err != nil {
			return nil, err
		}
		return math.Inf(-1), nil
	}
	isFloat, err := p.scanNumber()
	if err != nil {
		return nil, err
	}
	lit := p.b[start:p.i]
	if isFloat {
		f, err := strconv.ParseFloat(string(lit), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return nil, p.errorf("bad number %q", lit)
		}
		return f, nil
	}
	if n, ok := parseSmallInt(lit); ok {
		return n, nil
	}
	n, ok := new(big.Int).SetString(string(lit), 10)
	if !ok {
		return nil, p.errorf("bad number %q", lit)
	}
	if n.IsInt64() {
		return n.Int64(), nil
	}
	return n, nil
}

// parseSmallInt parses up to 18 digits without allocating.
func parseSmallInt(lit []byte) (int64, bool) {
	neg := lit[0] == '-'
	if neg {
		lit = lit[1:]
	}
	if len(lit) == 0 || len(lit) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range lit {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// toValidUTF8 replaces invalid bytes with U+FFFD.
func toValidUTF8(b []byte) []byte {
	out := make([]byte, 0, len(b)+8)
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			out = append(out, b[:size]...)
		}
		b = b[size:]
	}
	return out
}

// skipValue checks the JSON value at p.i and moves past it without
// building anything: a lazy event is validated in full when read, and
// decoded only where asked.
func (p *jsonParser) skipValue() error {
	if p.i >= len(p.b) {
		return p.errorf("unexpected end of line")
	}
	switch c := p.b[p.i]; {
	case c == '{':
		if empty, err := p.open('}'); empty || err != nil {
			return err
		}
		for {
			if err := p.keyAhead(); err != nil {
				return err
			}
			if err := p.skipString(); err != nil {
				return err
			}
			if err := p.colon(); err != nil {
				return err
			}
			if err := p.skipValue(); err != nil {
				return err
			}
			if closed, err := p.separator('}'); closed || err != nil {
				return err
			}
		}
	case c == '[':
		if empty, err := p.open(']'); empty || err != nil {
			return err
		}
		for {
			p.skipSpace()
			if err := p.skipValue(); err != nil {
				return err
			}
			if closed, err := p.separator(']'); closed || err != nil {
				return err
			}
		}
	case c == '"':
		return p.skipString()
	case c == '-' || '0' <= c && c <= '9':
		return p.skipNumber()
	}
	_, err := p.value()
	return err
}

// skipNumber checks a number's grammar (Python's: JSON's, plus
// -Infinity) without converting it.
func (p *jsonParser) skipNumber() error {
	if p.b[p.i] == '-' && p.i+1 < len(p.b) && p.b[p.i+1] == 'I' {
		p.i++
		_, err := p.literal("Infinity", nil)
		return err
	}
	_, err := p.scanNumber()
	return err
}

// scanNumber moves past a JSON number: an optional minus, an integer part
// without leading zeros, then an optional fraction and exponent.
func (p *jsonParser) scanNumber() (isFloat bool, err error) {
	b := p.b
	if b[p.i] == '-' {
		p.i++
	}
	first := p.i
	digits := p.skipDigits()
	if digits == 0 {
		return false, p.errorf("bad number")
	}
	if digits > 1 && b[first] == '0' {
		return false, p.errorf("bad number: a leading zero")
	}
	if p.i < len(b) && b[p.i] == '.' {
		p.i++
		isFloat = true
		if p.skipDigits() == 0 {
			return false, p.errorf("bad number: no digits after the point")
		}
	}
	if p.i < len(b) && (b[p.i] == 'e' || b[p.i] == 'E') {
		p.i++
		isFloat = true
		if p.i < len(b) && (b[p.i] == '+' || b[p.i] == '-') {
			p.i++
		}
		if p.skipDigits() == 0 {
			return false, p.errorf("bad number: no digits in the exponent")
		}
	}
	if !isFloat && digits > maxIntDigits {
		return false, p.errorf("integer of %d digits", digits)
	}
	return isFloat, nil
}

func (p *jsonParser) skipDigits() int {
	start := p.i
	for p.i < len(p.b) && '0' <= p.b[p.i] && p.b[p.i] <= '9' {
		p.i++
	}
	return p.i - start
}

// skipString checks a string literal and moves past it.
func (p *jsonParser) skipString() error {
	p.i++ // "
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case '"':
			p.i++
			return nil
		case '\\':
			if p.i+1 >= len(p.b) {
				return p.errorf("unterminated escape")
			}
			switch e := p.b[p.i+1]; e {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.i += 2
			case 'u':
				if _, err := p.hex4(p.i + 2); err != nil {
					return err
				}
				p.i += 6
			default:
				return p.errorf("bad escape \\%c", e)
			}
		default:
			if p.b[p.i] < ' ' {
				// Python's reader refuses these unescaped, as JSON does.
				return p.errorf("control character %#x in a string", p.b[p.i])
			}
			p.i++
		}
	}
	return p.errorf("unterminated string")
}

// valueAt parses the value in b[start:end], which members has checked.
func (p *jsonParser) valueAt(b []byte, start, end int) (any, error) {
	saveB, saveI, saveDepth := p.b, p.i, p.depth
	p.b, p.i, p.depth = b[:end], start, 0
	v, err := p.value()
	p.b, p.i, p.depth = saveB, saveI, saveDepth
	return v, err
}

// openObject enters the object at p.i; nextKey then walks its members.
func (p *jsonParser) openObject() error {
	if p.i >= len(p.b) || p.b[p.i] != '{' {
		return p.errorf("expected an object, found %s", p.what())
	}
	if err := p.enter(); err != nil {
		return err
	}
	p.i++
	return nil
}

// nextKey moves to the next member of the object openObject entered and
// returns its key's raw bytes (unescaped if it had escapes), with p.i at
// its value, which the caller must consume. more is false once the
// object has closed. Keys are not turned into strings.
func (p *jsonParser) nextKey(first bool) (key []byte, more bool, err error) {
	if first {
		p.skipSpace()
		if p.i < len(p.b) && p.b[p.i] == '}' {
			p.i++
			p.depth--
			return nil, false, nil
		}
	} else if closed, err := p.separator('}'); closed || err != nil {
		return nil, false, err
	}
	if err := p.keyAhead(); err != nil {
		return nil, false, err
	}
	kstart := p.i + 1
	if err := p.skipString(); err != nil {
		return nil, false, err
	}
	key = p.b[kstart : p.i-1]
	if bytes.IndexByte(key, '\\') >= 0 {
		save := p.i
		p.i = kstart - 1
		k, err := p.str()
		if err != nil {
			return nil, false, err
		}
		key, p.i = []byte(k), save
	}
	if err := p.colon(); err != nil {
		return nil, false, err
	}
	if p.i >= len(p.b) {
		return nil, false, p.errorf("unexpected end of line")
	}
	return key, true, nil
}
