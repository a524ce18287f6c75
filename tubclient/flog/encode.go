package flog

import (
	"math"
	"math/big"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// appendJSON writes v as Python's json.dumps does with Foolscap's encoder:
// ", " and ": " separators, ASCII only, bare NaN and Infinity, tuples as
// lists, and placeholders for what JSON cannot hold (bytes and sets get
// the UnJSONable placeholder with their repr, as Foolscap writes them).
func appendJSON(b []byte, v any, depth int) []byte {
	if depth > maxJSONDepth {
		return appendJSONString(b, "...")
	}
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		if x {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case *big.Int:
		return x.Append(b, 10)
	case float64:
		switch {
		case math.IsNaN(x):
			return append(b, "NaN"...)
		case math.IsInf(x, 1):
			return append(b, "Infinity"...)
		case math.IsInf(x, -1):
			return append(b, "-Infinity"...)
		}
		return append(b, pyFloat(x)...)
	case string:
		return appendJSONString(b, x)
	case Bytes:
		return appendJSON(b, unjsonable(pyRepr(x, false)), depth)
	case Set:
		return appendJSON(b, unjsonable(pyRepr(x, false)), depth)
	case List:
		return appendJSONList(b, x, depth)
	case Tuple:
		return appendJSONList(b, x, depth)
	case Dict:
		return appendJSONDict(b, x, depth)
	case Placeholder:
		return appendJSONDict(b, x.Fields, depth)
	}
	return appendJSON(b, unjsonable("<?>"), depth)
}

func appendJSONList(b []byte, l []any, depth int) []byte {
	b = append(b, '[')
	for i, it := range l {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendJSON(b, it, depth+1)
	}
	return append(b, ']')
}

func appendJSONDict(b []byte, d Dict, depth int) []byte {
	b = append(b, '{')
	for i, f := range d {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendJSONString(b, f.Key)
		b = append(b, ": "...)
		b = appendJSON(b, f.Value, depth+1)
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendJSONString escapes as Python's json does with ensure_ascii.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"':
				b = append(b, `\"`...)
			case c == '\\':
				b = append(b, `\\`...)
			case c == '\n':
				b = append(b, `\n`...)
			case c == '\r':
				b = append(b, `\r`...)
			case c == '\t':
				b = append(b, `\t`...)
			case c == '\b':
				b = append(b, `\b`...)
			case c == '\f':
				b = append(b, `\f`...)
			case c < 0x20 || c == 0x7f:
				b = appendU(b, rune(c))
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r > 0xffff {
			r1, r2 := utf16.EncodeRune(r)
			b = appendU(appendU(b, r1), r2)
		} else {
			b = appendU(b, r)
		}
	}
	return append(b, '"')
}

func appendU(b []byte, r rune) []byte {
	return append(b, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}
