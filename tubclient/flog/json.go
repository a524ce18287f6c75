package flog

import (
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
}

// parseJSON parses one complete JSON value; objects become Dict, arrays
// List, and Foolscap's {"@": …} placeholders Placeholder.
func parseJSON(b []byte) (any, error) {
	p := jsonParser{b: b}
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

func (p *jsonParser) object() (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	p.i++ // {
	d := make(Dict, 0, 8)
	p.skipSpace()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		p.depth--
		return d, nil
	}
	for {
		p.skipSpace()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return nil, p.errorf("expected a key, found %s", p.what())
		}
		k, err := p.key()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return nil, p.errorf("expected ':', found %s", p.what())
		}
		p.i++
		p.skipSpace()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		d = append(d, Field{k, v})
		p.skipSpace()
		if p.i >= len(p.b) {
			return nil, p.errorf("unexpected end of line in an object")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			p.depth--
			if kind, ok := placeholderKind(d); ok {
				return Placeholder{Kind: kind, Fields: d}, nil
			}
			return d, nil
		default:
			return nil, p.errorf("expected ',' or '}', found %s", p.what())
		}
	}
}

func (p *jsonParser) array() (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	p.i++ // [
	l := List{}
	p.skipSpace()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		p.depth--
		return l, nil
	}
	for {
		p.skipSpace()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		l = append(l, v)
		p.skipSpace()
		if p.i >= len(p.b) {
			return nil, p.errorf("unexpected end of line in a list")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			p.depth--
			return l, nil
		default:
			return nil, p.errorf("expected ',' or ']', found %s", p.what())
		}
	}
}

// key parses an object key, sharing the strings of the keys every event
// has instead of allocating them on every line.
func (p *jsonParser) key() (string, error) {
	start := p.i + 1
	for j := start; j < len(p.b); j++ {
		switch p.b[j] {
		case '\\':
			return p.str()
		case '"':
			raw := p.b[start:j]
			p.i = j + 1
			if k, ok := commonKey(raw); ok {
				return k, nil
			}
			if !utf8.Valid(raw) {
				return string(toValidUTF8(raw)), nil
			}
			return string(raw), nil
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
			if !utf8.Valid(raw) {
				return string(toValidUTF8(raw)), nil
			}
			return string(raw), nil
		}
		if c == '\\' {
			break
		}
	}
	out := make([]byte, 0, 64)
	for p.i < len(p.b) {
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
	if p.b[p.i] == '-' {
		p.i++
		if p.i < len(p.b) && p.b[p.i] == 'I' {
			if _, err := p.literal("Infinity", nil); err != nil {
				return nil, err
			}
			return math.Inf(-1), nil
		}
	}
	isFloat := false
	for p.i < len(p.b) {
		c := p.b[p.i]
		if '0' <= c && c <= '9' {
			p.i++
			continue
		}
		if c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-' {
			isFloat = true
			p.i++
			continue
		}
		break
	}
	lit := p.b[start:p.i]
	if len(lit) == 0 || (len(lit) == 1 && lit[0] == '-') {
		return nil, p.errorf("bad number")
	}
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
	if len(lit) > maxIntDigits+1 {
		return nil, p.errorf("integer of %d digits", len(lit))
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
